import type { WorkflowEvent } from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { CommitMeta } from '@cim/service';
import { SortedMap } from '@cim/kernel';
import {
  isTerminal,
  reviveWorkflowData,
  workflowDecider,
  type IdSet,
  type PresentWorkflow,
} from './domain/index.js';

/** When a step started and finished, by commit time (Unix ms). */
export interface StepTimes {
  readonly startedAtMs: number | undefined;
  readonly finishedAtMs: number | undefined;
}

/**
 * The read model of one workflow: the decider's own state (folded with the
 * same `evolve`, so the two never disagree) plus what only commit metadata
 * knows — version and times — and an index of tasks by assignee. Every
 * collection is a persistent sorted map: an event builds a new row in
 * O(log n) and earlier rows stay valid for queries still reading them.
 */
export interface WorkflowRow {
  readonly workflow: PresentWorkflow;
  /** Aggregate version after the last event folded in. */
  readonly version: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly startedAtMs: number | undefined;
  /** When the workflow completed, failed or was cancelled. */
  readonly finishedAtMs: number | undefined;
  readonly times: SortedMap<StepTimes>;
  /** Assignee → ids of the human steps assigned to them. */
  readonly assignments: SortedMap<IdSet>;
  /** Running timer steps whose timer has not fired → when it is due (Unix ms), for the timer schedule. */
  readonly timers: SortedMap<number>;
}

const NO_TIMES: StepTimes = { startedAtMs: undefined, finishedAtMs: undefined };

/**
 * Folds one event into the workflow's row: undefined until WorkflowCreated,
 * never dropped afterwards. Events that do not fit, or come from a newer
 * schema, change only the row's version and time.
 */
export function project(
  row: WorkflowRow | undefined,
  event: WorkflowEvent,
  meta: CommitMeta,
): WorkflowRow | undefined {
  const { body } = event;
  if (body.case === 'created') {
    if (row !== undefined) return stamp(row, meta);
    const workflow = workflowDecider.evolve(
      workflowDecider.initialState(),
      event,
    );
    if (workflow.status === 'absent') return undefined;
    return {
      workflow,
      version: meta.version,
      createdAtMs: meta.occurredAtMs,
      updatedAtMs: meta.occurredAtMs,
      startedAtMs: undefined,
      finishedAtMs: undefined,
      times: SortedMap.empty(),
      assignments: SortedMap.empty(),
      timers: SortedMap.empty(),
    };
  }
  if (row === undefined) return undefined;
  const before = row.workflow;
  const after = workflowDecider.evolve(before, event);
  if (after.status === 'absent') return stamp(row, meta);
  let next: WorkflowRow = { ...row, workflow: after };
  const at = meta.occurredAtMs;
  switch (body.case) {
    case 'stepAdded':
    case 'taskAssigned':
    case 'taskReassigned':
      next = reassigned(next, before, body.value.stepId);
      break;
    case 'stepRemoved':
      next = reassigned(next, before, body.value.stepId);
      next = { ...next, times: next.times.delete(body.value.stepId) };
      break;
    case 'started':
      next = { ...next, startedAtMs: at };
      break;
    case 'stepExecutionStarted':
    case 'taskStarted':
      next = timed(next, body.value.stepId, { startedAtMs: at });
      break;
    case 'stepExecutionCompleted':
    case 'stepFailed':
    case 'stepSkipped':
    case 'taskCompleted':
    case 'stepApprovalGranted':
    case 'stepApprovalRejected':
      next = timed(next, body.value.stepId, { finishedAtMs: at });
      break;
    case 'cancelled':
      next = { ...next, finishedAtMs: at };
      // Once per workflow: stamps every step the cancellation stopped.
      for (const [id, step] of after.steps) {
        if (
          step.status === 'cancelled' &&
          before.steps.get(id)?.status !== 'cancelled'
        ) {
          next = timed(next, id, { finishedAtMs: at });
        }
      }
      break;
    case 'failed':
    case 'completed':
      next = { ...next, finishedAtMs: at };
      break;
    default:
      break;
  }
  if (isTerminal(after.status)) {
    if (next.timers.size > 0) next = { ...next, timers: SortedMap.empty() };
  } else if (body.case !== undefined && 'stepId' in body.value) {
    next = armed(next, body.value.stepId);
  }
  return stamp(next, meta);
}

/** Keeps `timers` in step with one step: listed while it is a running timer step whose timer has not fired. */
function armed(row: WorkflowRow, stepId: string): WorkflowRow {
  const step = row.workflow.steps.get(stepId);
  const due =
    step?.status === 'running' && step.timerFiredAtMs === undefined
      ? step.dueAtMs
      : undefined;
  if (row.timers.get(stepId) === due) return row;
  return {
    ...row,
    timers:
      due === undefined
        ? row.timers.delete(stepId)
        : row.timers.set(stepId, due),
  };
}

function stamp(row: WorkflowRow, meta: CommitMeta): WorkflowRow {
  return { ...row, version: meta.version, updatedAtMs: meta.occurredAtMs };
}

function timed(
  row: WorkflowRow,
  stepId: string,
  change: Partial<StepTimes>,
): WorkflowRow {
  if (!row.workflow.steps.has(stepId)) return row;
  const times = row.times.get(stepId) ?? NO_TIMES;
  return { ...row, times: row.times.set(stepId, { ...times, ...change }) };
}

/** Moves a step between assignees in the index when an event changed who it is assigned to. */
function reassigned(
  row: WorkflowRow,
  before: PresentWorkflow,
  stepId: string,
): WorkflowRow {
  const from = before.steps.get(stepId)?.assignedTo;
  const to = row.workflow.steps.get(stepId)?.assignedTo;
  if (from === to) return row;
  let assignments = row.assignments;
  if (from !== undefined) {
    const remaining = (assignments.get(from) ?? SortedMap.empty()).delete(
      stepId,
    );
    assignments =
      remaining.size === 0
        ? assignments.delete(from)
        : assignments.set(from, remaining);
  }
  if (to !== undefined) {
    assignments = assignments.set(
      to,
      (assignments.get(to) ?? SortedMap.empty<true>()).set(stepId, true),
    );
  }
  return { ...row, assignments };
}

/**
 * Restores a row from its structured clone (the runtime's node:v8 snapshots
 * keep plain data but not the SortedMap class); pass it to defineService as
 * `revive.row`. O(n) in steps and keys.
 */
export function reviveWorkflowRow(cloned: unknown): WorkflowRow {
  const row = cloned as WorkflowRow;
  return {
    ...row,
    workflow: reviveWorkflowData(row.workflow),
    times: SortedMap.revive<StepTimes>(row.times),
    assignments: SortedMap.revive<IdSet>(row.assignments, (steps) =>
      SortedMap.revive<true>(steps),
    ),
    timers: SortedMap.revive<number>(row.timers),
  };
}
