import {
  create,
  toJson,
  type JsonObject,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  TimestampSchema,
  timestampFromMs,
  timestampMs,
  type Timestamp,
} from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  requireId,
  requireText,
  show,
  notFound,
} from '@cim/kernel';
import {
  JoinMode,
  ParticipantVote,
  StepType,
  TimerKind,
  WorkflowEventSchema,
  type AddStep,
  type AddStepConfiguration,
  type AddStepDependency,
  type CommitCrossDomainTransaction,
  type CompleteStepExecution,
  type CompleteTask,
  type CreateWorkflow,
  type FailStepExecution,
  type FireStepTimer,
  type GrantStepApproval,
  type RejectStepApproval,
  type RemoveStep,
  type RemoveStepConfiguration,
  type RemoveStepDependency,
  type RecordTransactionVote,
  type RequestCrossDomainOperation,
  type RequestStepApproval,
  type RollBackCrossDomainTransaction,
  type StartCrossDomainTransaction,
  type WorkflowCommand,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  operationCorrelationId,
  parseTransactionCorrelationId,
  transactionCorrelationId,
} from './correlation.js';
import { closesCycle } from './dag.js';
import { waitingReason } from './join.js';
import {
  LIMITS,
  requireDomainName,
  requireKey,
  requireStepType,
  requireValue,
  validateStruct,
} from './rules.js';
import { expandTemplate } from './template.js';
import type { SortedMap } from '@cim/kernel';
import {
  canRequestOperations,
  isActive,
  isFinished,
  isHuman,
  isTerminal,
  type PresentWorkflow,
  type StepState,
  type TransactionState,
  type WorkflowState,
  type WorkflowStatusName,
} from './state.js';

type EventBody = NonNullable<
  MessageInitShape<typeof WorkflowEventSchema>['body']
>;

const event = (body: EventBody): WorkflowEvent =>
  create(WorkflowEventSchema, { body });

/**
 * Decides the events for a command, or throws DomainError. Checks run in a
 * fixed order: the command's own fields (VALIDATION_FAILED), then the
 * workflow's existence and status (NOT_FOUND, INVALID_TRANSITION), then the
 * step it names (NOT_FOUND), the step's type (BUSINESS_RULE_VIOLATION) and
 * status (INVALID_TRANSITION), then the remaining rules. Ids a command leaves
 * empty, and operation correlation ids, derive from its command id.
 */
