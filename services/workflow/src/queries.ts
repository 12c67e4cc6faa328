import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  timestampFromMs,
  timestampMs,
  type Timestamp,
} from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  isSubjectToken,
  requireId,
  requireText,
  show,
  notFound,
  lowerBound,
} from '@cim/kernel';
import {
  ParticipantVote,
  StepStatus,
  TimerKind,
  TransactionStatus,
  WorkflowStatus,
  type AssignedTaskSchema,
  type CrossDomainTransactionSchema,
  type StepSchema,
  type WorkflowQueryService,
  type WorkflowSummarySchema,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  MAX_PAGE_SIZE,
  SortedRowIds,
  readPage,
  takePage,
  type QueryHandlers,
  type Rows,
} from '@cim/service';
import { blockedCounts, criticalPath, executableSteps } from './analysis.js';
import {
  isActive,
  isDone,
  isFinished,
  isHuman,
  objectOf,
  timerDurationMs,
  type StepState,
  type StepStatusName,
  type TransactionState,
  type TransactionStatusName,
  type VoteName,
  type WorkflowStatusName,
} from './domain/index.js';
import { LIMITS } from './domain/rules.js';
import type { StepTimes, WorkflowRow } from './projection.js';

/** Bottlenecks listed when a request asks for 0. */
export const DEFAULT_BOTTLENECKS = 10;
/** TimeoutRisks' threshold when a request asks for 0. */
export const DEFAULT_RISK_THRESHOLD = 0.8;

const MINUTE_MS = 60_000;

type StepInit = MessageInitShape<typeof StepSchema>;

const WORKFLOW_STATUS: Readonly<Record<WorkflowStatusName, WorkflowStatus>> = {
  draft: WorkflowStatus.DRAFT,
  running: WorkflowStatus.RUNNING,
  paused: WorkflowStatus.PAUSED,
  completed: WorkflowStatus.COMPLETED,
  failed: WorkflowStatus.FAILED,
  cancelled: WorkflowStatus.CANCELLED,
};

const STEP_STATUS: Readonly<Record<StepStatusName, StepStatus>> = {
  pending: StepStatus.PENDING,
  running: StepStatus.RUNNING,
  in_progress: StepStatus.IN_PROGRESS,
  waiting_approval: StepStatus.WAITING_APPROVAL,
  completed: StepStatus.COMPLETED,
  failed: StepStatus.FAILED,
  skipped: StepStatus.SKIPPED,
  cancelled: StepStatus.CANCELLED,
};

const TRANSACTION_STATUS: Readonly<
  Record<TransactionStatusName, TransactionStatus>
> = {
  open: TransactionStatus.OPEN,
  committed: TransactionStatus.COMMITTED,
  rolled_back: TransactionStatus.ROLLED_BACK,
};

const VOTE: Readonly<Record<VoteName, ParticipantVote>> = {
  pending: ParticipantVote.PENDING,
  prepared: ParticipantVote.PREPARED,
  refused: ParticipantVote.REFUSED,
};

function rowOf(rows: Rows<WorkflowRow>, workflowId: string): WorkflowRow {
  requireId(workflowId, 'workflow_id');
  const row = rows.get(workflowId);
  if (row === undefined) {
    notFound(`workflow ${show(workflowId)} not found`);
  }
  return row;
}

const maybeTime = (ms: number | undefined) =>
  ms === undefined ? undefined : timestampFromMs(ms);

function summary(
  row: WorkflowRow,
): MessageInitShape<typeof WorkflowSummarySchema> {
  const { workflow } = row;
  return {
    workflowId: workflow.workflowId,
    name: workflow.name,
    description: workflow.description,
    status: WORKFLOW_STATUS[workflow.status],
    stepCount: workflow.steps.size,
    createdBy: workflow.createdBy,
    version: row.version,
    createdAt: timestampFromMs(row.createdAtMs),
    updatedAt: timestampFromMs(row.updatedAtMs),
    templateName: workflow.template?.name ?? '',
    templateVersion: workflow.template?.version ?? 0,
  };
}

function transactionView(
  transactionId: string,
  transaction: TransactionState,
): MessageInitShape<typeof CrossDomainTransactionSchema> {
  return {
    transactionId,
    stepId: transaction.stepId,
    correlationId: transaction.correlationId,
    status: TRANSACTION_STATUS[transaction.status],
    reason: transaction.reason,
    refusedBy: transaction.refusedBy,
    participants: transaction.participants.map((p) => ({
      domain: p.domain,
      operation: p.operation,
      vote: VOTE[p.vote],
      reason: p.reason,
      ...(p.parameters && { parameters: p.parameters }),
      ...(p.details && { details: p.details }),
    })),
  };
}

