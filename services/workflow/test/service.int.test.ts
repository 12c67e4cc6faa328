import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { graphService } from '@cim/graph';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  eventSubject,
  uuidv7,
} from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  ArchiveGraphSchema,
  CreateGraphSchema,
  GraphEventSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  JoinMode,
  ParticipantVote,
  StepStatus,
  StepType,
  TimerKind,
  TransactionStatus,
  WorkflowCommandService,
  WorkflowEventSchema,
  WorkflowQueryService,
  WorkflowStatus,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { RunningService } from '@cim/service';
import { AggregateLoader } from '@cim/service/internal';
import {
  consumerSettled,
  countCommits,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
  rejection,
  withoutSnapshotMark,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { reviveWorkflowState, workflowDecider } from '../src/domain/index.js';
import { defineWorkflowService, workflowService } from '../src/service.js';
import { reviewTemplate } from './fixtures.js';

const cmd = WorkflowCommandService.method;
const qry = WorkflowQueryService.method;
const RESULTS_CONSUMER = 'cim-workflow-results-graph';

/** Commits stored on one aggregate's subject of a domain's stream (checkpoints not counted). */
const commitsOf = (nc: NatsConnection, domain: string, aggregateId: string) =>
  countCommits(nc, domain, aggregateId);

/** The last commit stored for a workflow. */
async function lastCommit(nc: NatsConnection, workflowId: string) {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage('CIM_WORKFLOW', {
    last_by_subj: eventSubject('workflow', workflowId),
  });
  if (stored === null) throw new Error(`no commit for ${workflowId}`);
  return decodeCommit(stored.data);
}

/** Waits until the workflow's results reaction has settled every graph commit stored so far. */
const reactionSettled = (nc: NatsConnection) =>
  consumerSettled(nc, 'graph', RESULTS_CONSUMER);

/** Sends graph.CreateGraph as the performer of an operation does: under the operation's correlation id. */
async function createGraphFor(
  nc: NatsConnection,
  correlationId: string,
  graphId = uuidv7(),
): Promise<string> {
  const reply = await request(
    nc,
    'cim.graph.cmd.CreateGraph',
    toBinary(
      CreateGraphSchema,
      create(CreateGraphSchema, { graphId, name: 'made for a workflow' }),
    ),
    {
      headers: {
        [Header.commandId]: uuidv7(),
        [Header.correlationId]: correlationId,
        [Header.actor]: 'service:operations',
      },
    },
  );
  return fromBinary(CommandResultSchema, reply).aggregateId;
}

describe('workflow service over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graph: RunningService;
  let running: RunningService;
  const start = (options: { snapshotEvery?: number } = {}) =>
    workflowService.start({ nc, log: testLogger(), ...options });

  const totalCommits = () => countCommits(nc, 'workflow');

  async function newWorkflow(name = 'wf'): Promise<string> {
    const workflowId = uuidv7();
    await sendCommand(nc, cmd.createWorkflow, { workflowId, name });
    return workflowId;
  }

  /** A running workflow with one started automated step `op`; answers its id and version. */
  async function startedStep(maxRetries = 0) {
    const workflowId = await newWorkflow('ops');
    await sendCommand(nc, cmd.addStep, {
      workflowId,
      stepId: 'op',
      name: 'make a graph',
      stepType: StepType.INTEGRATION,
      maxRetries,
    });
    await sendCommand(nc, cmd.startWorkflow, { workflowId });
    const started = await sendCommand(nc, cmd.startStepExecution, {
      workflowId,
      stepId: 'op',
    });
    return { workflowId, version: started.version };
  }

  async function stepOf(workflowId: string, stepId: string, minVersion = 0n) {
    const { workflow } = await sendQuery(nc, qry.findWorkflow, {
      workflowId,
      minVersion,
    });
    return workflow?.steps.find((s) => s.stepId === stepId);
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    graph = await graphService.start({ nc, log: testLogger() });
    running = await start();
  });

  afterAll(async () => {
    await running.stop();
    await graph.stop();
    await nc.close();
    await server.stop();
  });

  describe('when a workflow runs', () => {
    it('runs steps, tasks and approvals in order and answers queries with what was committed', async () => {
      const workflowId = await newWorkflow('onboarding');
      await sendCommand(nc, cmd.addStep, {
        workflowId,
        stepId: 'account',
        name: 'Create account',
        stepType: StepType.AUTOMATED,
        estimatedDurationMinutes: 5,
      });
      await sendCommand(nc, cmd.addStep, {
        workflowId,
        stepId: 'form',
        name: 'Fill in form',
        stepType: StepType.MANUAL,
        dependencies: ['account'],
        assignedTo: 'user:ann',
        estimatedDurationMinutes: 30,
      });
      await sendCommand(nc, cmd.addStep, {
        workflowId,
        stepId: 'sign',
        name: 'Sign off',
        stepType: StepType.APPROVAL,
        dependencies: ['account'],
      });
      await sendCommand(nc, cmd.startWorkflow, {
        workflowId,
        context: { hire: 'bob' },
      });
      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'account',
      });
      const done = await sendCommand(nc, cmd.completeStepExecution, {
        workflowId,
        stepId: 'account',
        output: { uid: 42 },
      });
      const ready = await sendQuery(nc, qry.executableSteps, {
        workflowId,
        minVersion: done.version,
      });
      expect(ready.steps.map((s) => s.stepId)).toEqual(['form', 'sign']);

      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'form',
      });
      expect(
        await rejection(
          sendCommand(nc, cmd.completeTask, {
            workflowId,
            stepId: 'form',
            completedBy: 'user:eve',
          }),
        ),
      ).toBe(ErrorCode.UNAUTHORIZED);
      await sendCommand(nc, cmd.completeTask, {
        workflowId,
        stepId: 'form',
        completedBy: 'user:ann',
        formData: { laptop: 'mac' },
      });
      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'sign',
      });
      await sendCommand(nc, cmd.requestStepApproval, {
        workflowId,
        stepId: 'sign',
        approver: 'user:boss',
      });
      await sendCommand(nc, cmd.grantStepApproval, {
        workflowId,
        stepId: 'sign',
        approver: 'user:boss',
      });
      const completed = await sendCommand(nc, cmd.completeWorkflow, {
        workflowId,
      });
      expect(completed.version).toBe(13n);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(13);

      const { workflow } = await sendQuery(nc, qry.findWorkflow, {
        workflowId,
        minVersion: completed.version,
      });
      expect(workflow?.summary).toMatchObject({
        status: WorkflowStatus.COMPLETED,
        stepCount: 3,
        version: 13n,
        createdBy: 'user:test',
      });
      expect(workflow?.context).toEqual({
        hire: 'bob',
        step_form_laptop: 'mac',
      });
      expect(
        workflow?.steps.map((s) => [s.stepId, s.status, s.completedBy]),
      ).toEqual([
        ['account', StepStatus.COMPLETED, ''],
        ['form', StepStatus.COMPLETED, 'user:ann'],
        ['sign', StepStatus.COMPLETED, 'user:boss'],
      ]);
      const progress = await sendQuery(nc, qry.progress, { workflowId });
      expect(progress).toMatchObject({ percentComplete: 100, totalSteps: 3 });
      const path = await sendQuery(nc, qry.criticalPath, { workflowId });
      expect(path).toMatchObject({
        stepIds: ['account', 'form'],
        totalMinutes: 35n,
      });
      const outputs = await sendQuery(nc, qry.taskOutputs, { workflowId });
      expect(outputs.outputs.map((o) => o.stepId)).toEqual([
        'account',
        'form',
        'sign',
      ]);
      const listed = await sendQuery(nc, qry.listWorkflows, {
        status: WorkflowStatus.COMPLETED,
      });
      expect(listed.workflows.map((w) => w.workflowId)).toContain(workflowId);
      expect(
        (await lastCommit(nc, workflowId)).events.map((e) => e.eventType),
      ).toEqual(['WorkflowCompleted']);
    });

    it('answers the built-in History query with the commits of a workflow', async () => {
      const { workflowId } = await startedStep();
      const history = await sendQuery(nc, qry.history, {
        aggregateId: workflowId,
      });
      expect(
        history.entries.map((e) => e.events.map((x) => x.eventType)),
      ).toEqual([
        ['WorkflowCreated'],
        ['StepAdded'],
        ['WorkflowStarted'],
        ['StepExecutionStarted'],
      ]);
    });

    it('retries a failed execution until its retries are used up', async () => {
      const { workflowId } = await startedStep(1);
      const retried = await sendCommand(nc, cmd.failStepExecution, {
        workflowId,
        stepId: 'op',
        error: 'timeout',
      });
      expect(await stepOf(workflowId, 'op', retried.version)).toMatchObject({
        status: StepStatus.RUNNING,
        retryCount: 1,
        error: 'timeout',
      });
      const failed = await sendCommand(nc, cmd.failStepExecution, {
        workflowId,
        stepId: 'op',
        error: 'timeout again',
      });
      expect(await stepOf(workflowId, 'op', failed.version)).toMatchObject({
        status: StepStatus.FAILED,
        retryCount: 1,
      });
      expect(
        (await lastCommit(nc, workflowId)).events.map((e) => e.eventType),
      ).toEqual(['StepFailed']);
    });

    it('lists the tasks of an assignee across workflows', async () => {
      const assignee = `user:${uuidv7()}`;
      const ids = [await newWorkflow('t1'), await newWorkflow('t2')].sort();
      for (const workflowId of ids) {
        await sendCommand(nc, cmd.addStep, {
          workflowId,
          stepId: 'task',
          name: 'Do it',
          stepType: StepType.MANUAL,
        });
      }
      const last = await sendCommand(nc, cmd.assignTask, {
        workflowId: ids[1]!,
        stepId: 'task',
        assignee,
      });
      await sendCommand(nc, cmd.assignTask, {
        workflowId: ids[0]!,
        stepId: 'task',
        assignee,
      });
      await sendQuery(nc, qry.findWorkflow, {
        workflowId: ids[1]!,
        minVersion: last.version,
      });
      await sendQuery(nc, qry.findWorkflow, {
        workflowId: ids[0]!,
        minVersion: 3n,
      });
      const tasks = await sendQuery(nc, qry.tasksForAssignee, { assignee });
      expect(tasks.tasks.map((t) => t.workflowId)).toEqual(ids);
    });
  });

  describe('when a step awaits an operation of the graph domain', () => {
    async function requested(maxRetries = 0) {
      const { workflowId } = await startedStep(maxRetries);
      const result = await sendCommand(nc, cmd.requestCrossDomainOperation, {
        workflowId,
        stepId: 'op',
        targetDomain: 'graph',
        operation: 'graph.CreateGraph',
        parameters: { name: 'made for a workflow' },
      });
      const step = await stepOf(workflowId, 'op', result.version);
      const correlationId = step?.awaitingCorrelationId ?? '';
      expect(correlationId).toBe(`wf:${workflowId}:op:${result.commandId}`);
      return { workflowId, version: result.version, correlationId };
    }

    it('completes the step once the graph commits under its correlation id, and a redelivery changes nothing', async () => {
      const { workflowId, version, correlationId } = await requested();
      const graphId = await createGraphFor(nc, correlationId);

      const step = await stepOf(workflowId, 'op', version + 1n);
      expect(step).toMatchObject({
        status: StepStatus.COMPLETED,
        awaitingCorrelationId: '',
        output: {
          domain: 'graph',
          eventType: 'GraphCreated',
          aggregateId: graphId,
          version: 1,
        },
      });
      const commit = await lastCommit(nc, workflowId);
      expect(commit.events.map((e) => e.eventType)).toEqual([
        'StepExecutionCompleted',
      ]);
      expect(commit).toMatchObject({
        correlationId,
        actor: 'service:workflow',
      });
      const graphCommit = decodeCommit(
        (await (
          await jetstreamManager(nc)
        ).streams.getMessage('CIM_GRAPH', {
          last_by_subj: eventSubject('graph', graphId),
        }))!.data,
      );
      expect(commit.causationId).toBe(graphCommit.events[0]?.eventId);
      await reactionSettled(nc);

      // Redeliver every graph event: a new durable consumer starts from the beginning.
      const commits = await commitsOf(nc, 'workflow', workflowId);
      await running.stop();
      await (
        await jetstreamManager(nc)
      ).consumers.delete('CIM_GRAPH', RESULTS_CONSUMER);
      running = await start();
      await reactionSettled(nc);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(commits);
      const again = await sendQuery(nc, qry.findWorkflow, { workflowId });
      expect(again.workflow?.summary?.version).toBe(version + 1n);
      expect(again.workflow?.steps[0]?.status).toBe(StepStatus.COMPLETED);
    });

    it('acknowledges an answer for a step settled meanwhile, refused with INVALID_TRANSITION, and changes nothing', async () => {
      const { workflowId, version, correlationId } = await requested();
      await sendCommand(nc, cmd.skipStep, {
        workflowId,
        stepId: 'op',
        reason: 'done by hand',
      });
      expect(
        await rejection(
          sendCommand(nc, cmd.completeStepExecution, {
            workflowId,
            stepId: 'op',
            correlationId,
          }),
        ),
      ).toBe(ErrorCode.INVALID_TRANSITION);
      await createGraphFor(nc, correlationId);
      // Settled means acknowledged: a refusal is an answer, not a retry.
      await reactionSettled(nc);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(
        Number(version) + 1,
      );
      expect(await stepOf(workflowId, 'op', version + 1n)).toMatchObject({
        status: StepStatus.SKIPPED,
      });
    });

    it('leaves the step waiting when a graph commit answers another operation', async () => {
      const { workflowId, version, correlationId } = await requested();
      const stale = correlationId.replace(/:[^:]+$/, `:${uuidv7()}`);
      await createGraphFor(nc, stale);
      await createGraphFor(nc, uuidv7());
      await reactionSettled(nc);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(Number(version));
      expect(await stepOf(workflowId, 'op')).toMatchObject({
        status: StepStatus.RUNNING,
        awaitingCorrelationId: correlationId,
      });
      // The real answer still completes it.
      await createGraphFor(nc, correlationId);
      expect((await stepOf(workflowId, 'op', version + 1n))?.status).toBe(
        StepStatus.COMPLETED,
      );
    });
  });

  describe('when a step runs a cross-domain transaction', () => {
    /** A transaction over graph (voting through the reaction) and location (voting by command). */
    async function opened(maxRetries = 0) {
      const { workflowId } = await startedStep(maxRetries);
      const transactionId = `tx-${uuidv7()}`;
      const result = await sendCommand(nc, cmd.startCrossDomainTransaction, {
        workflowId,
        stepId: 'op',
        transactionId,
        participants: [
          { domain: 'location', operation: 'location.DefineLocation' },
          { domain: 'graph', operation: 'graph.CreateGraph' },
        ],
      });
      const correlationId = `wftx:${workflowId}:${transactionId}`;
      return { workflowId, transactionId, correlationId, ...result };
    }

    it('records the prepared votes, refuses to commit before all are in, then commits and completes the step', async () => {
      const { workflowId, transactionId, correlationId, version } =
        await opened();
      expect(
        (await stepOf(workflowId, 'op', version))?.awaitingCorrelationId,
      ).toBe(correlationId);
      const graphId = await createGraphFor(nc, correlationId);
      const { transaction } = await sendQuery(nc, qry.findTransaction, {
        workflowId,
        transactionId,
        minVersion: version + 1n,
      });
      expect(transaction).toMatchObject({
        status: TransactionStatus.OPEN,
        participants: [
          {
            domain: 'graph',
            vote: ParticipantVote.PREPARED,
            details: { aggregateId: graphId, eventType: 'GraphCreated' },
          },
          { domain: 'location', vote: ParticipantVote.PENDING },
        ],
      });
      const prepared = await lastCommit(nc, workflowId);
      expect(prepared).toMatchObject({
        correlationId,
        actor: 'service:workflow',
      });

      expect(
        await rejection(
          sendCommand(nc, cmd.commitCrossDomainTransaction, {
            workflowId,
            transactionId,
          }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(
        Number(version) + 1,
      );

      await sendCommand(nc, cmd.recordTransactionVote, {
        workflowId,
        transactionId,
        participant: 'location',
        vote: ParticipantVote.PREPARED,
      });
      const committed = await sendCommand(
        nc,
        cmd.commitCrossDomainTransaction,
        { workflowId, transactionId },
      );
      expect(
        (await lastCommit(nc, workflowId)).events.map((e) => e.eventType),
      ).toEqual(['CrossDomainTransactionCommitted', 'StepExecutionCompleted']);
      const step = await stepOf(workflowId, 'op', committed.version);
      expect(step).toMatchObject({
        status: StepStatus.COMPLETED,
        awaitingCorrelationId: '',
        output: {
          transactionId,
          participants: { graph: { aggregateId: graphId }, location: {} },
        },
      });
      const after = await sendQuery(nc, qry.findTransaction, {
        workflowId,
        transactionId,
      });
      expect(after.transaction?.status).toBe(TransactionStatus.COMMITTED);
      await reactionSettled(nc);
    });

    it('rolls back on a refusal, counting a retry, and a new transaction can follow', async () => {
      const { workflowId, transactionId } = await opened(1);
      const refused = await sendCommand(nc, cmd.recordTransactionVote, {
        workflowId,
        transactionId,
        participant: 'location',
        vote: ParticipantVote.REFUSED,
        reason: 'no such place',
      });
      expect(
        (await lastCommit(nc, workflowId)).events.map((e) => e.eventType),
      ).toEqual(['CrossDomainTransactionRolledBack', 'StepExecutionFailed']);
      expect(await stepOf(workflowId, 'op', refused.version)).toMatchObject({
        status: StepStatus.RUNNING,
        retryCount: 1,
        error: 'location refused: no such place',
      });
      const { transaction } = await sendQuery(nc, qry.findTransaction, {
        workflowId,
        transactionId,
      });
      expect(transaction).toMatchObject({
        status: TransactionStatus.ROLLED_BACK,
        refusedBy: 'location',
      });
      const again = await sendCommand(nc, cmd.startCrossDomainTransaction, {
        workflowId,
        stepId: 'op',
        participants: [{ domain: 'graph', operation: 'graph.CreateGraph' }],
      });
      await sendCommand(nc, cmd.rollBackCrossDomainTransaction, {
        workflowId,
        transactionId: again.commandId,
        reason: 'not needed',
      });
      expect(await stepOf(workflowId, 'op', again.version + 1n)).toMatchObject({
        status: StepStatus.FAILED,
        error: 'not needed',
      });
    });

    it('refuses a vote from a domain that takes no part and appends nothing', async () => {
      const { workflowId, transactionId, version } = await opened();
      expect(
        await rejection(
          sendCommand(nc, cmd.recordTransactionVote, {
            workflowId,
            transactionId,
            participant: 'document',
            vote: ParticipantVote.PREPARED,
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(Number(version));
    });
  });

  describe('when a workflow is created from a template', () => {
    it('creates the workflow and its steps in one commit, and runs a wait_any join', async () => {
      const workflowId = uuidv7();
      const created = await sendCommand(nc, cmd.createWorkflowFromTemplate, {
        workflowId,
        template: reviewTemplate(),
        parameters: { author: 'user:ann' },
      });
      expect(created.version).toBe(8n);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(1);
      const { workflow } = await sendQuery(nc, qry.findWorkflow, {
        workflowId,
        minVersion: created.version,
      });
      expect(workflow?.summary).toMatchObject({
        templateName: 'Review',
        templateVersion: 1,
        status: WorkflowStatus.DRAFT,
        stepCount: 7,
      });
      expect(workflow?.templateParameters).toEqual({
        author: 'user:ann',
        minutes: 60,
      });
      const byId = new Map(workflow?.steps.map((s) => [s.stepId, s]));
      expect(byId.get('draft')).toMatchObject({
        name: 'Draft by user:ann',
        assignedTo: 'user:ann',
        stepType: StepType.MANUAL,
        dependencies: ['s'],
      });
      expect(byId.get('check')?.config).toEqual({ budget: 60 });
      expect(byId.get('j')).toMatchObject({
        stepType: StepType.JOIN,
        join: { mode: JoinMode.WAIT_ANY },
        dependencies: ['check', 'review'],
      });
      expect(byId.get('wait')?.timer).toMatchObject({
        kind: TimerKind.REMINDER,
        minutes: 15,
      });

      await sendCommand(nc, cmd.startWorkflow, { workflowId });
      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 's',
      });
      await sendCommand(nc, cmd.completeStepExecution, {
        workflowId,
        stepId: 's',
      });
      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'draft',
      });
      await sendCommand(nc, cmd.completeTask, {
        workflowId,
        stepId: 'draft',
        completedBy: 'user:ann',
      });
      expect(
        await rejection(
          sendCommand(nc, cmd.startStepExecution, { workflowId, stepId: 'j' }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'check',
      });
      const checked = await sendCommand(nc, cmd.completeStepExecution, {
        workflowId,
        stepId: 'check',
      });
      // The review still waits for approval; the join needs one input only.
      const ready = await sendQuery(nc, qry.executableSteps, {
        workflowId,
        minVersion: checked.version,
      });
      expect(ready.steps.map((s) => s.stepId)).toEqual(['j', 'review']);
      const joined = await sendCommand(nc, cmd.startStepExecution, {
        workflowId,
        stepId: 'j',
      });
      expect(joined.version).toBe(checked.version + 1n);
    });

    it.each([
      [
        'a cycle',
        {
          template: reviewTemplate([
            ['s', 'draft'],
            ['draft', 'review'],
            ['review', 'check'],
            ['check', 'draft'],
            ['check', 'j'],
            ['j', 'wait'],
            ['wait', 'e'],
          ]),
          parameters: { author: 'user:ann' },
        },
        /cycle through "draft", "review", "check"/,
      ],
      [
        'an unknown parameter',
        {
          template: reviewTemplate(),
          parameters: { author: 'user:ann', colour: 'red' },
        },
        /"colour", which the template does not declare/,
      ],
      [
        'a missing required parameter',
        { template: reviewTemplate() },
        /parameter "author" is required/,
      ],
      ['no template', {}, /template is required/],
    ])(
      'answers %s with VALIDATION_FAILED and appends nothing',
      async (_what, fields, message) => {
        const before = await totalCommits();
        const workflowId = uuidv7();
        const error = await sendCommand(nc, cmd.createWorkflowFromTemplate, {
          workflowId,
          ...fields,
        }).catch((e: unknown) => e);
        expect(DomainError.is(error) && error.code).toBe(
          ErrorCode.VALIDATION_FAILED,
        );
        expect((error as Error).message).toMatch(message);
        expect(await totalCommits()).toBe(before);
        expect(
          await rejection(sendQuery(nc, qry.findWorkflow, { workflowId })),
        ).toBe(ErrorCode.NOT_FOUND);
      },
    );
  });

  describe('when the input is bad', () => {
    it('answers garbage bytes with VALIDATION_FAILED and appends nothing', async () => {
      const before = await totalCommits();
      const error = await request(
        nc,
        'cim.workflow.cmd.AddStep',
        Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0x01),
        { headers: { [Header.commandId]: uuidv7() } },
      ).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await totalCommits()).toBe(before);
    });

    it('answers a missing field with VALIDATION_FAILED and appends nothing', async () => {
      const workflowId = await newWorkflow();
      expect(
        await rejection(
          sendCommand(nc, cmd.addStep, { workflowId, stepId: 's', name: 'n' }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(1);
    });

    it('answers an unknown workflow with NOT_FOUND and appends nothing', async () => {
      const workflowId = uuidv7();
      expect(
        await rejection(sendCommand(nc, cmd.startWorkflow, { workflowId })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await rejection(sendQuery(nc, qry.progress, { workflowId }))).toBe(
        ErrorCode.NOT_FOUND,
      );
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(0);
    });

    it('answers an oversize field, an id that is no subject token and a malformed command id with VALIDATION_FAILED', async () => {
      const before = await totalCommits();
      expect(
        await rejection(
          sendCommand(nc, cmd.createWorkflow, {
            name: 'x',
            description: 'd'.repeat(4001),
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        await rejection(
          sendCommand(nc, cmd.createWorkflow, { workflowId: 'a.b', name: 'x' }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        await rejection(
          sendCommand(
            nc,
            cmd.createWorkflow,
            { name: 'x' },
            { commandId: 'not-a-uuid' },
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await totalCommits()).toBe(before);
    });

    it('refuses a dependency that would close a cycle and appends nothing', async () => {
      const workflowId = await newWorkflow();
      for (const stepId of ['a', 'b'])
        await sendCommand(nc, cmd.addStep, {
          workflowId,
          stepId,
          name: stepId,
          stepType: StepType.AUTOMATED,
          ...(stepId === 'b' && { dependencies: ['a'] }),
        });
      expect(
        await rejection(
          sendCommand(nc, cmd.addStepDependency, {
            workflowId,
            stepId: 'a',
            dependsOn: 'b',
          }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      expect(await commitsOf(nc, 'workflow', workflowId)).toBe(3);
    });
  });

  describe('when the service restarts', () => {
    it('rebuilds the same read model and continues the aggregate where it was', async () => {
      const { workflowId, version } = await startedStep();
      await sendCommand(nc, cmd.setContextVariable, {
        workflowId,
        key: 'k',
        value: { kind: { case: 'stringValue', value: 'v' } },
      });
      const before = await sendQuery(nc, qry.findWorkflow, {
        workflowId,
        minVersion: version + 1n,
      });
      await running.stop();
      running = await start();
      expect(await sendQuery(nc, qry.findWorkflow, { workflowId })).toEqual(
        before,
      );
      const next = await sendCommand(nc, cmd.completeStepExecution, {
        workflowId,
        stepId: 'op',
      });
      expect(next.version).toBe(version + 2n);
    });

    it('loads a workflow from its snapshot plus the tail to the same state as a full replay', async () => {
      await running.stop();
      running = await start({ snapshotEvery: 4 });
      const workflowId = await newWorkflow();
      for (let i = 0; i < 9; i++)
        await sendCommand(nc, cmd.addStep, {
          workflowId,
          stepId: `s${i}`,
          name: `step ${i}`,
          stepType: StepType.AUTOMATED,
          ...(i > 0 && { dependencies: [`s${i - 1}`] }),
          config: { i },
        });
      await sendCommand(nc, cmd.addMetadata, {
        workflowId,
        key: 'owner',
        value: { kind: { case: 'stringValue', value: 'ann' } },
      });
      const store = await EventStore.open(nc, { domain: 'workflow' });
      const withSnapshots = new AggregateLoader(
        store,
        workflowDecider,
        WorkflowEventSchema,
        workflowService.snapshotVersion,
        reviveWorkflowState,
      );
      const fullReplay = new AggregateLoader(
        store,
        workflowDecider,
        WorkflowEventSchema,
        -1,
      );
      // Snapshots are written after the reply: wait until one is there.
      for (
        let tries = 0;
        tries < 100 &&
        (await store.snapshots.load(`agg/${workflowId}`)) === undefined;
        tries++
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await store.snapshots.load(`agg/${workflowId}`)).toBeDefined();
      const fromSnapshot = await withSnapshots.load(
        workflowId,
        () => undefined,
      );
      const replayed = await fullReplay.load(workflowId, () => undefined);
      expect(withoutSnapshotMark(fromSnapshot)).toEqual(
        withoutSnapshotMark(replayed),
      );
      expect(fromSnapshot.snapshot.version).toBeGreaterThan(0n);
      expect(replayed.snapshot).toEqual({ version: 0n, bytes: 0 });
      expect(replayed.version).toBe(11n);
      store.close();
    });
  });

  it('keeps every commit of every workflow on its hash chain', async () => {
    const store = await EventStore.open(nc, { domain: 'workflow' });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_WORKFLOW', {
      subjects_filter: 'cim.workflow.evt.>',
    });
    const loader = new AggregateLoader(
      store,
      workflowDecider,
      WorkflowEventSchema,
      -1,
    );
    const subjects = Object.keys(info.state.subjects ?? {});
    expect(subjects.length).toBeGreaterThan(5);
    for (const subject of subjects) {
      // load() verifies every link and throws IntegrityError on a broken one.
      await loader.load(
        subject.slice('cim.workflow.evt.'.length),
        () => undefined,
      );
    }
    store.close();
  });
});

describe('workflow service with a source that reports failures', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graph: RunningService;
  let workflow: RunningService;
  // Here an archived graph stands for a failed operation, and only archives answer.
  const failing = defineWorkflowService([
    {
      domain: 'graph',
      event: GraphEventSchema,
      events: ['GraphArchived'],
      failure: () => 'the graph was archived',
    },
  ]);

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    graph = await graphService.start({ nc, log: testLogger() });
    workflow = await failing.start({ nc, log: testLogger() });
  });

  afterAll(async () => {
    await workflow.stop();
    await graph.stop();
    await nc.close();
    await server.stop();
  });

  it('fails the waiting step when the answering event reports a failure', async () => {
    const workflowId = uuidv7();
    await sendCommand(nc, cmd.createWorkflow, { workflowId, name: 'f' });
    await sendCommand(nc, cmd.addStep, {
      workflowId,
      stepId: 'op',
      name: 'op',
      stepType: StepType.AUTOMATED,
    });
    await sendCommand(nc, cmd.startWorkflow, { workflowId });
    await sendCommand(nc, cmd.startStepExecution, { workflowId, stepId: 'op' });
    const requested = await sendCommand(nc, cmd.requestCrossDomainOperation, {
      workflowId,
      stepId: 'op',
      targetDomain: 'graph',
      operation: 'graph.ArchiveGraph',
    });
    const correlationId = `wf:${workflowId}:op:${requested.commandId}`;
    const graphId = await createGraphFor(nc, correlationId);
    await reactionSettled(nc);
    // GraphCreated is not an answering event type here.
    expect(await commitsOf(nc, 'workflow', workflowId)).toBe(5);

    await request(
      nc,
      'cim.graph.cmd.ArchiveGraph',
      toBinary(ArchiveGraphSchema, create(ArchiveGraphSchema, { graphId })),
      {
        headers: {
          [Header.commandId]: uuidv7(),
          [Header.correlationId]: correlationId,
        },
      },
    );
    const { workflow: found } = await sendQuery(nc, qry.findWorkflow, {
      workflowId,
      minVersion: 6n,
    });
    expect(found?.steps[0]).toMatchObject({
      status: StepStatus.FAILED,
      error: 'the graph was archived',
      awaitingCorrelationId: '',
    });
    expect(await commitsOf(nc, 'graph', graphId)).toBe(2);
  });
});