export function decide(
  command: WorkflowCommand,
  state: WorkflowState,
): WorkflowEvent[] {
  const { body } = command;
  const commandId = command.meta?.commandId ?? '';
  switch (body.case) {
    case 'create':
      return [createWorkflow(body.value, state, command.meta?.actor ?? '')];
    case 'addStep':
      return [addStep(body.value, state, commandId)];
    case 'removeStep':
      return [removeStep(body.value, state)];
    case 'addStepDependency':
      return [addStepDependency(body.value, state)];
    case 'removeStepDependency':
      return [removeStepDependency(body.value, state)];
    case 'addStepConfiguration':
      return [addStepConfiguration(body.value, state)];
    case 'removeStepConfiguration':
      return [removeStepConfiguration(body.value, state)];
    case 'start': {
      const { workflowId, context } = body.value;
      requireId(workflowId, 'workflow_id');
      validateStruct(context, 'context', true);
      const workflow = inStatus(state, workflowId, ['draft'], 'starting');
      if (workflow.steps.size === 0) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          `workflow ${show(workflowId)} has no steps to run`,
        );
      }
      return [
        event({
          case: 'started',
          value: { workflowId, ...(context && { context }) },
        }),
      ];
    }
    case 'startStepExecution': {
      const { workflowId, stepId, startedAt } = body.value;
      requireIds(workflowId, stepId);
      const workflow = inStatus(
        state,
        workflowId,
        ['running'],
        'starting a step',
      );
      const step = stepOf(workflow, stepId);
      if (step.status !== 'pending') {
        throw new DomainError(
          ErrorCode.INVALID_TRANSITION,
          `step ${show(stepId)} is ${step.status}; only a pending step starts`,
        );
      }
      const waiting = waitingReason(workflow.steps, step);
      if (waiting !== undefined) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          `step ${show(stepId)} ${waiting}`,
        );
      }
      // The service stamps started_at; a timer runs from it.
      if (step.timer !== undefined && startedAt === undefined) {
        invalid('started_at is required to start a timer step');
      }
      return [
        isHuman(step.stepType)
          ? event({
              case: 'taskStarted',
              value: {
                workflowId,
                stepId,
                ...(step.assignedTo !== undefined && {
                  assignee: step.assignedTo,
                }),
              },
            })
          : event({
              case: 'stepExecutionStarted',
              value: {
                workflowId,
                stepId,
                ...(step.timer !== undefined && { startedAt }),
              },
            }),
      ];
    }
    case 'completeStepExecution':
      return [completeStepExecution(body.value, state)];
    case 'failStepExecution':
      return [failStepExecution(body.value, state)];
    case 'skipStep': {
      const { workflowId, stepId, reason } = body.value;
      requireIds(workflowId, stepId);
      limitText(reason, 'reason', LIMITS.text);
      const step = stepOf(notTerminal(state, workflowId), stepId);
      if (isFinished(step.status)) {
        throw new DomainError(
          ErrorCode.INVALID_TRANSITION,
          `step ${show(stepId)} is already ${step.status}`,
        );
      }
      notInTransaction(step, stepId);
      return [
        event({ case: 'stepSkipped', value: { workflowId, stepId, reason } }),
      ];
    }
    case 'assignTask': {
      const { workflowId, stepId, assignee } = body.value;
      requireIds(workflowId, stepId);
      requireText(assignee, 'assignee', LIMITS.actor);
      const step = openTask(notTerminal(state, workflowId), stepId);
      if (step.assignedTo !== undefined) {
        throw new DomainError(
          ErrorCode.INVALID_TRANSITION,
          `step ${show(stepId)} is already assigned to ${show(step.assignedTo)}; reassign it instead`,
        );
      }
      return [
        event({
          case: 'taskAssigned',
          value: { workflowId, stepId, assignee },
        }),
      ];
    }
    case 'reassignTask': {
      const { workflowId, stepId, from, to } = body.value;
      requireIds(workflowId, stepId);
      requireText(from, 'from', LIMITS.actor);
      requireText(to, 'to', LIMITS.actor);
      if (from === to) invalid('from and to must differ');
      const step = openTask(notTerminal(state, workflowId), stepId);
      if (step.assignedTo !== from) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          step.assignedTo === undefined
            ? `step ${show(stepId)} is not assigned; assign it instead`
            : `step ${show(stepId)} is assigned to ${show(step.assignedTo)}, not ${show(from)}`,
        );
      }
      return [
        event({
          case: 'taskReassigned',
          value: { workflowId, stepId, from, to },
        }),
      ];
    }
    case 'completeTask':
      return [completeTask(body.value, state)];
    case 'requestStepApproval':
      return [requestStepApproval(body.value, state)];
    case 'grantStepApproval':
      return [grantStepApproval(body.value, state)];
    case 'rejectStepApproval':
      return [rejectStepApproval(body.value, state)];
    case 'pause': {
      const { workflowId, reason } = body.value;
      requireId(workflowId, 'workflow_id');
      limitText(reason, 'reason', LIMITS.text);
      inStatus(state, workflowId, ['running'], 'pausing');
      return [event({ case: 'paused', value: { workflowId, reason } })];
    }
    case 'resume': {
      const { workflowId } = body.value;
      requireId(workflowId, 'workflow_id');
      inStatus(state, workflowId, ['paused'], 'resuming');
      return [event({ case: 'resumed', value: { workflowId } })];
    }
    case 'cancel': {
      const { workflowId, reason } = body.value;
      requireId(workflowId, 'workflow_id');
      limitText(reason, 'reason', LIMITS.text);
      const workflow = inStatus(
        state,
        workflowId,
        ['draft', 'running', 'paused'],
        'cancelling',
      );
      return [
        ...rollBackOpen(workflow, 'the workflow was cancelled'),
        event({ case: 'cancelled', value: { workflowId, reason } }),
      ];
    }
    case 'fail': {
      const { workflowId, error } = body.value;
      requireId(workflowId, 'workflow_id');
      requireText(error, 'error', LIMITS.text);
      const workflow = inStatus(
        state,
        workflowId,
        ['running', 'paused'],
        'failing',
      );
      return [
        ...rollBackOpen(workflow, 'the workflow failed'),
        event({ case: 'failed', value: { workflowId, error } }),
      ];
    }
    case 'complete': {
      const { workflowId } = body.value;
      requireId(workflowId, 'workflow_id');
      const workflow = inStatus(state, workflowId, ['running'], 'completing');
      const done = workflow.counts.completed + workflow.counts.skipped;
      if (done !== workflow.steps.size) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          `workflow ${show(workflowId)} has ${workflow.steps.size - done} step(s) neither completed nor skipped`,
        );
      }
      return [event({ case: 'completed', value: { workflowId } })];
    }
    case 'setContextVariable': {
      const { workflowId, key, value } = body.value;
      requireId(workflowId, 'workflow_id');
      requireKey(key);
      requireValue(value, 'value');
      notTerminal(state, workflowId);
      return [
        event({
          case: 'contextVariableSet',
          value: { workflowId, key, ...(value && { value }) },
        }),
      ];
    }
    case 'removeContextVariable': {
      const { workflowId, key } = body.value;
      requireId(workflowId, 'workflow_id');
      requireKey(key);
      requirePresent(
        notTerminal(state, workflowId).context,
        key,
        'context variable',
      );
      return [
        event({ case: 'contextVariableRemoved', value: { workflowId, key } }),
      ];
    }
    case 'addMetadata': {
      const { workflowId, key, value } = body.value;
      requireId(workflowId, 'workflow_id');
      requireKey(key);
      requireValue(value, 'value');
      notTerminal(state, workflowId);
      return [
        event({
          case: 'metadataAdded',
          value: { workflowId, key, ...(value && { value }) },
        }),
      ];
    }
    case 'removeMetadata': {
      const { workflowId, key } = body.value;
      requireId(workflowId, 'workflow_id');
      requireKey(key);
      requirePresent(
        notTerminal(state, workflowId).metadata,
        key,
        'metadata key',
      );
      return [event({ case: 'metadataRemoved', value: { workflowId, key } })];
    }
    case 'requestCrossDomainOperation':
      return [requestOperation(body.value, state, commandId)];
    case 'startCrossDomainTransaction':
      return [startTransaction(body.value, state, commandId)];
    case 'recordTransactionVote':
      return recordVote(body.value, state);
    case 'commitCrossDomainTransaction':
      return commitTransaction(body.value, state);
    case 'rollBackCrossDomainTransaction':
      return rollBackTransaction(body.value, state);
    case 'createFromTemplate': {
      const events = expandTemplate(body.value, command.meta?.actor ?? '');
      if (state.status !== 'absent') {
        throw new DomainError(
          ErrorCode.ALREADY_EXISTS,
          `workflow ${show(body.value.workflowId)} already exists`,
        );
      }
      return events;
    }
    case 'fireStepTimer':
      return fireStepTimer(body.value, state);
    case undefined:
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'command has no body');
  }
}