function stepView(
  stepId: string,
  step: StepState,
  times: StepTimes | undefined,
): StepInit {
  const started = times?.startedAtMs;
  const finished = times?.finishedAtMs;
  const { join, timer } = step;
  return {
    stepId,
    name: step.name,
    description: step.description,
    stepType: step.stepType,
    customType: step.customType,
    status: STEP_STATUS[step.status],
    config: objectOf(step.config),
    dependencies: [...step.dependencies.keys()],
    retryCount: step.retryCount,
    maxRetries: step.maxRetries,
    awaitingCorrelationId: step.awaiting ?? '',
    targetDomain: step.targetDomain,
    operation: step.operation,
    completedBy: step.completedBy ?? '',
    error: step.error ?? '',
    approver: step.approver ?? '',
    ...(step.estimatedMinutes !== undefined && {
      estimatedDurationMinutes: step.estimatedMinutes,
    }),
    ...(step.assignedTo !== undefined && { assignedTo: step.assignedTo }),
    ...(step.output && { output: step.output }),
    ...(step.formData && { formData: step.formData }),
    ...(started !== undefined && { startedAt: timestampFromMs(started) }),
    ...(finished !== undefined && { finishedAt: timestampFromMs(finished) }),
    ...(started !== undefined &&
      finished !== undefined && {
        durationSeconds: (finished - started) / 1000,
      }),
    ...(join && {
      join: { mode: join.mode, count: join.count, inputs: [...join.inputs] },
    }),
    ...(timer && {
      timer: {
        kind: timer.kind,
        minutes: timer.minutes,
        seconds: timer.seconds,
      },
    }),
    ...timerTimes(step, started),
  };
}

/**
 * A timer step's due and fired times. A step started before starts were
 * recorded in its event is due by the commit time of its start (and never
 * fires by itself).
 */
function timerTimes(
  { timer, dueAtMs, timerFiredAtMs }: StepState,
  startedAtMs: number | undefined,
): { dueAt?: Timestamp; timerFiredAt?: Timestamp } {
  if (timer === undefined) return {};
  const due =
    dueAtMs ??
    (startedAtMs === undefined
      ? undefined
      : startedAtMs + timerDurationMs(timer));
  return {
    ...(due !== undefined && { dueAt: timestampFromMs(due) }),
    ...(timerFiredAtMs !== undefined && {
      timerFiredAt: timestampFromMs(timerFiredAtMs),
    }),
  };
}

function stepsView(row: WorkflowRow, ids: Iterable<string>): StepInit[] {
  const views: StepInit[] = [];
  for (const id of ids) {
    const step = row.workflow.steps.get(id);
    if (step !== undefined) views.push(stepView(id, step, row.times.get(id)));
  }
  return views;
}

function asOfMs(asOf: Timestamp | undefined): number {
  // Queries are the edge: "now" is read here, never in the decider.
  return asOf === undefined ? Date.now() : timestampMs(asOf);
}

/** Minutes a step has been under way at `asOf` (or took, once finished); 0 before it starts. */
function elapsedMinutes(times: StepTimes | undefined, asOf: number): number {
  if (times?.startedAtMs === undefined) return 0;
  const end = times.finishedAtMs ?? asOf;
  return Math.max(0, end - times.startedAtMs) / MINUTE_MS;
}

const isTaskCursor = (key: string): boolean => {
  const [workflowId = '', stepId = '', ...rest] = key.split(':');
  return (
    rest.length === 0 && isSubjectToken(workflowId) && isSubjectToken(stepId)
  );
};

/**
 * The query handlers over the projection's rows. Unknown workflows answer
 * NOT_FOUND, malformed arguments VALIDATION_FAILED. Lists are paged by id
 * with opaque cursors (page size 0 → 50, at most 500).
 */
