import type { JsonValue } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type {
  CrossDomainTransactionRolledBack,
  CrossDomainTransactionStarted,
  StepAdded,
  TaskCompleted,
  WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { valueToJson } from './rules.js';
import { SortedMap } from '@cim/kernel';
import {
  NO_STEPS,
  isFinished,
  mapOf,
  timerDurationMs,
  type PresentWorkflow,
  type StepState,
  type StepStatusName,
  type TransactionState,
  type WorkflowState,
  type WorkflowStatusName,
} from './state.js';

/**
 * Folds one event into the state. Total and non-throwing: an event that does
 * not fit the state (which `decide` never produces, e.g. a dependency on a
 * missing step) or comes from a newer schema leaves the state unchanged, so
 * "every dependency names an existing step, and the reverse edges match"
 * holds whatever the stream.
 */
export function evolve(
  state: WorkflowState,
  { body }: WorkflowEvent,
): WorkflowState {
  if (body.case === 'created') {
    if (state.status !== 'absent') return state;
    const { workflowId, name, description, createdBy, metadata } = body.value;
    const { templateName, templateVersion, templateParameters } = body.value;
    return {
      status: 'draft',
      workflowId,
      name,
      description,
      createdBy,
      steps: SortedMap.empty(),
      context: SortedMap.empty(),
      metadata: mapOf(metadata),
      counts: NO_STEPS,
      transactions: SortedMap.empty(),
      template:
        templateName === ''
          ? undefined
          : {
              name: templateName,
              version: templateVersion,
              parameters: templateParameters ?? {},
            },
    };
  }
  if (state.status === 'absent') return state;
  switch (body.case) {
    case 'stepAdded':
      return stepAdded(state, body.value);
    case 'stepRemoved':
      return stepRemoved(state, body.value.stepId);
    case 'stepDependencyAdded':
      return linked(state, body.value.stepId, body.value.dependsOn, true);
    case 'stepDependencyRemoved':
      return linked(state, body.value.stepId, body.value.dependsOn, false);
    case 'stepConfigurationAdded': {
      const { stepId, key, value } = body.value;
      return changeStep(state, stepId, (step) => ({
        config: step.config.set(key, jsonOf(valueToJson(value))),
      }));
    }
    case 'stepConfigurationRemoved': {
      const { stepId, key } = body.value;
      return changeStep(state, stepId, (step) => ({
        config: step.config.delete(key),
      }));
    }
    case 'started': {
      let context = state.context;
      for (const [key, value] of Object.entries(body.value.context ?? {})) {
        context = context.set(key, value);
      }
      return { ...state, status: 'running', context };
    }
    case 'stepExecutionStarted': {
      const { stepId, startedAt } = body.value;
      return changeStep(state, stepId, ({ timer }) => ({
        status: 'running',
        ...(timer !== undefined &&
          startedAt !== undefined && {
            dueAtMs: timestampMs(startedAt) + timerDurationMs(timer),
          }),
      }));
    }
    case 'stepTimerElapsed': {
      const { stepId, firedAt } = body.value;
      // decide always sets fired_at; 0 still counts an event without one as fired.
      return changeStep(state, stepId, () => ({
        timerFiredAtMs: firedAt === undefined ? 0 : timestampMs(firedAt),
      }));
    }
    case 'taskStarted':
      return changeStep(state, body.value.stepId, () => ({
        status: 'in_progress',
      }));
    case 'stepExecutionCompleted': {
      const { stepId, output } = body.value;
      return changeStep(state, stepId, () => ({
        status: 'completed',
        output,
        awaiting: undefined,
      }));
    }
    case 'stepExecutionFailed': {
      const { stepId, error, retryCount } = body.value;
      return changeStep(state, stepId, () => ({
        retryCount,
        error,
        awaiting: undefined,
      }));
    }
    case 'stepFailed': {
      const { stepId, error, retryCount } = body.value;
      return changeStep(state, stepId, () => ({
        status: 'failed',
        retryCount,
        error,
        awaiting: undefined,
      }));
    }
    case 'stepSkipped':
      return changeStep(state, body.value.stepId, () => ({
        status: 'skipped',
        awaiting: undefined,
      }));
    case 'taskAssigned':
      return changeStep(state, body.value.stepId, () => ({
        assignedTo: body.value.assignee,
      }));
    case 'taskReassigned':
      return changeStep(state, body.value.stepId, () => ({
        assignedTo: body.value.to,
      }));
    case 'taskCompleted':
      return taskCompleted(state, body.value);
    case 'stepApprovalRequested':
      return changeStep(state, body.value.stepId, () => ({
        status: 'waiting_approval',
        approver: body.value.approver,
      }));
    case 'stepApprovalGranted':
      return changeStep(state, body.value.stepId, () => ({
        status: 'completed',
        completedBy: body.value.approver,
      }));
    case 'stepApprovalRejected':
      return changeStep(state, body.value.stepId, () => ({
        status: 'failed',
        error: body.value.reason,
      }));
    case 'paused':
      return moved(state, 'running', 'paused');
    case 'resumed':
      return moved(state, 'paused', 'running');
    case 'cancelled':
      return cancelled(state);
    case 'failed':
      return { ...state, status: 'failed' };
    case 'completed':
      return { ...state, status: 'completed' };
    case 'contextVariableSet':
      return {
        ...state,
        context: state.context.set(
          body.value.key,
          jsonOf(valueToJson(body.value.value)),
        ),
      };
    case 'contextVariableRemoved':
      return { ...state, context: state.context.delete(body.value.key) };
    case 'metadataAdded':
      return {
        ...state,
        metadata: state.metadata.set(
          body.value.key,
          jsonOf(valueToJson(body.value.value)),
        ),
      };
    case 'metadataRemoved':
      return { ...state, metadata: state.metadata.delete(body.value.key) };
    case 'crossDomainOperationRequested': {
      const { stepId, targetDomain, operation, correlationId } = body.value;
      return changeStep(state, stepId, () => ({
        awaiting: correlationId,
        targetDomain,
        operation,
      }));
    }
    case 'crossDomainTransactionStarted':
      return transactionStarted(state, body.value);
    case 'crossDomainTransactionPrepared': {
      const { transactionId, participant, details } = body.value;
      return changeTransaction(state, transactionId, (transaction) => ({
        participants: transaction.participants.map((p) =>
          p.domain === participant ? { ...p, vote: 'prepared', details } : p,
        ),
      }));
    }
    case 'crossDomainTransactionCommitted':
      return changeTransaction(state, body.value.transactionId, () => ({
        status: 'committed',
      }));
    case 'crossDomainTransactionRolledBack':
      return transactionRolledBack(state, body.value);
    case undefined:
      return state; // written by a newer schema: folding never fails
  }
}

function transactionStarted(
  state: PresentWorkflow,
  {
    stepId,
    transactionId,
    correlationId,
    participants,
  }: CrossDomainTransactionStarted,
): WorkflowState {
  if (!state.steps.has(stepId) || state.transactions.has(transactionId))
    return state;
  const next = changeStep(state, stepId, () => ({ awaiting: correlationId }));
  if (next.status === 'absent') return next;
  return {
    ...next,
    transactions: next.transactions.set(transactionId, {
      stepId,
      correlationId,
      status: 'open',
      participants: participants.map(({ domain, operation, parameters }) => ({
        domain,
        operation,
        parameters,
        vote: 'pending',
        details: undefined,
        reason: '',
      })),
      reason: '',
      refusedBy: '',
    }),
  };
}

function transactionRolledBack(
  state: PresentWorkflow,
  { transactionId, reason, refusedBy }: CrossDomainTransactionRolledBack,
): WorkflowState {
  const transaction = state.transactions.get(transactionId);
  if (transaction === undefined) return state;
  const next = changeTransaction(state, transactionId, (t) => ({
    status: 'rolled_back',
    reason,
    refusedBy,
    participants: t.participants.map((p) =>
      p.domain === refusedBy ? { ...p, vote: 'refused', reason } : p,
    ),
  }));
  // The step stops awaiting; a failure event in the same commit, if any, says what becomes of it.
  return next.status === 'absent'
    ? next
    : changeStep(next, transaction.stepId, (step) =>
        step.awaiting === transaction.correlationId
          ? { awaiting: undefined }
          : {},
      );
}

function changeTransaction(
  state: PresentWorkflow,
  transactionId: string,
  change: (transaction: TransactionState) => Partial<TransactionState>,
): WorkflowState {
  const transaction = state.transactions.get(transactionId);
  if (transaction === undefined) return state;
  return {
    ...state,
    transactions: state.transactions.set(transactionId, {
      ...transaction,
      ...change(transaction),
    }),
  };
}

/** decide never stores a Value that has no JSON form; a stream that does folds it as null. */
const jsonOf = (value: JsonValue | undefined): JsonValue => value ?? null;

const bump = (
  counts: PresentWorkflow['counts'],
  status: StepStatusName,
  delta: number,
): PresentWorkflow['counts'] => ({
  ...counts,
  [status]: counts[status] + delta,
});

/** The workflow with one step replaced (or added, or removed when `next` is undefined), counts kept in step. */
function putStep(
  state: PresentWorkflow,
  stepId: string,
  next: StepState | undefined,
): PresentWorkflow {
  const previous = state.steps.get(stepId);
  let counts = state.counts;
  if (previous !== undefined) counts = bump(counts, previous.status, -1);
  if (next !== undefined) counts = bump(counts, next.status, 1);
  return {
    ...state,
    counts,
    steps:
      next === undefined
        ? state.steps.delete(stepId)
        : state.steps.set(stepId, next),
  };
}

function changeStep(
  state: PresentWorkflow,
  stepId: string,
  change: (step: StepState) => Partial<StepState>,
): WorkflowState {
  const step = state.steps.get(stepId);
  if (step === undefined) return state;
  return putStep(state, stepId, { ...step, ...change(step) });
}

function moved(
  state: PresentWorkflow,
  from: WorkflowStatusName,
  to: WorkflowStatusName,
): WorkflowState {
  return state.status === from ? { ...state, status: to } : state;
}

function stepAdded(state: PresentWorkflow, added: StepAdded): WorkflowState {
  const { stepId } = added;
  if (state.steps.has(stepId)) return state;
  const dependencies = added.dependencies.filter(
    (id) => id !== stepId && state.steps.has(id),
  );
  let next = putStep(state, stepId, {
    name: added.name,
    description: added.description,
    stepType: added.stepType,
    customType: added.customType,
    status: 'pending',
    config: mapOf(added.config),
    dependencies: SortedMap.of(dependencies.map((id) => [id, true])),
    dependents: SortedMap.empty(),
    estimatedMinutes: added.estimatedDurationMinutes,
    assignedTo: added.assignedTo,
    retryCount: 0,
    maxRetries: added.maxRetries,
    awaiting: undefined,
    targetDomain: '',
    operation: '',
    approver: undefined,
    output: undefined,
    formData: undefined,
    completedBy: undefined,
    error: undefined,
    join:
      added.join === undefined
        ? undefined
        : {
            mode: added.join.mode,
            count: added.join.count,
            inputs: [...added.join.inputs],
          },
    timer:
      added.timer === undefined
        ? undefined
        : {
            kind: added.timer.kind,
            minutes: added.timer.minutes,
            seconds: added.timer.seconds,
          },
    dueAtMs: undefined,
    timerFiredAtMs: undefined,
  });
  for (const id of dependencies) {
    const dependency = next.steps.get(id);
    if (dependency !== undefined) {
      next = putStep(next, id, {
        ...dependency,
        dependents: dependency.dependents.set(stepId, true),
      });
    }
  }
  return next;
}

function stepRemoved(state: PresentWorkflow, stepId: string): WorkflowState {
  const step = state.steps.get(stepId);
  if (step === undefined) return state;
  let next = state;
  for (const id of step.dependencies.keys()) {
    next = unlink(next, stepId, id);
  }
  // decide removes only steps nothing depends on; this keeps edges from
  // dangling on any stream.
  for (const id of step.dependents.keys()) {
    next = unlink(next, id, stepId);
  }
  return putStep(next, stepId, undefined);
}

function unlink(
  state: PresentWorkflow,
  stepId: string,
  dependsOn: string,
): PresentWorkflow {
  const step = state.steps.get(stepId);
  const dependency = state.steps.get(dependsOn);
  let next = state;
  if (step !== undefined) {
    next = putStep(next, stepId, {
      ...step,
      dependencies: step.dependencies.delete(dependsOn),
    });
  }
  if (dependency !== undefined) {
    next = putStep(next, dependsOn, {
      ...dependency,
      dependents: dependency.dependents.delete(stepId),
    });
  }
  return next;
}

function linked(
  state: PresentWorkflow,
  stepId: string,
  dependsOn: string,
  add: boolean,
): WorkflowState {
  const step = state.steps.get(stepId);
  const dependency = state.steps.get(dependsOn);
  if (step === undefined || dependency === undefined || stepId === dependsOn)
    return state;
  if (!add) return unlink(state, stepId, dependsOn);
  const next = putStep(state, stepId, {
    ...step,
    dependencies: step.dependencies.set(dependsOn, true),
  });
  return putStep(next, dependsOn, {
    ...dependency,
    dependents: dependency.dependents.set(stepId, true),
  });
}

function taskCompleted(
  state: PresentWorkflow,
  { stepId, completedBy, formData }: TaskCompleted,
): WorkflowState {
  const step = state.steps.get(stepId);
  if (step === undefined) return state;
  let context = state.context;
  for (const [key, value] of Object.entries(formData ?? {})) {
    context = context.set(`step_${stepId}_${key}`, value);
  }
  return {
    ...putStep(state, stepId, {
      ...step,
      status: 'completed',
      completedBy,
      formData,
    }),
    context,
  };
}

function cancelled(state: PresentWorkflow): WorkflowState {
  let next: PresentWorkflow = { ...state, status: 'cancelled' };
  // Once per workflow: O(n log n) over its steps.
  for (const [id, step] of state.steps) {
    if (!isFinished(step.status)) {
      next = putStep(next, id, {
        ...step,
        status: 'cancelled',
        awaiting: undefined,
      });
    }
  }
  return next;
}