function requireIds(workflowId: string, stepId: string): void {
  requireId(workflowId, 'workflow_id');
  requireId(stepId, 'step_id');
}

function existing(state: WorkflowState, workflowId: string): PresentWorkflow {
  if (state.status === 'absent') {
    notFound(`workflow ${show(workflowId)} not found`);
  }
  return state;
}

function notTerminal(
  state: WorkflowState,
  workflowId: string,
): PresentWorkflow {
  const workflow = existing(state, workflowId);
  if (isTerminal(workflow.status)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `workflow ${show(workflowId)} is ${workflow.status} and accepts no changes`,
    );
  }
  return workflow;
}

function inStatus(
  state: WorkflowState,
  workflowId: string,
  allowed: readonly WorkflowStatusName[],
  action: string,
): PresentWorkflow {
  const workflow = existing(state, workflowId);
  if (!allowed.includes(workflow.status)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `workflow ${show(workflowId)} is ${workflow.status}; ${action} needs it ${allowed.join(' or ')}`,
    );
  }
  return workflow;
}

function stepOf(
  workflow: PresentWorkflow,
  stepId: string,
  role = 'step',
): StepState {
  const step = workflow.steps.get(stepId);
  if (step === undefined) {
    notFound(
      `${role} ${show(stepId)} not found in workflow ${show(workflow.workflowId)}`,
    );
  }
  return step;
}

function requireType(
  step: StepState,
  stepId: string,
  accepted: (type: StepType) => boolean,
  what: string,
): void {
  if (!accepted(step.stepType)) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} is a ${typeName(step)} step; ${what}`,
    );
  }
}

function typeName(step: StepState): string {
  return step.stepType === StepType.CUSTOM
    ? `custom:${step.customType}`
    : (StepType[step.stepType] ?? String(step.stepType)).toLowerCase();
}

/** A human step that has not finished, for AssignTask and ReassignTask. */
function openTask(workflow: PresentWorkflow, stepId: string): StepState {
  const step = stepOf(workflow, stepId);
  requireType(
    step,
    stepId,
    isHuman,
    'only manual and approval steps are tasks',
  );
  if (isFinished(step.status)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is already ${step.status}`,
    );
  }
  return step;
}

function requirePresent(
  map: SortedMap<unknown>,
  key: string,
  what: string,
): void {
  if (!map.has(key)) {
    notFound(`${what} ${show(key)} not found`);
  }
}

function idOrDerived(id: string, commandId: string, field: string): string {
  const chosen = id !== '' ? id : commandId;
  if (chosen === '') {
    invalid(`${field} is required when the command has no command id`);
  }
  requireId(chosen, field);
  return chosen;
}

/** Structure changes (steps and dependencies) wait until the workflow is a draft or paused. */
function editable(state: WorkflowState, workflowId: string): PresentWorkflow {
  return inStatus(state, workflowId, ['draft', 'paused'], 'changing its steps');
}

