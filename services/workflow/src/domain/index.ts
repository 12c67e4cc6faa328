import type { Decider } from '@cim/kernel';
import type {
  WorkflowCommand,
  WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type WorkflowState } from './state.js';

/** The workflow aggregate: steps, dependencies, tasks, approvals and context (domains.md §2.2). */
export const workflowDecider: Decider<
  WorkflowState,
  WorkflowCommand,
  WorkflowEvent
> = {
  initialState,
  decide,
  evolve,
};

export {
  isActive,
  isDone,
  isFinished,
  isHuman,
  objectOf,
  reviveWorkflowData,
  reviveWorkflowState,
} from './state.js';
export type {
  IdSet,
  PresentWorkflow,
  StepCounts,
  StepState,
  StepStatusName,
  WorkflowData,
  WorkflowState,
  WorkflowStatusName,
} from './state.js';
export {
  operationCorrelationId,
  parseOperationCorrelationId,
} from './correlation.js';
export type { OperationTarget } from './correlation.js';
