import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  FireStepTimerSchema,
  type WorkflowCommand,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { Schedule } from '@cim/service';
import type { WorkflowRow } from './projection.js';
import type { TimerIndex } from './timer-index.js';

/**
 * FireStepTimer for every running timer step of a running workflow whose
 * timer is due at `nowMs` and has not fired, earliest first. The key is
 * workflow, step and due time, so every instance fires a timer under one
 * command id. Only the timers `index` holds as due are visited, whatever the
 * number of workflows.
 */
export function dueTimers(
  index: TimerIndex,
): Schedule<WorkflowCommand, WorkflowRow>['due'] {
  return function* (rows, nowMs) {
    for (const [workflowId, stepId, dueAtMs] of index.due(rows, nowMs)) {
      const row = rows.get(workflowId);
      if (row?.workflow.status !== 'running') continue;
      yield {
        key: `${workflowId}/${stepId}/${dueAtMs}`,
        body: {
          case: 'fireStepTimer',
          value: create(FireStepTimerSchema, {
            workflowId,
            stepId,
            dueAt: timestampFromMs(dueAtMs),
            firedAt: timestampFromMs(nowMs),
          }),
        },
      };
    }
  };
}

/** How often the workflow service looks for due timers, ms: a timer fires within about this much of its due time. */
export const TIMER_TICK_MS = 1000;

/** The workflow service's timer schedule over the projection's `index` of armed timers, looking every `everyMs`. */
export const timerSchedule = (
  index: TimerIndex,
  everyMs = TIMER_TICK_MS,
): Schedule<WorkflowCommand, WorkflowRow> => ({
  name: 'timers',
  everyMs,
  due: dueTimers(index),
});