function createWorkflow(
  { workflowId, name, description, metadata }: CreateWorkflow,
  state: WorkflowState,
  actor: string,
): WorkflowEvent {
  requireId(workflowId, 'workflow_id');
  requireText(name, 'name', LIMITS.name);
  limitText(description, 'description', LIMITS.description);
  validateStruct(metadata, 'metadata', true);
  if (state.status !== 'absent') {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `workflow ${show(workflowId)} already exists`,
    );
  }
  return event({
    case: 'created',
    value: {
      workflowId,
      name,
      description,
      createdBy: actor,
      ...(metadata && { metadata }),
    },
  });
}

function addStep(
  command: AddStep,
  state: WorkflowState,
  commandId: string,
): WorkflowEvent {
  const { workflowId, name, description, stepType, customType, config } =
    command;
  const { dependencies, estimatedDurationMinutes, assignedTo, maxRetries } =
    command;
  requireId(workflowId, 'workflow_id');
  const stepId = idOrDerived(command.stepId, commandId, 'step_id');
  requireText(name, 'name', LIMITS.name);
  limitText(description, 'description', LIMITS.description);
  requireStepType(stepType, customType);
  validateStruct(config, 'config', true);
  const distinct = new Set<string>();
  dependencies.forEach((id, i) => {
    requireId(id, `dependencies[${i}]`);
    if (distinct.has(id)) invalid(`dependencies[${i}] repeats ${show(id)}`);
    distinct.add(id);
  });
  if (assignedTo !== undefined) {
    requireText(assignedTo, 'assigned_to', LIMITS.actor);
  }
  if (maxRetries > LIMITS.maxRetries) {
    invalid(
      `max_retries must be at most ${LIMITS.maxRetries}, got ${maxRetries}`,
    );
  }
  const workflow = editable(state, workflowId);
  if (workflow.steps.has(stepId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `step ${show(stepId)} already exists in workflow ${show(workflowId)}`,
    );
  }
  if (distinct.has(stepId)) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} cannot depend on itself: the steps must form no cycle`,
    );
  }
  for (const id of dependencies) stepOf(workflow, id, 'dependency');
  if (workflow.steps.size >= LIMITS.steps) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `workflow ${show(workflowId)} already has the most steps allowed (${LIMITS.steps})`,
    );
  }
  if (assignedTo !== undefined && !isHuman(stepType)) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      'only manual and approval steps can be assigned',
    );
  }
  return event({
    case: 'stepAdded',
    value: {
      workflowId,
      stepId,
      name,
      description,
      stepType,
      customType,
      dependencies: [...dependencies].sort(),
      maxRetries,
      ...(config && { config }),
      ...(estimatedDurationMinutes !== undefined && {
        estimatedDurationMinutes,
      }),
      ...(assignedTo !== undefined && { assignedTo }),
    },
  });
}

function removeStep(
  { workflowId, stepId, reason }: RemoveStep,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  limitText(reason, 'reason', LIMITS.text);
  const step = stepOf(editable(state, workflowId), stepId);
  if (step.status !== 'pending') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; only a pending step can be removed`,
    );
  }
  if (step.dependents.size > 0) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} cannot be removed: ${[...step.dependents.keys()].map(show).join(', ')} depend(s) on it`,
    );
  }
  return event({ case: 'stepRemoved', value: { workflowId, stepId, reason } });
}

function pendingStep(workflow: PresentWorkflow, stepId: string): StepState {
  const step = stepOf(workflow, stepId);
  if (step.status !== 'pending') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; only a pending step's dependencies change`,
    );
  }
  return step;
}

function addStepDependency(
  { workflowId, stepId, dependsOn }: AddStepDependency,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireId(dependsOn, 'depends_on');
  const workflow = editable(state, workflowId);
  const step = pendingStep(workflow, stepId);
  stepOf(workflow, dependsOn, 'dependency');
  if (step.dependencies.has(dependsOn)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `step ${show(stepId)} already depends on ${show(dependsOn)}`,
    );
  }
  if (closesCycle(workflow.steps, stepId, dependsOn)) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} depending on ${show(dependsOn)} would close a cycle`,
    );
  }
  return event({
    case: 'stepDependencyAdded',
    value: { workflowId, stepId, dependsOn },
  });
}

function removeStepDependency(
  { workflowId, stepId, dependsOn }: RemoveStepDependency,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireId(dependsOn, 'depends_on');
  const step = pendingStep(editable(state, workflowId), stepId);
  if (!step.dependencies.has(dependsOn)) {
    notFound(`step ${show(stepId)} does not depend on ${show(dependsOn)}`);
  }
  const { join } = step;
  if (
    join?.mode === JoinMode.WAIT_SPECIFIC &&
    join.inputs.includes(dependsOn)
  ) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `join step ${show(stepId)} waits for ${show(dependsOn)} by name; it stays an input`,
    );
  }
  if (
    join?.mode === JoinMode.WAIT_COUNT &&
    step.dependencies.size - 1 < join.count
  ) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `join step ${show(stepId)} waits for ${join.count} inputs and would keep only ${step.dependencies.size - 1}`,
    );
  }
  return event({
    case: 'stepDependencyRemoved',
    value: { workflowId, stepId, dependsOn },
  });
}

function unfinishedStep(workflow: PresentWorkflow, stepId: string): StepState {
  const step = stepOf(workflow, stepId);
  if (isFinished(step.status)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is already ${step.status}`,
    );
  }
  return step;
}