export const workflowQueries = (
  rows: Rows<WorkflowRow>,
): QueryHandlers<typeof WorkflowQueryService> => {
  const index = new SortedRowIds(rows);

  return {
    findWorkflow({ workflowId }) {
      const row = rowOf(rows, workflowId);
      const { workflow } = row;
      return {
        workflow: {
          summary: summary(row),
          steps: stepsView(row, workflow.steps.keys()),
          context: objectOf(workflow.context),
          metadata: objectOf(workflow.metadata),
          ...(row.startedAtMs !== undefined && {
            startedAt: maybeTime(row.startedAtMs),
          }),
          ...(row.finishedAtMs !== undefined && {
            finishedAt: maybeTime(row.finishedAtMs),
          }),
          ...(workflow.template && {
            templateParameters: workflow.template.parameters,
          }),
          transactions: [...workflow.transactions].map(([id, transaction]) =>
            transactionView(id, transaction),
          ),
        },
      };
    },

    findTransaction({ workflowId, transactionId }) {
      const row = rowOf(rows, workflowId);
      requireId(transactionId, 'transaction_id');
      const transaction = row.workflow.transactions.get(transactionId);
      if (transaction === undefined) {
        notFound(
          `transaction ${show(transactionId)} not found in workflow ${show(workflowId)}`,
        );
      }
      return { transaction: transactionView(transactionId, transaction) };
    },

    listWorkflows({ page, status, nameContains }) {
      const window = readPage(page);
      if (WorkflowStatus[status] === undefined) {
        throw new DomainError(
          ErrorCode.VALIDATION_FAILED,
          `status ${status} is not a known workflow status`,
        );
      }
      const nameQuery = nameContains.toLowerCase();
      const filtered =
        status !== WorkflowStatus.UNSPECIFIED || nameQuery !== '';
      const matches = ({ workflow }: WorkflowRow): boolean =>
        (status === WorkflowStatus.UNSPECIFIED ||
          WORKFLOW_STATUS[workflow.status] === status) &&
        (nameQuery === '' || workflow.name.toLowerCase().includes(nameQuery));
      const ids = index.sorted();
      const start =
        window.after === undefined
          ? 0
          : lowerBound(ids, window.after + '\u0000');
      function* candidates(): Generator<
        [string, WorkflowRow],
        void,
        undefined
      > {
        for (let i = start; i < ids.length; i++) {
          const row = rows.get(ids[i]!);
          if (row !== undefined && matches(row)) yield [ids[i]!, row];
        }
      }
      // Filtered totals need one pass over all rows: O(n) with cheap predicates.
      let total = rows.size;
      if (filtered) {
        total = 0;
        for (const row of rows.values()) if (matches(row)) total++;
      }
      const { items, info } = takePage(candidates(), window, total, summary);
      return { workflows: items, page: info };
    },

    executableSteps({ workflowId }) {
      const row = rowOf(rows, workflowId);
      return {
        steps: stepsView(row, executableSteps(row.workflow.steps)),
        status: WORKFLOW_STATUS[row.workflow.status],
      };
    },

    progress({ workflowId }) {
      const row = rowOf(rows, workflowId);
      const { workflow } = row;
      const { counts } = workflow;
      const total = workflow.steps.size;
      let estimatedTotal = 0;
      let estimatedRemaining = 0;
      for (const step of workflow.steps.values()) {
        const minutes = step.estimatedMinutes ?? 0;
        estimatedTotal += minutes;
        if (!isDone(step.status)) estimatedRemaining += minutes;
      }
      return {
        status: WORKFLOW_STATUS[workflow.status],
        totalSteps: total,
        pending: counts.pending,
        running: counts.running,
        inProgress: counts.in_progress,
        waitingApproval: counts.waiting_approval,
        completed: counts.completed,
        failed: counts.failed,
        skipped: counts.skipped,
        cancelled: counts.cancelled,
        percentComplete:
          total === 0 ? 0 : ((counts.completed + counts.skipped) / total) * 100,
        estimatedMinutesTotal: BigInt(estimatedTotal),
        estimatedMinutesRemaining: BigInt(estimatedRemaining),
        version: row.version,
      };
    },

    criticalPath({ workflowId }) {
      const { stepIds, totalMinutes } = criticalPath(
        rowOf(rows, workflowId).workflow.steps,
      );
      return { stepIds: [...stepIds], totalMinutes: BigInt(totalMinutes) };
    },

    bottlenecks({ workflowId, limit, asOf }) {
      const row = rowOf(rows, workflowId);
      const now = asOfMs(asOf);
      const size =
        limit === 0 ? DEFAULT_BOTTLENECKS : Math.min(limit, MAX_PAGE_SIZE);
      const { steps } = row.workflow;
      const ranked = [...blockedCounts(steps)].map(([stepId, blocked]) => {
        const step = steps.get(stepId)!;
        const elapsed = elapsedMinutes(row.times.get(stepId), now);
        return {
          stepId,
          name: step.name,
          status: STEP_STATUS[step.status],
          blockedSteps: blocked,
          elapsedMinutes: elapsed,
          overEstimate:
            isActive(step.status) &&
            step.estimatedMinutes !== undefined &&
            elapsed > step.estimatedMinutes,
          ...(step.estimatedMinutes !== undefined && {
            estimatedDurationMinutes: step.estimatedMinutes,
          }),
        };
      });
      ranked.sort(
        (a, b) =>
          b.blockedSteps - a.blockedSteps ||
          b.elapsedMinutes - a.elapsedMinutes ||
          (a.stepId < b.stepId ? -1 : 1),
      );
      return { bottlenecks: ranked.slice(0, size) };
    },

    timeoutRisks({ workflowId, threshold, asOf }) {
      if (!(threshold >= 0 && threshold <= 10)) {
        throw new DomainError(
          ErrorCode.VALIDATION_FAILED,
          `threshold must be within (0, 10] (0 for the default), got ${threshold}`,
        );
      }
      const row = rowOf(rows, workflowId);
      const now = asOfMs(asOf);
      const limit = threshold === 0 ? DEFAULT_RISK_THRESHOLD : threshold;
      const risks = [];
      for (const [stepId, step] of row.workflow.steps) {
        // A timer is measured against its own duration: ratio 1 is when it is due.
        const { timer } = step;
        const estimate =
          timer === undefined
            ? step.estimatedMinutes
            : timerDurationMs(timer) / MINUTE_MS;
        if (!isActive(step.status) || estimate === undefined || estimate === 0)
          continue;
        const times = row.times.get(stepId);
        const elapsed = elapsedMinutes(times, now);
        const ratio = elapsed / estimate;
        if (ratio < limit) continue;
        risks.push({
          stepId,
          name: step.name,
          status: STEP_STATUS[step.status],
          elapsedMinutes: elapsed,
          estimatedDurationMinutes: Math.ceil(estimate),
          ratio,
          overdue: ratio > 1,
          timerKind: timer?.kind ?? TimerKind.UNSPECIFIED,
          ...timerTimes(step, times?.startedAtMs),
        });
      }
      risks.sort((a, b) => b.ratio - a.ratio || (a.stepId < b.stepId ? -1 : 1));
      return { risks };
    },

    tasksForAssignee({ assignee, includeFinished, page }) {
      requireText(assignee, 'assignee', LIMITS.actor);
      const window = readPage(page, isTaskCursor);
      const ids = index.sorted();
      const [afterWorkflow, afterStep] =
        window.after === undefined
          ? [undefined, undefined]
          : window.after.split(':');
      const listed = (step: StepState | undefined): step is StepState =>
        step !== undefined &&
        isHuman(step.stepType) &&
        (includeFinished || !isFinished(step.status));
      type Task = MessageInitShape<typeof AssignedTaskSchema>;
      function* tasks(): Generator<[string, Task], void, undefined> {
        for (
          let i =
            afterWorkflow === undefined ? 0 : lowerBound(ids, afterWorkflow);
          i < ids.length;
          i++
        ) {
          const workflowId = ids[i]!;
          const row = rows.get(workflowId);
          const mine = row?.assignments.get(assignee);
          if (row === undefined || mine === undefined) continue;
          const from = workflowId === afterWorkflow ? afterStep : undefined;
          for (const stepId of mine.keys(from)) {
            const step = row.workflow.steps.get(stepId);
            if (!listed(step)) continue;
            yield [
              `${workflowId}:${stepId}`,
              {
                workflowId,
                workflowName: row.workflow.name,
                workflowStatus: WORKFLOW_STATUS[row.workflow.status],
                stepId,
                name: step.name,
                stepType: step.stepType,
                status: STEP_STATUS[step.status],
              },
            ];
          }
        }
      }
      let total = 0;
      for (const row of rows.values()) {
        for (const stepId of row.assignments.get(assignee)?.keys() ?? []) {
          if (listed(row.workflow.steps.get(stepId))) total++;
        }
      }
      const { items, info } = takePage(tasks(), window, total, (task) => task);
      return { tasks: items, page: info };
    },

    taskOutputs({ workflowId }) {
      const row = rowOf(rows, workflowId);
      const outputs = [];
      for (const [stepId, step] of row.workflow.steps) {
        if (step.status !== 'completed') continue;
        const finished = row.times.get(stepId)?.finishedAtMs;
        outputs.push({
          stepId,
          name: step.name,
          status: STEP_STATUS[step.status],
          completedBy: step.completedBy ?? '',
          ...(step.output && { output: step.output }),
          ...(step.formData && { formData: step.formData }),
          ...(finished !== undefined && {
            finishedAt: timestampFromMs(finished),
          }),
        });
      }
      return { outputs };
    },
  };
};
