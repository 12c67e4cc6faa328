import type { SortedMap } from '@cim/kernel';
import { isDone, waitingReason, type StepState } from './domain/index.js';

/** The steps of one workflow by id, as the decider state and the read model keep them. */
export type Steps = SortedMap<StepState>;

/** Pending steps that may start (their dependencies, or their join policy, are met), in id order. */
export function executableSteps(steps: Steps): string[] {
  const ready: string[] = [];
  for (const [id, step] of steps) {
    if (step.status === 'pending' && waitingReason(steps, step) === undefined)
      ready.push(id);
  }
  return ready;
}

/** A chain of steps, each depending on the one before it. */
export interface Chain {
  readonly stepIds: readonly string[];
  readonly totalMinutes: number;
}

/**
 * The longest chain of dependent steps, each step weighing its estimate (0
 * without one): dynamic programming over a topological order, O(steps +
 * dependencies). Ties go to the chain with more steps, then to the smaller
 * step id at each choice. Steps on a cycle (which the decider never lets
 * form) are left out.
 */
export function criticalPath(steps: Steps): Chain {
  const waiting = new Map<string, number>();
  const queue: string[] = [];
  for (const [id, step] of steps) {
    waiting.set(id, step.dependencies.size);
    if (step.dependencies.size === 0) queue.push(id);
  }
  const best = new Map<
    string,
    { minutes: number; length: number; previous: string | undefined }
  >();
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const step = steps.get(id)!;
    let minutes = 0;
    let length = 0;
    let previous: string | undefined;
    for (const dependency of step.dependencies.keys()) {
      const before = best.get(dependency);
      if (before === undefined) continue;
      if (
        before.minutes > minutes ||
        (before.minutes === minutes && before.length > length)
      ) {
        minutes = before.minutes;
        length = before.length;
        previous = dependency;
      }
    }
    best.set(id, {
      minutes: minutes + (step.estimatedMinutes ?? 0),
      length: length + 1,
      previous,
    });
    for (const dependent of step.dependents.keys()) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0) queue.push(dependent);
    }
  }
  let end: string | undefined;
  let top = { minutes: -1, length: 0 };
  for (const id of steps.keys()) {
    const chain = best.get(id);
    if (chain === undefined) continue;
    if (
      chain.minutes > top.minutes ||
      (chain.minutes === top.minutes && chain.length > top.length)
    ) {
      top = chain;
      end = id;
    }
  }
  const stepIds: string[] = [];
  for (let id = end; id !== undefined; id = best.get(id)?.previous) {
    stepIds.push(id);
  }
  return {
    stepIds: stepIds.reverse(),
    totalMinutes: Math.max(top.minutes, 0),
  };
}

/**
 * For every step that is neither completed nor skipped, how many pending
 * steps wait for it directly or through others; steps nobody waits for are
 * left out. A search per such step: O(steps × (steps + dependencies)) at worst.
 */
export function blockedCounts(steps: Steps): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [id, step] of steps) {
    if (isDone(step.status) || step.dependents.size === 0) continue;
    const seen = new Set<string>([id]);
    const stack = [id];
    let blocked = 0;
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      for (const dependent of steps.get(next)?.dependents.keys() ?? []) {
        if (seen.has(dependent)) continue;
        seen.add(dependent);
        stack.push(dependent);
        if (steps.get(dependent)?.status === 'pending') blocked++;
      }
    }
    if (blocked > 0) counts.set(id, blocked);
  }
  return counts;
}