function addStepConfiguration(
  { workflowId, stepId, key, value }: AddStepConfiguration,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireKey(key);
  requireValue(value, 'value');
  unfinishedStep(notTerminal(state, workflowId), stepId);
  return event({
    case: 'stepConfigurationAdded',
    value: { workflowId, stepId, key, ...(value && { value }) },
  });
}

function removeStepConfiguration(
  { workflowId, stepId, key }: RemoveStepConfiguration,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireKey(key);
  const step = unfinishedStep(notTerminal(state, workflowId), stepId);
  requirePresent(step.config, key, `configuration key of step ${show(stepId)}`);
  return event({
    case: 'stepConfigurationRemoved',
    value: { workflowId, stepId, key },
  });
}

/** Outcomes of work already under way are recorded while the workflow runs or is paused. */
function recording(state: WorkflowState, workflowId: string): PresentWorkflow {
  return inStatus(
    state,
    workflowId,
    ['running', 'paused'],
    'recording a step outcome',
  );
}

function matchOperation(
  step: StepState,
  stepId: string,
  correlationId: string,
): void {
  if (correlationId === '' || step.awaiting === correlationId) return;
  throw new DomainError(
    ErrorCode.BUSINESS_RULE_VIOLATION,
    step.awaiting === undefined
      ? `step ${show(stepId)} awaits no operation; ${show(correlationId)} answers nothing`
      : `step ${show(stepId)} awaits operation ${show(step.awaiting)}, not ${show(correlationId)}`,
  );
}

function completeStepExecution(
  { workflowId, stepId, output, correlationId }: CompleteStepExecution,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  validateStruct(output, 'output', false);
  limitText(correlationId, 'correlation_id', LIMITS.correlationId);
  const step = stepOf(recording(state, workflowId), stepId);
  requireType(
    step,
    stepId,
    (type) => !isHuman(type),
    'manual steps complete with CompleteTask, approval steps with GrantStepApproval',
  );
  if (step.status !== 'running') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; only a running step completes`,
    );
  }
  notInTransaction(step, stepId);
  matchOperation(step, stepId, correlationId);
  return event({
    case: 'stepExecutionCompleted',
    value: { workflowId, stepId, correlationId, ...(output && { output }) },
  });
}

function failStepExecution(
  { workflowId, stepId, error, details, correlationId }: FailStepExecution,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireText(error, 'error', LIMITS.text);
  validateStruct(details, 'details', false);
  limitText(correlationId, 'correlation_id', LIMITS.correlationId);
  const step = stepOf(recording(state, workflowId), stepId);
  if (!isActive(step.status)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; only an active step fails`,
    );
  }
  notInTransaction(step, stepId);
  matchOperation(step, stepId, correlationId);
  return stepFailure(step, {
    workflowId,
    stepId,
    error,
    correlationId,
    details,
  });
}

/** A failed execution of `step`: retried (StepExecutionFailed) while retries are left, else StepFailed. */
function stepFailure(
  step: StepState,
  failure: {
    readonly workflowId: string;
    readonly stepId: string;
    readonly error: string;
    readonly correlationId: string;
    readonly details: JsonObject | undefined;
  },
): WorkflowEvent {
  const { details, ...rest } = failure;
  const common = { ...rest, ...(details && { details }) };
  return step.retryCount < step.maxRetries
    ? event({
        case: 'stepExecutionFailed',
        value: {
          ...common,
          retryCount: step.retryCount + 1,
          maxRetries: step.maxRetries,
        },
      })
    : event({
        case: 'stepFailed',
        value: { ...common, retryCount: step.retryCount },
      });
}

function completeTask(
  { workflowId, stepId, completedBy, formData }: CompleteTask,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireText(completedBy, 'completed_by', LIMITS.actor);
  validateStruct(formData, 'form_data', true);
  const step = stepOf(recording(state, workflowId), stepId);
  requireType(
    step,
    stepId,
    (type) => type === StepType.MANUAL,
    'only manual tasks complete with CompleteTask',
  );
  if (step.status !== 'in_progress') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `task ${show(stepId)} is ${step.status}; only a started task completes`,
    );
  }
  if (step.assignedTo === undefined) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `task ${show(stepId)} is not assigned; assign it first`,
    );
  }
  if (step.assignedTo !== completedBy) {
    throw new DomainError(
      ErrorCode.UNAUTHORIZED,
      `task ${show(stepId)} is assigned to ${show(step.assignedTo)}, not ${show(completedBy)}`,
    );
  }
  return event({
    case: 'taskCompleted',
    value: { workflowId, stepId, completedBy, ...(formData && { formData }) },
  });
}

