export {
  defaultOperationSources,
  defineWorkflowService,
  workflowService,
} from './service.js';
export {
  operationCorrelationId,
  parseOperationCorrelationId,
  parseTransactionCorrelationId,
  transactionCorrelationId,
  workflowDecider,
} from './domain/index.js';
export type {
  OperationTarget,
  TransactionTarget,
  WorkflowState,
} from './domain/index.js';
export { project } from './projection.js';
export type { WorkflowRow } from './projection.js';
export { workflowQueries } from './queries.js';
export { operationResult, operationResults } from './reactions.js';
export type { OperationResultSource } from './reactions.js';
export { criticalPath, executableSteps } from './analysis.js';
export { TIMER_TICK_MS, dueTimers, timerSchedule } from './timers.js';
export { TimerIndex } from './timer-index.js';
