import type { SortedMap } from '@cim/kernel';
import type { StepState } from './state.js';

/**
 * True when step `from` waits for step `to`, directly or through other
 * steps. Iterative depth-first search over dependencies, O(steps + edges)
 * reachable from `from`.
 */
export function dependsOn(
  steps: SortedMap<StepState>,
  from: string,
  to: string,
): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const step = steps.get(id);
    if (step === undefined) continue;
    for (const next of step.dependencies.keys()) {
      if (next === to) return true;
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return false;
}

/** True when making `stepId` wait for `dependency` would close a cycle. */
export function closesCycle(
  steps: SortedMap<StepState>,
  stepId: string,
  dependency: string,
): boolean {
  return stepId === dependency || dependsOn(steps, dependency, stepId);
}
