import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  FireStepTimerSchema,
  type WorkflowCommand,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { DueCommand, Rows, Schedule } from '@cim/service';
import type { WorkflowRow } from './projection.js';

/**
 * FireStepTimer for every running timer step of a running workflow whose
 * timer is due at `nowMs` and has not fired. The key is workflow, step and
 * due time, so every instance fires a timer under one command id. Walks the
 * workflows (O(1) each without armed timers), then only their armed timers.
 */
export function* dueTimers(
  rows: Rows<WorkflowRow>,
  nowMs: number,
): Generator<DueCommand<WorkflowCommand>> {
  for (const [workflowId, row] of rows.entries()) {
    if (row.timers.size === 0 || row.workflow.status !== 'running') continue;
    for (const [stepId, dueAtMs] of row.timers) {
      if (dueAtMs > nowMs) continue;
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
  }
}

/** How often the workflow service looks for due timers, ms: a timer fires within about this much of its due time. */
export const TIMER_TICK_MS = 1000;

/** The workflow service's timer schedule (see `dueTimers`), looking every `everyMs`. */
export const timerSchedule = (
  everyMs = TIMER_TICK_MS,
): Schedule<WorkflowCommand, WorkflowRow> => ({
  name: 'timers',
  everyMs,
  due: dueTimers,
});
