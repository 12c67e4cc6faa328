import { describe, expect, it } from '@jest/globals';
import {
  create,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  JoinMode,
  ParticipantVote,
  StepStatus,
  StepType,
  TimerKind,
  TransactionStatus,
  WorkflowStatus,
  type WorkflowEvent,
  WorkflowQueryService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { QueryContext } from '@cim/service';
import { workflowQueries } from '../src/queries.js';
import type { WorkflowRow } from '../src/projection.js';
import {
  T0,
  draft,
  evt,
  executing,
  projectAll,
  rowsOf,
  running,
  stepAdded,
  value,
} from './fixtures.js';

const context: QueryContext = { position: 0n };
const MINUTE = 60_000;

function rowOf(events: readonly WorkflowEvent[]): WorkflowRow {
  const row = projectAll(events);
  if (row === undefined) throw new Error('no row');
  return row;
}

type Methods = typeof WorkflowQueryService.method;

/** A query handler called the way the runtime calls it, with a request built from `init`. */
function query<K extends Exclude<keyof Methods, 'history' | 'publicKeys'>>(
  rows: WorkflowRow[],
  name: K,
  init: MessageInitShape<Methods[K]['input']>,
): MessageShape<Methods[K]['output']> {
  const method = WorkflowQueryService.method[name];
  const handlers = workflowQueries(rowsOf(...rows));
  const handle = handlers[name] as (
    request: unknown,
    context: QueryContext,
  ) => unknown;
  const answer = handle(create(method.input, init as never), context);
  return create(method.output, answer as never) as MessageShape<
    Methods[K]['output']
  >;
}

function codeOf(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (DomainError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

const withWf = (workflowId: string, name: string, ...rest: WorkflowEvent[]) =>
  [evt('created', { workflowId, name }), ...rest].map((e) => {
    (e.body.value as { workflowId: string }).workflowId = workflowId;
    return e;
  });

// Versions: 1 created, 2-5 steps, 6 started, 7 a started, 8 a completed, 9 b started.
const pipeline = rowOf([
  ...running(
    stepAdded('a', { estimatedDurationMinutes: 10 }),
    stepAdded('b', { dependencies: ['a'], estimatedDurationMinutes: 5 }),
    stepAdded('c', { dependencies: ['a'], estimatedDurationMinutes: 20 }),
    stepAdded('d', { dependencies: ['b', 'c'], estimatedDurationMinutes: 1 }),
  ),
  executing('a'),
  evt('stepExecutionCompleted', { stepId: 'a', output: { rows: 3 } }),
  executing('b'),
]);

describe('workflow queries', () => {
  describe('FindWorkflow', () => {
    it('answers the whole workflow with steps, times and durations', () => {
      const { workflow } = query([pipeline], 'findWorkflow', {
        workflowId: 'wf-1',
      });
      expect(workflow?.summary).toMatchObject({
        workflowId: 'wf-1',
        name: 'Onboarding',
        status: WorkflowStatus.RUNNING,
        stepCount: 4,
        version: 9n,
        createdBy: 'user:test',
      });
      expect(workflow?.steps.map((s) => [s.stepId, s.status])).toEqual([
        ['a', StepStatus.COMPLETED],
        ['b', StepStatus.RUNNING],
        ['c', StepStatus.PENDING],
        ['d', StepStatus.PENDING],
      ]);
      const [a, b] = workflow!.steps;
      expect(a).toMatchObject({
        output: { rows: 3 },
        durationSeconds: 60,
        startedAt: timestampFromMs(T0 + 7 * MINUTE),
        finishedAt: timestampFromMs(T0 + 8 * MINUTE),
      });
      expect(b?.durationSeconds).toBeUndefined();
      expect(workflow?.steps[3]?.dependencies).toEqual(['b', 'c']);
      expect(workflow?.startedAt).toEqual(timestampFromMs(T0 + 6 * MINUTE));
    });
    it('shows context variables and metadata as JSON objects', () => {
      const row = rowOf([
        evt('created', { name: 'n', metadata: { owner: 'ann' } }),
        evt('contextVariableSet', { key: 'k', value: value({ n: [1, null] }) }),
      ]);
      const { workflow } = query([row], 'findWorkflow', { workflowId: 'wf-1' });
      expect(workflow?.context).toEqual({ k: { n: [1, null] } });
      expect(workflow?.metadata).toEqual({ owner: 'ann' });
    });
    it('answers an unknown workflow with NOT_FOUND and a bad id with VALIDATION_FAILED', () => {
      expect(
        codeOf(() => query([pipeline], 'findWorkflow', { workflowId: 'x' })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        codeOf(() => query([pipeline], 'findWorkflow', { workflowId: 'a.b' })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('ListWorkflows', () => {
    const rows = [
      rowOf(withWf('w1', 'Alpha')),
      rowOf(withWf('w2', 'Beta', stepAdded('a'), evt('started'))),
      rowOf(withWf('w3', 'alphabet', stepAdded('a'), evt('cancelled'))),
      rowOf(withWf('w4', 'Gamma')),
    ];
    it('pages through workflows by id with stable tokens', () => {
      const first = query(rows, 'listWorkflows', { page: { pageSize: 3 } });
      expect(first.workflows.map((w) => w.workflowId)).toEqual([
        'w1',
        'w2',
        'w3',
      ]);
      expect(first.page?.totalSize).toBe(4n);
      const second = query(rows, 'listWorkflows', {
        page: { pageSize: 3, pageToken: first.page?.nextPageToken ?? '' },
      });
      expect(second.workflows.map((w) => w.workflowId)).toEqual(['w4']);
      expect(second.page?.nextPageToken).toBe('');
    });
    it('filters by status and by name', () => {
      const drafts = query(rows, 'listWorkflows', {
        status: WorkflowStatus.DRAFT,
      });
      expect(drafts.workflows.map((w) => w.workflowId)).toEqual(['w1', 'w4']);
      expect(drafts.page?.totalSize).toBe(2n);
      const alphas = query(rows, 'listWorkflows', { nameContains: 'ALPHA' });
      expect(alphas.workflows.map((w) => w.name)).toEqual([
        'Alpha',
        'alphabet',
      ]);
      const cancelled = query(rows, 'listWorkflows', {
        status: WorkflowStatus.CANCELLED,
      });
      expect(cancelled.workflows.map((w) => w.workflowId)).toEqual(['w3']);
    });
    it('rejects a forged page token and an unknown status with VALIDATION_FAILED', () => {
      expect(
        codeOf(() =>
          query(rows, 'listWorkflows', { page: { pageToken: 'nope!' } }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        codeOf(() =>
          query(rows, 'listWorkflows', { status: 42 as WorkflowStatus }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('ExecutableSteps', () => {
    it('answers the pending steps whose dependencies are done', () => {
      const answer = query([pipeline], 'executableSteps', {
        workflowId: 'wf-1',
      });
      expect(answer.steps.map((s) => s.stepId)).toEqual(['c']);
      expect(answer.status).toBe(WorkflowStatus.RUNNING);
    });
    it('counts skipped dependencies as done', () => {
      const row = rowOf([
        ...draft(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })),
        evt('stepSkipped', { stepId: 'a' }),
      ]);
      const answer = query([row], 'executableSteps', { workflowId: 'wf-1' });
      expect(answer.steps.map((s) => s.stepId)).toEqual(['b']);
      expect(answer.status).toBe(WorkflowStatus.DRAFT);
    });
  });

  describe('Progress', () => {
    it('counts steps by status with the share done and estimates left', () => {
      expect(
        query([pipeline], 'progress', { workflowId: 'wf-1' }),
      ).toMatchObject({
        status: WorkflowStatus.RUNNING,
        totalSteps: 4,
        pending: 2,
        running: 1,
        completed: 1,
        percentComplete: 25,
        estimatedMinutesTotal: 36n,
        estimatedMinutesRemaining: 26n,
        version: 9n,
      });
    });
    it('answers 0 percent for a workflow without steps', () => {
      expect(
        query([rowOf(draft())], 'progress', { workflowId: 'wf-1' })
          .percentComplete,
      ).toBe(0);
    });
  });

  describe('CriticalPath', () => {
    it('follows the heaviest chain of dependencies', () => {
      expect(
        query([pipeline], 'criticalPath', { workflowId: 'wf-1' }),
      ).toMatchObject({
        stepIds: ['a', 'c', 'd'],
        totalMinutes: 31n,
      });
    });
    it('prefers the longer chain when estimates tie', () => {
      const row = rowOf(
        draft(
          stepAdded('x'),
          stepAdded('y', { dependencies: ['x'] }),
          stepAdded('a'),
        ),
      );
      expect(
        query([row], 'criticalPath', { workflowId: 'wf-1' }).stepIds,
      ).toEqual(['x', 'y']);
    });
    it('answers an empty path for a workflow without steps', () => {
      expect(
        query([rowOf(draft())], 'criticalPath', { workflowId: 'wf-1' }),
      ).toMatchObject({
        stepIds: [],
        totalMinutes: 0n,
      });
    });
  });

  describe('Bottlenecks', () => {
    it('ranks unfinished steps by the pending steps they hold back', () => {
      const asOf = timestampFromMs(T0 + 29 * MINUTE);
      const { bottlenecks } = query([pipeline], 'bottlenecks', {
        workflowId: 'wf-1',
        asOf,
      });
      expect(bottlenecks).toEqual([
        expect.objectContaining({
          stepId: 'b',
          blockedSteps: 1,
          elapsedMinutes: 20,
          estimatedDurationMinutes: 5,
          overEstimate: true,
          status: StepStatus.RUNNING,
        }),
        expect.objectContaining({
          stepId: 'c',
          blockedSteps: 1,
          elapsedMinutes: 0,
          overEstimate: false,
        }),
      ]);
    });
    it('answers at most `limit` bottlenecks', () => {
      const { bottlenecks } = query([pipeline], 'bottlenecks', {
        workflowId: 'wf-1',
        limit: 1,
        asOf: timestampFromMs(T0),
      });
      expect(bottlenecks.map((b) => b.stepId)).toEqual(['b']);
    });
  });

  describe('TimeoutRisks', () => {
    it('lists active steps whose elapsed time reached the threshold of their estimate', () => {
      const at = (minutes: number) =>
        timestampFromMs(T0 + (9 + minutes) * MINUTE);
      expect(
        query([pipeline], 'timeoutRisks', { workflowId: 'wf-1', asOf: at(3) })
          .risks,
      ).toEqual([]);
      const { risks } = query([pipeline], 'timeoutRisks', {
        workflowId: 'wf-1',
        asOf: at(4),
      });
      expect(risks).toEqual([
        expect.objectContaining({
          stepId: 'b',
          elapsedMinutes: 4,
          estimatedDurationMinutes: 5,
          ratio: 0.8,
          overdue: false,
        }),
      ]);
      expect(
        query([pipeline], 'timeoutRisks', {
          workflowId: 'wf-1',
          asOf: at(6),
          threshold: 1.1,
        }).risks[0],
      ).toMatchObject({ stepId: 'b', overdue: true });
    });
    it.each([-1, 11, Number.NaN])(
      'rejects the threshold %d with VALIDATION_FAILED',
      (threshold) => {
        expect(
          codeOf(() =>
            query([pipeline], 'timeoutRisks', {
              workflowId: 'wf-1',
              threshold,
            }),
          ),
        ).toBe(ErrorCode.VALIDATION_FAILED);
      },
    );
  });

  describe('TasksForAssignee', () => {
    const manual = (stepId: string, assignedTo?: string) =>
      stepAdded(stepId, {
        stepType: StepType.MANUAL,
        ...(assignedTo !== undefined && { assignedTo }),
      });
    const rows = [
      rowOf(
        withWf(
          'w1',
          'One',
          manual('m1', 'ann'),
          manual('m2'),
          evt('taskAssigned', { stepId: 'm2', assignee: 'ann' }),
          manual('m3', 'bob'),
        ),
      ),
      rowOf(
        withWf(
          'w2',
          'Two',
          manual('m1', 'bob'),
          evt('taskReassigned', { stepId: 'm1', from: 'bob', to: 'ann' }),
          manual('m2', 'ann'),
          evt('started'),
          evt('stepSkipped', { stepId: 'm2' }),
        ),
      ),
    ];
    it('pages through open tasks across workflows', () => {
      const first = query(rows, 'tasksForAssignee', {
        assignee: 'ann',
        page: { pageSize: 2 },
      });
      expect(first.tasks.map((t) => `${t.workflowId}/${t.stepId}`)).toEqual([
        'w1/m1',
        'w1/m2',
      ]);
      expect(first.page?.totalSize).toBe(3n);
      const second = query(rows, 'tasksForAssignee', {
        assignee: 'ann',
        page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? '' },
      });
      expect(second.tasks).toEqual([
        expect.objectContaining({
          workflowId: 'w2',
          workflowName: 'Two',
          workflowStatus: WorkflowStatus.RUNNING,
          stepId: 'm1',
          status: StepStatus.PENDING,
          stepType: StepType.MANUAL,
        }),
      ]);
      expect(second.page?.nextPageToken).toBe('');
    });
    it('includes finished tasks when asked', () => {
      const all = query(rows, 'tasksForAssignee', {
        assignee: 'ann',
        includeFinished: true,
      });
      expect(all.tasks.map((t) => `${t.workflowId}/${t.stepId}`)).toEqual([
        'w1/m1',
        'w1/m2',
        'w2/m1',
        'w2/m2',
      ]);
      expect(
        query(rows, 'tasksForAssignee', { assignee: 'bob' }).tasks.map(
          (t) => t.stepId,
        ),
      ).toEqual(['m3']);
    });
    it('rejects a blank assignee and a forged token with VALIDATION_FAILED', () => {
      expect(
        codeOf(() => query(rows, 'tasksForAssignee', { assignee: ' ' })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        codeOf(() =>
          query(rows, 'tasksForAssignee', {
            assignee: 'ann',
            page: { pageToken: Buffer.from('k:a:b:c').toString('base64url') },
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('TaskOutputs', () => {
    it('answers outputs and forms of completed steps', () => {
      const row = rowOf([
        ...running(
          stepAdded('a'),
          stepAdded('m', { stepType: StepType.MANUAL, assignedTo: 'ann' }),
        ),
        executing('a'),
        evt('stepExecutionCompleted', { stepId: 'a', output: { n: 1 } }),
        evt('taskStarted', { stepId: 'm', assignee: 'ann' }),
        evt('taskCompleted', {
          stepId: 'm',
          completedBy: 'ann',
          formData: { ok: true },
        }),
      ]);
      const { outputs } = query([row], 'taskOutputs', { workflowId: 'wf-1' });
      expect(outputs).toEqual([
        expect.objectContaining({
          stepId: 'a',
          output: { n: 1 },
          completedBy: '',
        }),
        expect.objectContaining({
          stepId: 'm',
          formData: { ok: true },
          completedBy: 'ann',
          finishedAt: timestampFromMs(T0 + 8 * MINUTE),
        }),
      ]);
    });
  });

  describe('joins and timers', () => {
    // Versions: 1 created, 2-5 steps, 6 started, 7-8 b ran, 9-10 j ran, 11 t started.
    const flow = (...more: WorkflowEvent[]) =>
      rowOf([
        ...running(
          stepAdded('b'),
          stepAdded('c'),
          stepAdded('j', {
            stepType: StepType.JOIN,
            dependencies: ['b', 'c'],
            join: { mode: JoinMode.WAIT_ANY },
          }),
          stepAdded('t', {
            stepType: StepType.TIMER,
            dependencies: ['j'],
            timer: { kind: TimerKind.DELAY, minutes: 30 },
          }),
        ),
        executing('b'),
        evt('stepExecutionCompleted', { stepId: 'b' }),
        ...more,
      ]);
    it('lists a join among the executable steps once its policy is met', () => {
      const { steps } = query([flow()], 'executableSteps', {
        workflowId: 'wf-1',
      });
      expect(steps.map((s) => s.stepId)).toEqual(['c', 'j']);
      expect(steps[1]?.join).toMatchObject({ mode: JoinMode.WAIT_ANY });
    });
    it('shows a started timer with the time it is due, and reports it in TimeoutRisks', () => {
      const row = flow(
        executing('j'),
        evt('stepExecutionCompleted', { stepId: 'j' }),
        executing('t'),
      );
      const { workflow } = query([row], 'findWorkflow', { workflowId: 'wf-1' });
      const timer = workflow?.steps.find((s) => s.stepId === 't');
      expect(timer).toMatchObject({
        timer: { kind: TimerKind.DELAY, minutes: 30 },
        dueAt: timestampFromMs(T0 + 41 * MINUTE),
      });
      const { risks } = query([row], 'timeoutRisks', {
        workflowId: 'wf-1',
        asOf: timestampFromMs(T0 + 35 * MINUTE),
      });
      expect(risks).toEqual([
        expect.objectContaining({
          stepId: 't',
          estimatedDurationMinutes: 30,
          ratio: 0.8,
          overdue: false,
          timerKind: TimerKind.DELAY,
        }),
      ]);
    });
    it('shows when a timer fired, in FindWorkflow and TimeoutRisks', () => {
      // Versions: 1 created, 2 t added, 3 started, 4 t started (at T0 + 4 min), 5 fired.
      const startedAtMs = T0 + 4 * MINUTE;
      const dueAtMs = startedAtMs + 90_000;
      const row = rowOf([
        ...running(
          stepAdded('t', {
            stepType: StepType.TIMER,
            timer: { kind: TimerKind.SLA, minutes: 1, seconds: 30 },
          }),
        ),
        evt('stepExecutionStarted', {
          stepId: 't',
          startedAt: timestampFromMs(startedAtMs),
        }),
        evt('stepTimerElapsed', {
          stepId: 't',
          kind: TimerKind.SLA,
          dueAt: timestampFromMs(dueAtMs),
          firedAt: timestampFromMs(dueAtMs + 300),
        }),
      ]);
      const { workflow } = query([row], 'findWorkflow', { workflowId: 'wf-1' });
      expect(workflow?.steps.find((s) => s.stepId === 't')).toMatchObject({
        status: StepStatus.RUNNING,
        timer: { kind: TimerKind.SLA, minutes: 1, seconds: 30 },
        dueAt: timestampFromMs(dueAtMs),
        timerFiredAt: timestampFromMs(dueAtMs + 300),
      });
      const { risks } = query([row], 'timeoutRisks', {
        workflowId: 'wf-1',
        asOf: timestampFromMs(T0 + 7 * MINUTE),
      });
      expect(risks).toEqual([
        expect.objectContaining({
          stepId: 't',
          estimatedDurationMinutes: 2,
          ratio: 2,
          overdue: true,
          timerKind: TimerKind.SLA,
          dueAt: timestampFromMs(dueAtMs),
          timerFiredAt: timestampFromMs(dueAtMs + 300),
        }),
      ]);
    });
    it('shows the template a workflow came from', () => {
      const row = rowOf([
        evt('created', {
          name: 'n',
          templateName: 'Onboarding',
          templateVersion: 3,
          templateParameters: { hire: 'bob' },
        }),
      ]);
      const { workflow } = query([row], 'findWorkflow', { workflowId: 'wf-1' });
      expect(workflow?.summary).toMatchObject({
        templateName: 'Onboarding',
        templateVersion: 3,
      });
      expect(workflow?.templateParameters).toEqual({ hire: 'bob' });
    });
  });

  describe('FindTransaction', () => {
    const row = rowOf([
      ...running(stepAdded('a')),
      executing('a'),
      evt('crossDomainTransactionStarted', {
        stepId: 'a',
        transactionId: 'tx-1',
        correlationId: 'wftx:wf-1:tx-1',
        participants: [
          { domain: 'document', operation: 'd.Op' },
          { domain: 'graph', operation: 'g.Op', parameters: { n: 1 } },
        ],
      }),
      evt('crossDomainTransactionPrepared', {
        stepId: 'a',
        transactionId: 'tx-1',
        participant: 'graph',
        details: { aggregateId: 'g-1' },
      }),
    ]);
    it('answers a transaction with every participant and its vote, also in FindWorkflow', () => {
      const { transaction } = query([row], 'findTransaction', {
        workflowId: 'wf-1',
        transactionId: 'tx-1',
      });
      expect(transaction).toMatchObject({
        transactionId: 'tx-1',
        stepId: 'a',
        correlationId: 'wftx:wf-1:tx-1',
        status: TransactionStatus.OPEN,
        participants: [
          {
            domain: 'document',
            operation: 'd.Op',
            vote: ParticipantVote.PENDING,
          },
          {
            domain: 'graph',
            parameters: { n: 1 },
            vote: ParticipantVote.PREPARED,
            details: { aggregateId: 'g-1' },
          },
        ],
      });
      const { workflow } = query([row], 'findWorkflow', { workflowId: 'wf-1' });
      expect(workflow?.transactions).toEqual([transaction]);
      expect(workflow?.steps[0]?.awaitingCorrelationId).toBe('wftx:wf-1:tx-1');
    });
    it('answers an unknown transaction with NOT_FOUND and a bad id with VALIDATION_FAILED', () => {
      expect(
        codeOf(() =>
          query([row], 'findTransaction', {
            workflowId: 'wf-1',
            transactionId: 'tx-2',
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        codeOf(() =>
          query([row], 'findTransaction', {
            workflowId: 'wf-1',
            transactionId: 'a.b',
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });
});