const isApproval = (type: StepType): boolean => type === StepType.APPROVAL;

function requestStepApproval(
  { workflowId, stepId, approver, message }: RequestStepApproval,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireText(approver, 'approver', LIMITS.actor);
  limitText(message, 'message', LIMITS.text);
  const workflow = inStatus(
    state,
    workflowId,
    ['running'],
    'requesting an approval',
  );
  const step = stepOf(workflow, stepId);
  requireType(step, stepId, isApproval, 'only approval steps are approved');
  if (step.status !== 'in_progress') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; approval is requested for a started approval step`,
    );
  }
  return event({
    case: 'stepApprovalRequested',
    value: { workflowId, stepId, approver, message },
  });
}

/** The waiting approval step an answer is for, checked against its approver. */
function awaitingApproval(
  state: WorkflowState,
  workflowId: string,
  stepId: string,
  approver: string,
): void {
  const step = stepOf(recording(state, workflowId), stepId);
  requireType(step, stepId, isApproval, 'only approval steps are approved');
  if (step.status !== 'waiting_approval') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}, not waiting for approval`,
    );
  }
  if (step.approver !== approver) {
    throw new DomainError(
      ErrorCode.UNAUTHORIZED,
      `step ${show(stepId)} waits for ${show(step.approver ?? '')}, not ${show(approver)}`,
    );
  }
}

function grantStepApproval(
  { workflowId, stepId, approver, message }: GrantStepApproval,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireText(approver, 'approver', LIMITS.actor);
  limitText(message, 'message', LIMITS.text);
  awaitingApproval(state, workflowId, stepId, approver);
  return event({
    case: 'stepApprovalGranted',
    value: { workflowId, stepId, approver, message },
  });
}

function rejectStepApproval(
  { workflowId, stepId, approver, reason }: RejectStepApproval,
  state: WorkflowState,
): WorkflowEvent {
  requireIds(workflowId, stepId);
  requireText(approver, 'approver', LIMITS.actor);
  requireText(reason, 'reason', LIMITS.text);
  awaitingApproval(state, workflowId, stepId, approver);
  return event({
    case: 'stepApprovalRejected',
    value: { workflowId, stepId, approver, reason },
  });
}

/**
 * The running workflow and its step that is about to await something from
 * other domains (an operation, a transaction): an automated or integration
 * step, running, awaiting nothing yet. `doing` and `does` name the act in the
 * refusals ("requesting an operation", "request operations").
 */
function awaitingStep(
  state: WorkflowState,
  workflowId: string,
  stepId: string,
  act: { readonly doing: string; readonly does: string },
): { readonly workflow: PresentWorkflow; readonly step: StepState } {
  const workflow = inStatus(state, workflowId, ['running'], act.doing);
  const step = stepOf(workflow, stepId);
  requireType(
    step,
    stepId,
    canRequestOperations,
    `only automated and integration steps ${act.does}`,
  );
  if (step.status !== 'running') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; start it before ${act.doing}`,
    );
  }
  if (step.awaiting !== undefined) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} already awaits ${show(step.awaiting)}`,
    );
  }
  return { workflow, step };
}

function requestOperation(
  command: RequestCrossDomainOperation,
  state: WorkflowState,
  commandId: string,
): WorkflowEvent {
  const { workflowId, stepId, targetDomain, operation, parameters } = command;
  requireIds(workflowId, stepId);
  requireDomainName(targetDomain, 'target_domain');
  requireText(operation, 'operation', LIMITS.operation);
  validateStruct(parameters, 'parameters', false);
  if (commandId === '') invalid('the command needs a command id');
  requireId(commandId, 'command id');
  awaitingStep(state, workflowId, stepId, {
    doing: 'requesting an operation',
    does: 'request operations',
  });
  return event({
    case: 'crossDomainOperationRequested',
    value: {
      workflowId,
      stepId,
      targetDomain,
      operation,
      correlationId: operationCorrelationId({
        workflowId,
        stepId,
        requestId: commandId,
      }),
      ...(parameters && { parameters }),
    },
  });
}

/** Refuses to settle a step any other way while it awaits a transaction. */
function notInTransaction(step: StepState, stepId: string): void {
  const open =
    step.awaiting === undefined
      ? undefined
      : parseTransactionCorrelationId(step.awaiting);
  if (open === undefined) return;
  throw new DomainError(
    ErrorCode.BUSINESS_RULE_VIOLATION,
    `step ${show(stepId)} awaits transaction ${show(open.transactionId)}; commit or roll it back`,
  );
}

