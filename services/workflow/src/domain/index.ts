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
  isTerminal,
  objectOf,
  reviveWorkflowData,
  reviveWorkflowState,
  timerDurationMs,
} from './state.js';
export type {
  IdSet,
  JoinRule,
  ParticipantState,
  PresentWorkflow,
  StepCounts,
  StepState,
  StepStatusName,
  TemplateOrigin,
  TimerRule,
  TransactionState,
  TransactionStatusName,
  VoteName,
  WorkflowData,
  WorkflowState,
  WorkflowStatusName,
} from './state.js';
export {
  operationCorrelationId,
  parseOperationCorrelationId,
  parseTransactionCorrelationId,
  transactionCorrelationId,
} from './correlation.js';
export type { OperationTarget, TransactionTarget } from './correlation.js';
export { waitingReason } from './join.js';
