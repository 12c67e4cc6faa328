import { show, type SortedMap } from '@cim/kernel';
import { JoinMode } from '@cim/proto/cim/workflow/v1/workflow_pb';
import { isDone, type StepState } from './state.js';

/**
 * What keeps a pending step from starting, or undefined when nothing does.
 * A step waits for all its dependencies to be completed or skipped; a join
 * step for as many of them as its policy asks (any one, `count`, or the
 * listed inputs). O(dependencies).
 */
export function waitingReason(
  steps: SortedMap<StepState>,
  step: StepState,
): string | undefined {
  const done = (id: string) => isDone(steps.get(id)?.status ?? 'pending');
  const inputs = [...step.dependencies.keys()];
  const join = step.join;
  if (join?.mode === JoinMode.WAIT_ANY) {
    return inputs.length === 0 || inputs.some(done)
      ? undefined
      : `waits for any of ${list(inputs)} to complete or be skipped`;
  }
  if (join?.mode === JoinMode.WAIT_COUNT) {
    const finished = inputs.filter(done).length;
    return finished >= join.count
      ? undefined
      : `waits for ${join.count} of ${list(inputs)} to complete or be skipped (${finished} so far)`;
  }
  // WAIT_SPECIFIC waits for its listed inputs, every other step for all.
  const required = join?.mode === JoinMode.WAIT_SPECIFIC ? join.inputs : inputs;
  const waiting = required.filter((id) => !done(id));
  return waiting.length === 0
    ? undefined
    : `waits for ${list(waiting)} to complete or be skipped`;
}

const list = (ids: readonly string[]): string => ids.map(show).join(', ');