function requireTransactionIds(workflowId: string, transactionId: string) {
  requireId(workflowId, 'workflow_id');
  requireId(transactionId, 'transaction_id');
}

/** An open transaction of the workflow and the step that runs it. */
function openTransaction(
  workflow: PresentWorkflow,
  transactionId: string,
): { readonly transaction: TransactionState; readonly step: StepState } {
  const transaction = workflow.transactions.get(transactionId);
  if (transaction === undefined) {
    notFound(
      `transaction ${show(transactionId)} not found in workflow ${show(workflow.workflowId)}`,
    );
  }
  if (transaction.status !== 'open') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `transaction ${show(transactionId)} is already ${transaction.status.replace('_', ' ')}`,
    );
  }
  return { transaction, step: stepOf(workflow, transaction.stepId) };
}

/** Rolls a transaction back and fails its step's execution, by the step's retry rules. */
function rolledBack(
  workflow: PresentWorkflow,
  transactionId: string,
  { transaction, step }: ReturnType<typeof openTransaction>,
  reason: string,
  refusedBy: string,
  details: JsonObject | undefined,
): WorkflowEvent[] {
  const { workflowId } = workflow;
  const { stepId, correlationId } = transaction;
  return [
    event({
      case: 'crossDomainTransactionRolledBack',
      value: { workflowId, stepId, transactionId, reason, refusedBy },
    }),
    stepFailure(step, {
      workflowId,
      stepId,
      error: reason,
      correlationId,
      details,
    }),
  ];
}

/**
 * Rolls back every open transaction of a workflow that is cancelled or fails,
 * so no participant waits for a decision that can no longer come.
 */
function rollBackOpen(
  workflow: PresentWorkflow,
  reason: string,
): WorkflowEvent[] {
  const events: WorkflowEvent[] = [];
  for (const [transactionId, { status, stepId }] of workflow.transactions) {
    if (status !== 'open') continue;
    events.push(
      event({
        case: 'crossDomainTransactionRolledBack',
        value: {
          workflowId: workflow.workflowId,
          stepId,
          transactionId,
          reason,
        },
      }),
    );
  }
  return events;
}

function startTransaction(
  command: StartCrossDomainTransaction,
  state: WorkflowState,
  commandId: string,
): WorkflowEvent {
  const { workflowId, stepId, participants } = command;
  requireIds(workflowId, stepId);
  const transactionId = idOrDerived(
    command.transactionId,
    commandId,
    'transaction_id',
  );
  if (participants.length === 0) {
    invalid('participants must name at least one domain');
  }
  if (participants.length > LIMITS.participants) {
    invalid(
      `participants must name at most ${LIMITS.participants} domains, got ${participants.length}`,
    );
  }
  const domains = new Set<string>();
  participants.forEach(({ domain, operation, parameters }, i) => {
    requireDomainName(domain, `participants[${i}].domain`);
    if (domains.has(domain)) {
      invalid(`participants[${i}] repeats domain ${show(domain)}`);
    }
    domains.add(domain);
    requireText(operation, `participants[${i}].operation`, LIMITS.operation);
    validateStruct(parameters, `participants[${i}].parameters`, false);
  });
  const { workflow } = awaitingStep(state, workflowId, stepId, {
    doing: 'starting a transaction',
    does: 'run transactions',
  });
  if (workflow.transactions.has(transactionId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `transaction ${show(transactionId)} already exists in workflow ${show(workflowId)}`,
    );
  }
  return event({
    case: 'crossDomainTransactionStarted',
    value: {
      workflowId,
      stepId,
      transactionId,
      correlationId: transactionCorrelationId({ workflowId, transactionId }),
      participants: [...participants].sort((a, b) =>
        a.domain < b.domain ? -1 : 1,
      ),
    },
  });
}

function recordVote(
  command: RecordTransactionVote,
  state: WorkflowState,
): WorkflowEvent[] {
  const { workflowId, transactionId, participant, vote, reason, details } =
    command;
  requireTransactionIds(workflowId, transactionId);
  requireDomainName(participant, 'participant');
  if (vote !== ParticipantVote.PREPARED && vote !== ParticipantVote.REFUSED) {
    invalid(
      'vote must be PARTICIPANT_VOTE_PREPARED or PARTICIPANT_VOTE_REFUSED',
    );
  }
  limitText(reason, 'reason', LIMITS.text);
  validateStruct(details, 'details', false);
  const workflow = recording(state, workflowId);
  const open = openTransaction(workflow, transactionId);
  const voter = open.transaction.participants.find(
    (p) => p.domain === participant,
  );
  if (voter === undefined) {
    notFound(
      `${show(participant)} takes no part in transaction ${show(transactionId)}`,
    );
  }
  if (voter.vote !== 'pending') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `${show(participant)} already voted ${voter.vote} in transaction ${show(transactionId)}`,
    );
  }
  if (vote === ParticipantVote.PREPARED) {
    return [
      event({
        case: 'crossDomainTransactionPrepared',
        value: {
          workflowId,
          stepId: open.transaction.stepId,
          transactionId,
          participant,
          ...(details && { details }),
        },
      }),
    ];
  }
  const why = reason.trim() === '' ? 'no reason given' : reason;
  return rolledBack(
    workflow,
    transactionId,
    open,
    `${participant} refused: ${why}`,
    participant,
    details,
  );
}

