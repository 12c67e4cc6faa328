import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startGateway, type Gateway } from '@cim/gateway';
import { graphService } from '@cim/graph';
import { createClient, createRawClient, type GrpcClient } from '@cim/grpc';
import { uuidv7 } from '@cim/kernel';
import {
  GraphCommandService,
  file_cim_graph_v1_graph,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  JoinMode,
  ParticipantVote,
  StepStatus,
  StepType,
  TransactionStatus,
  WorkflowCommandService,
  WorkflowQueryService,
  WorkflowStatus,
  file_cim_workflow_v1_workflow,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { workflowService } from '../src/service.js';
import { reviewTemplate } from './fixtures.js';

async function grpcCode(promise: Promise<unknown>): Promise<status> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error.code;
}

describe('workflow through the gRPC gateway', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graph: RunningService;
  let workflow: RunningService;
  let gateway: Gateway;
  let commands: GrpcClient<typeof WorkflowCommandService>;
  let queries: GrpcClient<typeof WorkflowQueryService>;
  let graphs: GrpcClient<typeof GraphCommandService>;
  let address: string;

  const storedCommits = () => countCommits(nc, 'workflow');

  /** A running workflow with a started automated step `a` and a pending approval step `p`. */
  async function runningWorkflow(): Promise<{
    workflowId: string;
    version: bigint;
  }> {
    const { aggregateId: workflowId } = await commands.createWorkflow({
      name: 'release',
    });
    await commands.addStep({
      workflowId,
      stepId: 'a',
      name: 'build',
      stepType: StepType.AUTOMATED,
      estimatedDurationMinutes: 7,
    });
    await commands.addStep({
      workflowId,
      stepId: 'p',
      name: 'approve',
      stepType: StepType.APPROVAL,
      dependencies: ['a'],
    });
    await commands.startWorkflow({ workflowId });
    const started = await commands.startStepExecution({
      workflowId,
      stepId: 'a',
    });
    return { workflowId, version: started.version };
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    graph = await graphService.start({ nc, log: testLogger() });
    workflow = await workflowService.start({ nc, log: testLogger() });
    gateway = await startGateway({
      nc,
      host: '127.0.0.1',
      port: 0,
      services: [
        ...file_cim_workflow_v1_workflow.services,
        ...file_cim_graph_v1_graph.services,
      ],
      files: [file_cim_workflow_v1_workflow, file_cim_graph_v1_graph],
      log: testLogger(),
      maxMessageBytes: 64 * 1024,
    });
    address = `127.0.0.1:${gateway.port}`;
    commands = createClient(WorkflowCommandService, address);
    queries = createClient(WorkflowQueryService, address);
    graphs = createClient(GraphCommandService, address);
  });

  afterAll(async () => {
    commands.close();
    queries.close();
    graphs.close();
    await gateway.stop();
    await workflow.stop();
    await graph.stop();
    await nc.close();
    await server.stop();
  });

  it('runs a workflow and reads its progress and critical path', async () => {
    const { workflowId } = await runningWorkflow();
    const built = await commands.completeStepExecution({
      workflowId,
      stepId: 'a',
      output: { artifact: 'v1.tgz' },
    });
    await commands.startStepExecution({ workflowId, stepId: 'p' });
    await commands.requestStepApproval({
      workflowId,
      stepId: 'p',
      approver: 'user:lead',
    });
    const granted = await commands.grantStepApproval({
      workflowId,
      stepId: 'p',
      approver: 'user:lead',
    });
    expect(granted.version).toBe(built.version + 3n);

    const progress = await queries.progress({
      workflowId,
      minVersion: granted.version,
    });
    expect(progress).toMatchObject({
      status: WorkflowStatus.RUNNING,
      totalSteps: 2,
      completed: 2,
      percentComplete: 100,
    });
    const path = await queries.criticalPath({ workflowId });
    expect(path).toMatchObject({ stepIds: ['a', 'p'], totalMinutes: 7n });
    const done = await commands.completeWorkflow({ workflowId });
    // ListWorkflows reads across workflows and takes no minVersion: wait for the completion first.
    await queries.findWorkflow({ workflowId, minVersion: done.version });
    const listed = await queries.listWorkflows({
      status: WorkflowStatus.COMPLETED,
    });
    expect(listed.workflows.map((w) => w.workflowId)).toContain(workflowId);

    expect(await countCommits(nc, 'workflow', workflowId)).toBe(
      Number(done.version),
    );
  });

  it('completes a step when the performer calls the graph domain under the operation correlation id', async () => {
    const { workflowId } = await runningWorkflow();
    const requested = await commands.requestCrossDomainOperation({
      workflowId,
      stepId: 'a',
      targetDomain: 'graph',
      operation: 'graph.CreateGraph',
      parameters: { name: 'deps' },
    });
    const correlationId = `wf:${workflowId}:a:${requested.commandId}`;
    // The gateway passes a non-UUID correlation id through to the commit.
    const { aggregateId: graphId } = await graphs.createGraph(
      { name: 'deps' },
      { metadata: { 'cim-correlation-id': correlationId } },
    );
    const { workflow: found } = await queries.findWorkflow({
      workflowId,
      minVersion: requested.version + 1n,
    });
    expect(found?.steps.find((s) => s.stepId === 'a')).toMatchObject({
      status: StepStatus.COMPLETED,
      output: { aggregateId: graphId, domain: 'graph' },
    });
  });

  it('commits a transaction whose participant prepared through the graph domain', async () => {
    const { workflowId } = await runningWorkflow();
    const started = await commands.startCrossDomainTransaction({
      workflowId,
      stepId: 'a',
      participants: [{ domain: 'graph', operation: 'graph.CreateGraph' }],
    });
    const transactionId = started.commandId;
    await graphs.createGraph(
      { name: 'tx' },
      {
        metadata: {
          'cim-correlation-id': `wftx:${workflowId}:${transactionId}`,
        },
      },
    );
    const { transaction } = await queries.findTransaction({
      workflowId,
      transactionId,
      minVersion: started.version + 1n,
    });
    expect(transaction?.participants[0]?.vote).toBe(ParticipantVote.PREPARED);
    const committed = await commands.commitCrossDomainTransaction({
      workflowId,
      transactionId,
    });
    const { workflow: found } = await queries.findWorkflow({
      workflowId,
      minVersion: committed.version,
    });
    expect(found?.transactions[0]?.status).toBe(TransactionStatus.COMMITTED);
    expect(found?.steps.find((s) => s.stepId === 'a')?.status).toBe(
      StepStatus.COMPLETED,
    );
  });

  it('creates a workflow from a template and answers its executable steps', async () => {
    const created = await commands.createWorkflowFromTemplate({
      template: reviewTemplate(),
      parameters: { author: 'user:bo' },
    });
    const workflowId = created.aggregateId;
    const { workflow } = await queries.findWorkflow({
      workflowId,
      minVersion: created.version,
    });
    expect(workflow?.summary).toMatchObject({
      templateName: 'Review',
      stepCount: 7,
    });
    expect(workflow?.steps.find((s) => s.stepId === 'j')?.join?.mode).toBe(
      JoinMode.WAIT_ANY,
    );
    const ready = await queries.executableSteps({ workflowId });
    expect(ready.steps.map((s) => s.stepId)).toEqual(['s']);
  });

  describe('when the input is bad', () => {
    it.each([
      [
        'garbage bytes',
        () =>
          createRawClient(address).unary(
            WorkflowCommandService.method.addStep,
            Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'a step without a type',
        () => commands.addStep({ workflowId: uuidv7(), name: 'x' }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an unknown workflow',
        () => commands.startWorkflow({ workflowId: uuidv7() }),
        status.NOT_FOUND,
      ],
      [
        'a template with a cycle',
        () =>
          commands.createWorkflowFromTemplate({
            template: reviewTemplate([
              ['s', 'draft'],
              ['draft', 'review'],
              ['review', 'draft'],
              ['draft', 'check'],
              ['check', 'j'],
              ['review', 'j'],
              ['j', 'wait'],
              ['wait', 'e'],
            ]),
            parameters: { author: 'user:bo' },
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'a template parameter it does not declare',
        () =>
          commands.createWorkflowFromTemplate({
            template: reviewTemplate(),
            parameters: { author: 'user:bo', size: 3 },
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'a commit of an unknown transaction',
        () =>
          commands.commitCrossDomainTransaction({
            workflowId: uuidv7(),
            transactionId: 'tx',
          }),
        status.NOT_FOUND,
      ],
      [
        'a blank workflow name',
        () => commands.createWorkflow({ name: ' ' }),
        status.INVALID_ARGUMENT,
      ],
      [
        'a payload over the size limit',
        () =>
          commands.createWorkflow({
            name: 'x',
            description: 'x'.repeat(100 * 1024),
          }),
        status.RESOURCE_EXHAUSTED,
      ],
    ])(
      'answers %s with the mapped status and appends nothing',
      async (_case, call, expected) => {
        const before = await storedCommits();
        expect(await grpcCode(call())).toBe(expected);
        expect(await storedCommits()).toBe(before);
      },
    );

    it('answers a refused transition with FAILED_PRECONDITION and a wrong approver with PERMISSION_DENIED, appending nothing', async () => {
      const { workflowId } = await runningWorkflow();
      const before = await storedCommits();
      expect(await grpcCode(commands.startWorkflow({ workflowId }))).toBe(
        status.FAILED_PRECONDITION,
      );
      expect(
        await grpcCode(
          commands.addStepDependency({
            workflowId,
            stepId: 'a',
            dependsOn: 'p',
          }),
        ),
      ).toBe(status.FAILED_PRECONDITION);
      await commands.completeStepExecution({ workflowId, stepId: 'a' });
      await commands.startStepExecution({ workflowId, stepId: 'p' });
      await commands.requestStepApproval({
        workflowId,
        stepId: 'p',
        approver: 'user:lead',
      });
      const after = await storedCommits();
      expect(after).toBe(before + 3);
      expect(
        await grpcCode(
          commands.grantStepApproval({
            workflowId,
            stepId: 'p',
            approver: 'user:intern',
          }),
        ),
      ).toBe(status.PERMISSION_DENIED);
      expect(await storedCommits()).toBe(after);
    });

    it('answers an unknown workflow on a query with NOT_FOUND', async () => {
      expect(
        await grpcCode(queries.findWorkflow({ workflowId: uuidv7() })),
      ).toBe(status.NOT_FOUND);
    });
  });
});
