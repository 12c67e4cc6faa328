import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode, uuidv7 } from '@cim/kernel';
import {
  GraphCommandService,
  GraphQueryService,
  GraphType,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  StepType,
  WorkflowCommandService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { RunningService } from '@cim/service';
import {
  eventually,
  countCommits,
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { workflowService } from '@cim/workflow';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { dependencyEdgeId, workflowGraphId } from '../src/reactions.js';
import { graphService } from '../src/service.js';

const wfCmd = WorkflowCommandService.method;
const qry = GraphQueryService.method;
const graphCmd = GraphCommandService.method;
const CONSUMER = 'cim-graph-workflow-graphs';

describe('workflow events become mirrored workflow graphs', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graphs: RunningService;
  let workflows: RunningService;
  const startGraphs = (options: { resultCacheSize?: number } = {}) =>
    graphService.start({ nc, log: testLogger(), ...options });

  /** The mirror of a workflow once it reflects `status` for every listed step. */
  async function mirror(workflowId: string, statuses: Record<string, string>) {
    const graphId = workflowGraphId(workflowId);
    return eventually(
      async () => {
        const nodes = await sendQuery(nc, qry.listNodes, { graphId }).catch(
          (e: unknown) => {
            if (DomainError.is(e) && e.code === ErrorCode.NOT_FOUND)
              return undefined;
            throw e;
          },
        );
        if (nodes === undefined) return undefined;
        const seen = Object.fromEntries(
          nodes.nodes.map((n) => [n.nodeId, n.metadata?.['status']]),
        );
        if (JSON.stringify(seen) !== JSON.stringify(statuses)) return undefined;
        return {
          info: (await sendQuery(nc, qry.graphInfo, { graphId })).graph,
          nodes: nodes.nodes,
          edges: (await sendQuery(nc, qry.listEdges, { graphId })).edges,
        };
      },
      `workflow ${workflowId} mirrored with ${JSON.stringify(statuses)}`,
    );
  }

  let wf: string;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    graphs = await startGraphs();
    workflows = await workflowService.start({ nc, log: testLogger() });
    wf = uuidv7();
    await sendCommand(nc, wfCmd.createWorkflow, {
      workflowId: wf,
      name: 'Release',
    });
    const step = (
      stepId: string,
      stepType: StepType,
      dependencies: string[] = [],
    ) =>
      sendCommand(nc, wfCmd.addStep, {
        workflowId: wf,
        stepId,
        name: stepId.toUpperCase(),
        stepType,
        dependencies,
      });
    await step('build', StepType.AUTOMATED);
    await step('docs', StepType.AUTOMATED);
    await step('test', StepType.AUTOMATED, ['build']);
    await step('ship', StepType.INTEGRATION, ['test']);
    await sendCommand(nc, wfCmd.addStepDependency, {
      workflowId: wf,
      stepId: 'ship',
      dependsOn: 'docs',
    });
    await sendCommand(nc, wfCmd.removeStepDependency, {
      workflowId: wf,
      stepId: 'ship',
      dependsOn: 'test',
    });
    await sendCommand(nc, wfCmd.removeStep, { workflowId: wf, stepId: 'test' });
    await sendCommand(nc, wfCmd.startWorkflow, { workflowId: wf });
    await sendCommand(nc, wfCmd.startStepExecution, {
      workflowId: wf,
      stepId: 'build',
    });
    await sendCommand(nc, wfCmd.completeStepExecution, {
      workflowId: wf,
      stepId: 'build',
    });
    await sendCommand(nc, wfCmd.skipStep, {
      workflowId: wf,
      stepId: 'docs',
      reason: 'none',
    });
    await sendCommand(nc, wfCmd.startStepExecution, {
      workflowId: wf,
      stepId: 'ship',
    });
  });

  afterAll(async () => {
    await workflows.stop();
    await graphs.stop();
    await nc.close();
    await server.stop();
  });

  const expected = { build: 'completed', docs: 'skipped', ship: 'running' };

  it('mirrors steps, dependencies and statuses', async () => {
    const { info, nodes, edges } = await mirror(wf, expected);
    expect(info).toMatchObject({
      name: 'Release',
      graphType: GraphType.WORKFLOW,
      metadata: { workflowId: wf, status: 'running' },
    });
    expect(nodes.map((n) => [n.nodeId, n.nodeType, n.label])).toEqual([
      ['build', 'automated', 'BUILD'],
      ['docs', 'automated', 'DOCS'],
      ['ship', 'integration', 'SHIP'],
    ]);
    expect(
      edges.map((e) => [e.edgeId, e.source, e.target, e.directed]),
    ).toEqual([[dependencyEdgeId('ship', 'docs'), 'ship', 'docs', true]]);
  });

  it('keeps the newer status when a status of an older workflow version arrives under a new command id', async () => {
    // What an old workflow event redelivered after the duplicate window sends.
    await mirror(wf, expected);
    const before = await countCommits(nc, 'graph');
    const result = await sendCommand(nc, graphCmd.changeNodeMetadata, {
      graphId: workflowGraphId(wf),
      nodeId: 'build',
      metadata: { status: 'running', workflowVersion: 2 },
      sourceVersion: 2n,
    });
    expect(result.eventIds).toEqual([]);
    expect(await countCommits(nc, 'graph')).toBe(before);
    await mirror(wf, expected);
  });

  it('changes nothing when every workflow event is delivered again', async () => {
    await mirror(wf, expected);
    await consumerSettled(nc, 'workflow', CONSUMER);
    const before = {
      commits: await countCommits(nc, 'graph'),
      mirror: await mirror(wf, expected),
    };

    await graphs.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('CIM_WORKFLOW', CONSUMER);
    graphs = await startGraphs({ resultCacheSize: 1 });
    await eventually(
      () => jsm.consumers.info('CIM_WORKFLOW', CONSUMER).catch(() => undefined),
      'the consumer to come back',
    );
    await consumerSettled(nc, 'workflow', CONSUMER);

    const after = {
      commits: await countCommits(nc, 'graph'),
      mirror: await mirror(wf, expected),
    };
    expect(after).toEqual(before);

    // The reaction goes on working after the redelivery.
    await sendCommand(nc, wfCmd.completeStepExecution, {
      workflowId: wf,
      stepId: 'ship',
    });
    await mirror(wf, { ...expected, ship: 'completed' });
  });
});