function commitTransaction(
  { workflowId, transactionId }: CommitCrossDomainTransaction,
  state: WorkflowState,
): WorkflowEvent[] {
  requireTransactionIds(workflowId, transactionId);
  const workflow = recording(state, workflowId);
  const { transaction } = openTransaction(workflow, transactionId);
  const unprepared = transaction.participants.filter(
    (p) => p.vote !== 'prepared',
  );
  if (unprepared.length > 0) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `transaction ${show(transactionId)} cannot commit: ${unprepared.map((p) => show(p.domain)).join(', ')} not prepared`,
    );
  }
  const { stepId, correlationId } = transaction;
  // Domain names are [a-z][a-z0-9]*: plain keys, never __proto__.
  const prepared: JsonObject = {};
  for (const p of transaction.participants)
    prepared[p.domain] = p.details ?? {};
  return [
    event({
      case: 'crossDomainTransactionCommitted',
      value: { workflowId, stepId, transactionId },
    }),
    event({
      case: 'stepExecutionCompleted',
      value: {
        workflowId,
        stepId,
        correlationId,
        output: { transactionId, participants: prepared },
      },
    }),
  ];
}

function rollBackTransaction(
  { workflowId, transactionId, reason }: RollBackCrossDomainTransaction,
  state: WorkflowState,
): WorkflowEvent[] {
  requireTransactionIds(workflowId, transactionId);
  requireText(reason, 'reason', LIMITS.text);
  const workflow = recording(state, workflowId);
  const open = openTransaction(workflow, transactionId);
  return rolledBack(workflow, transactionId, open, reason, '', undefined);
}

/**
 * A due timer fires once: StepTimerElapsed, then what its kind means —
 * DELAY completes the step, DEADLINE fails it (no retry: time does not come
 * back), SLA and REMINDER leave it running. The command brings the times
 * (decide reads no clock): due_at must be the due time the step recorded, and
 * fired_at must not be before it.
 */
function fireStepTimer(
  { workflowId, stepId, dueAt, firedAt }: FireStepTimer,
  state: WorkflowState,
): WorkflowEvent[] {
  requireIds(workflowId, stepId);
  if (dueAt === undefined) invalid('due_at is required');
  if (firedAt === undefined) invalid('fired_at is required');
  const workflow = inStatus(state, workflowId, ['running'], 'firing a timer');
  const step = stepOf(workflow, stepId);
  const { timer } = step;
  if (timer === undefined) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} is a ${typeName(step)} step; only timer steps fire`,
    );
  }
  if (step.status !== 'running') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; only a running timer step fires`,
    );
  }
  if (step.timerFiredAtMs !== undefined) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `the timer of step ${show(stepId)} has already fired`,
    );
  }
  if (step.dueAtMs === undefined) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `step ${show(stepId)} started without a recorded start time; its timer cannot fire`,
    );
  }
  const due = rfc3339(timestampFromMs(step.dueAtMs));
  if (timestampMs(dueAt) !== step.dueAtMs) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `the timer of step ${show(stepId)} is due at ${due}, not ${rfc3339(dueAt)}`,
    );
  }
  if (timestampMs(firedAt) < step.dueAtMs) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `the timer of step ${show(stepId)} is not due until ${due}`,
    );
  }
  const events = [
    event({
      case: 'stepTimerElapsed',
      value: { workflowId, stepId, kind: timer.kind, dueAt, firedAt },
    }),
  ];
  switch (timer.kind) {
    case TimerKind.DELAY:
      events.push(
        event({
          case: 'stepExecutionCompleted',
          value: {
            workflowId,
            stepId,
            output: { timer: 'delay', dueAt: due, firedAt: rfc3339(firedAt) },
          },
        }),
      );
      break;
    case TimerKind.DEADLINE:
      events.push(
        event({
          case: 'stepFailed',
          value: {
            workflowId,
            stepId,
            error: `deadline passed at ${due}`,
            retryCount: step.retryCount,
          },
        }),
      );
      break;
    case TimerKind.SLA:
    case TimerKind.REMINDER:
    case TimerKind.UNSPECIFIED:
      break; // the step keeps running
  }
  return events;
}

/** A timestamp as RFC 3339 text, as protobuf JSON writes it. */
const rfc3339 = (timestamp: Timestamp): string =>
  toJson(TimestampSchema, timestamp);
