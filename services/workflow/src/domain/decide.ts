import { create, type MessageInitShape } from '@bufbuild/protobuf';
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
  StepType,
  WorkflowEventSchema,
  type AddStep,
  type AddStepConfiguration,
  type AddStepDependency,
  type CompleteStepExecution,
  type CompleteTask,
  type CreateWorkflow,
  type FailStepExecution,
  type GrantStepApproval,
  type RejectStepApproval,
  type RemoveStep,
  type RemoveStepConfiguration,
  type RemoveStepDependency,
  type RequestCrossDomainOperation,
  type RequestStepApproval,
  type WorkflowCommand,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { operationCorrelationId } from './correlation.js';
import { closesCycle } from './dag.js';
import {
  LIMITS,
  requireDomainName,
  requireKey,
  requireValue,
  validateStruct,
} from './rules.js';
import type { SortedMap } from '@cim/kernel';
import {
  canRequestOperations,
  isActive,
  isDone,
  isFinished,
  isHuman,
  isTerminal,
  type PresentWorkflow,
  type StepState,
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
      const { workflowId, stepId } = body.value;
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
      const waiting = [...step.dependencies.keys()].filter(
        (id) => !isDone(workflow.steps.get(id)?.status ?? 'pending'),
      );
      if (waiting.length > 0) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          `step ${show(stepId)} waits for ${waiting.map(show).join(', ')} to complete or be skipped`,
        );
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
              value: { workflowId, stepId },
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
      inStatus(state, workflowId, ['draft', 'running', 'paused'], 'cancelling');
      return [event({ case: 'cancelled', value: { workflowId, reason } })];
    }
    case 'fail': {
      const { workflowId, error } = body.value;
      requireId(workflowId, 'workflow_id');
      requireText(error, 'error', LIMITS.text);
      inStatus(state, workflowId, ['running', 'paused'], 'failing');
      return [event({ case: 'failed', value: { workflowId, error } })];
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
  if (stepType === StepType.UNSPECIFIED) invalid('step_type is required');
  if (StepType[stepType] === undefined) {
    invalid(`step_type ${stepType} is not a known step type`);
  }
  if (stepType === StepType.CUSTOM) {
    requireText(customType, 'custom_type', LIMITS.customType);
  } else if (customType !== '') {
    invalid('custom_type is only for STEP_TYPE_CUSTOM');
  }
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
  matchOperation(step, stepId, correlationId);
  const common = {
    workflowId,
    stepId,
    error,
    correlationId,
    ...(details && { details }),
  };
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
  const workflow = inStatus(
    state,
    workflowId,
    ['running'],
    'requesting an operation',
  );
  const step = stepOf(workflow, stepId);
  requireType(
    step,
    stepId,
    canRequestOperations,
    'only automated and integration steps request operations',
  );
  if (step.status !== 'running') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} is ${step.status}; start it before requesting an operation`,
    );
  }
  if (step.awaiting !== undefined) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `step ${show(stepId)} already awaits operation ${show(step.awaiting)}`,
    );
  }
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
