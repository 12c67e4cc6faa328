import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import {
  StepType,
  type JoinMode,
  type TimerKind,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { SortedMap } from '@cim/kernel';

/** Lifecycle of a workflow (domains.md §2.2). */
export type WorkflowStatusName =
  'draft' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

/** Lifecycle of a step. */
export type StepStatusName =
  | 'pending'
  | 'running'
  | 'in_progress'
  | 'waiting_approval'
  | 'completed'
  | 'failed'
  | 'skipped'
  | 'cancelled';

/** A set of ids, kept as a persistent sorted map so adding or removing one is O(log n). */
export type IdSet = SortedMap<true>;

/** When a join step may start; `inputs` (sorted) for WAIT_SPECIFIC, `count` for WAIT_COUNT. */
export interface JoinRule {
  readonly mode: JoinMode;
  readonly count: number;
  readonly inputs: readonly string[];
}

/** A timer step's timer: due `minutes` and `seconds` after the step starts. */
export interface TimerRule {
  readonly kind: TimerKind;
  readonly minutes: number;
  readonly seconds: number;
}

/** How long a timer runs, ms. */
export function timerDurationMs({ minutes, seconds }: TimerRule): number {
  return (minutes * 60 + seconds) * 1000;
}

/** A participant's vote in a transaction. */
export type VoteName = 'pending' | 'prepared' | 'refused';

/** One participant of a transaction. */
export interface ParticipantState {
  readonly domain: string;
  readonly operation: string;
  readonly parameters: JsonObject | undefined;
  readonly vote: VoteName;
  readonly details: JsonObject | undefined;
  readonly reason: string;
}

/** Phases of a cross-domain two-phase transaction. */
export type TransactionStatusName = 'open' | 'committed' | 'rolled_back';

/** A cross-domain transaction run by one step. */
export interface TransactionState {
  readonly stepId: string;
  readonly correlationId: string;
  readonly status: TransactionStatusName;
  /** Sorted by domain (at most 16). */
  readonly participants: readonly ParticipantState[];
  readonly reason: string;
  readonly refusedBy: string;
}

/** One step as the decider sees it (and the read model shows it). */
export interface StepState {
  readonly name: string;
  readonly description: string;
  readonly stepType: StepType;
  readonly customType: string;
  readonly status: StepStatusName;
  readonly config: SortedMap<JsonValue>;
  /** Steps this one waits for. */
  readonly dependencies: IdSet;
  /** Steps that wait for this one (the reverse edges), for RemoveStep and bottlenecks. */
  readonly dependents: IdSet;
  readonly estimatedMinutes: number | undefined;
  readonly assignedTo: string | undefined;
  readonly retryCount: number;
  readonly maxRetries: number;
  /** Correlation id of the cross-domain operation the step awaits. */
  readonly awaiting: string | undefined;
  readonly targetDomain: string;
  readonly operation: string;
  readonly approver: string | undefined;
  readonly output: JsonObject | undefined;
  readonly formData: JsonObject | undefined;
  readonly completedBy: string | undefined;
  readonly error: string | undefined;
  /** Join steps only. */
  readonly join: JoinRule | undefined;
  /** Timer steps only. */
  readonly timer: TimerRule | undefined;
  /** A started timer step: its start (StepExecutionStarted.started_at) plus the timer, Unix ms. */
  readonly dueAtMs: number | undefined;
  /** When its timer fired (StepTimerElapsed), Unix ms; it fires once. */
  readonly timerFiredAtMs: number | undefined;
}

/** Number of steps in each status, kept current by evolve so CompleteWorkflow and Progress cost O(1). */
export type StepCounts = Readonly<Record<StepStatusName, number>>;

/** What a workflow that exists holds, whatever its status. */
export interface WorkflowData {
  readonly workflowId: string;
  readonly name: string;
  readonly description: string;
  readonly createdBy: string;
  readonly steps: SortedMap<StepState>;
  readonly context: SortedMap<JsonValue>;
  readonly metadata: SortedMap<JsonValue>;
  readonly counts: StepCounts;
  /** Cross-domain transactions by id, open and ended. */
  readonly transactions: SortedMap<TransactionState>;
  /** The template the workflow was created from, with the parameter values used. */
  readonly template: TemplateOrigin | undefined;
}

/** Where a workflow created from a template came from. */
export interface TemplateOrigin {
  readonly name: string;
  readonly version: number;
  readonly parameters: JsonObject;
}

/**
 * The workflow aggregate. Steps, context and metadata live in persistent
 * sorted maps, so `evolve` costs O(log n) per event (cancelling a workflow,
 * once, touches every unfinished step) and every state it returned stays
 * valid and unchanged.
 */
export type WorkflowState =
  | { readonly status: 'absent' }
  | (WorkflowData & { readonly status: WorkflowStatusName });

/** A workflow that exists: every status but absent. */
export type PresentWorkflow = Exclude<
  WorkflowState,
  { readonly status: 'absent' }
>;

const ABSENT: WorkflowState = { status: 'absent' };

/** The state before the first event. */
export const initialState = (): WorkflowState => ABSENT;

/** No steps at all. */
export const NO_STEPS: StepCounts = {
  pending: 0,
  running: 0,
  in_progress: 0,
  waiting_approval: 0,
  completed: 0,
  failed: 0,
  skipped: 0,
  cancelled: 0,
};

/** Manual and approval steps are human tasks: assignable, started as tasks. */
export function isHuman(stepType: StepType): boolean {
  return stepType === StepType.MANUAL || stepType === StepType.APPROVAL;
}

/** Steps that may request cross-domain operations and run transactions. */
export function canRequestOperations(stepType: StepType): boolean {
  return stepType === StepType.AUTOMATED || stepType === StepType.INTEGRATION;
}

/** Step types that only template nodes create (AddStep refuses them). */
export function isTemplateOnly(stepType: StepType): boolean {
  return (
    stepType === StepType.START ||
    stepType === StepType.END ||
    stepType === StepType.JOIN ||
    stepType === StepType.TIMER
  );
}

/** A step in one of these statuses changes no more. */
export function isFinished(status: StepStatusName): boolean {
  return (
    status === 'completed' ||
    status === 'failed' ||
    status === 'skipped' ||
    status === 'cancelled'
  );
}

/** A step that has started and not finished. */
export function isActive(status: StepStatusName): boolean {
  return (
    status === 'running' ||
    status === 'in_progress' ||
    status === 'waiting_approval'
  );
}

/** Completed and skipped steps let their dependents start. */
export function isDone(status: StepStatusName): boolean {
  return status === 'completed' || status === 'skipped';
}

/** A workflow in one of these statuses accepts no commands. */
export function isTerminal(status: WorkflowStatusName): boolean {
  return (
    status === 'completed' || status === 'failed' || status === 'cancelled'
  );
}

/** The sorted map of a JSON object's entries. */
export function mapOf(object: JsonObject | undefined): SortedMap<JsonValue> {
  return object === undefined
    ? SortedMap.empty()
    : SortedMap.of(Object.entries(object));
}

/** A JSON object of a map's entries, in key order. */
export function objectOf(map: SortedMap<JsonValue>): JsonObject {
  const object: JsonObject = {};
  for (const [key, value] of map) {
    // defineProperty keeps a key named __proto__ an ordinary own key.
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

/**
 * Restores a state from its structured clone (the runtime's node:v8
 * snapshots keep plain data but not the SortedMap class); pass it to
 * defineService as `revive.state`. O(n) in steps and keys.
 */
export function reviveWorkflowState(cloned: unknown): WorkflowState {
  const state = cloned as WorkflowState;
  if (state.status === 'absent') return state;
  return reviveWorkflowData(state);
}

/** Restores the sorted maps of a present workflow's structured clone. */
export function reviveWorkflowData<W extends WorkflowData>(state: W): W {
  return {
    ...state,
    steps: SortedMap.revive<StepState>(state.steps, (step) => ({
      ...step,
      config: SortedMap.revive<JsonValue>(step.config),
      dependencies: SortedMap.revive<true>(step.dependencies),
      dependents: SortedMap.revive<true>(step.dependents),
    })),
    context: SortedMap.revive<JsonValue>(state.context),
    metadata: SortedMap.revive<JsonValue>(state.metadata),
    transactions: SortedMap.revive<TransactionState>(state.transactions),
  };
}
