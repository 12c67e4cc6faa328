import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import { decodeCommit, uuidv7 } from '@cim/kernel';
import {
  ConceptualspacesQueryService,
  type GraphFeaturesResponse,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  GraphCommandService,
  GraphType,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { GRAPH_SPACE_ID } from '../src/reactions.js';
import { graphPlacedAt } from './graph-placed.js';
import { conceptualspacesService } from '../src/service.js';

const graphCmd = GraphCommandService.method;
const qry = ConceptualspacesQueryService.method;
const CONSUMER = 'cim-conceptualspaces-graph-concepts';

describe('graph events become graph concepts', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graphs: RunningService;
  let spaces: RunningService;

  const startSpaces = (options: { resultCacheSize?: number } = {}) =>
    conceptualspacesService.start({ nc, log: testLogger(), ...options });

  /** Waits until the space has applied every version the graph has. */
  async function placed(graphId: string): Promise<GraphFeaturesResponse> {
    // The graph's last stored commit: its read model may not hold it yet.
    const last = await graphs.store.lastOf(graphId);
    return graphPlacedAt(nc, graphId, decodeCommit(last!.data).version);
  }

  /** A chain of `length` task nodes, as in a workflow. */
  async function chain(
    length: number,
    graphType = GraphType.WORKFLOW,
  ): Promise<string> {
    const graphId = uuidv7();
    await sendCommand(nc, graphCmd.createGraph, {
      graphId,
      name: `chain of ${length}`,
      graphType,
    });
    for (let i = 0; i < length; i++) {
      await sendCommand(nc, graphCmd.addNode, {
        graphId,
        nodeId: `s${i}`,
        nodeType: 'task',
      });
      if (i > 0) {
        await sendCommand(nc, graphCmd.addEdge, {
          graphId,
          edgeId: `e${i}`,
          source: `s${i - 1}`,
          target: `s${i}`,
          edgeType: 'next',
          directed: true,
        });
      }
    }
    return graphId;
  }

  /** A dense, richly annotated knowledge graph. */
  async function knowledge(): Promise<string> {
    const graphId = uuidv7();
    await sendCommand(nc, graphCmd.createGraph, {
      graphId,
      name: 'ontology',
      description: 'what things are',
      graphType: GraphType.KNOWLEDGE,
      tags: ['science', 'ideas'],
      metadata: { curator: 'ada', version: 3 },
    });
    const ids = ['matter', 'energy', 'force', 'field', 'wave'];
    for (const nodeId of ids) {
      await sendCommand(nc, graphCmd.addNode, {
        graphId,
        nodeId,
        nodeType: 'concept',
        label: nodeId,
        metadata: { source: 'book', page: 1 },
      });
    }
    for (const [i, source] of ids.entries()) {
      for (const target of ids.slice(i + 1)) {
        await sendCommand(nc, graphCmd.addEdge, {
          graphId,
          edgeId: `${source}-${target}`,
          source,
          target,
          edgeType: 'relates',
          relationship: {
            kind: { case: 'association', value: { relation: 'relates' } },
          },
        });
      }
    }
    await sendCommand(nc, graphCmd.updateGraph, {
      graphId,
      name: 'ontology v2',
    });
    await sendCommand(nc, graphCmd.changeNodeMetadata, {
      graphId,
      nodeId: 'wave',
      metadata: { source: 'paper' },
    });
    return graphId;
  }

  let a: string;
  let b: string;
  let c: string;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    // The reaction waits for the graph stream, so the order of start-up does not matter.
    spaces = await startSpaces();
    graphs = await graphService.start({ nc, log: testLogger() });
    a = await chain(5);
    b = await chain(6);
    c = await knowledge();
  });

  afterAll(async () => {
    await spaces.stop();
    await graphs.stop();
    await nc.close();
    await server.stop();
  });

  it('places every graph at the point its events describe', async () => {
    const chainA = await placed(a);
    expect(chainA).toMatchObject({
      nodeCount: 5n,
      edgeCount: 4n,
      abstractNodes: 0n,
      graphEvents: 10n,
      changeEvents: 0n,
    });
    const size = Math.log2(10);
    expect(chainA.features).toEqual([
      size / (size + 8),
      1.6 / 2.6,
      0 / 7,
      0,
      0,
    ]);
    const onto = await placed(c);
    expect(onto).toMatchObject({
      nodeCount: 5n,
      edgeCount: 10n,
      abstractNodes: 5n,
      changeEvents: 2n,
    });
    const info = await sendQuery(nc, qry.spaceInfo, {
      conceptualspacesId: GRAPH_SPACE_ID,
    });
    expect(info.space?.dimensions.map((d) => d.dimensionId)).toEqual([
      'complexity',
      'connectivity',
      'abstractness',
      'dynamism',
      'semantic_density',
    ]);
  });

  it('finds the structurally similar graph first', async () => {
    await Promise.all([placed(a), placed(b), placed(c)]);
    const similar = await sendQuery(nc, qry.findSimilar, {
      conceptualspacesId: GRAPH_SPACE_ID,
      target: { kind: { case: 'conceptId', value: a } },
      k: 2,
    });
    expect(similar.matches.map((m) => m.conceptId)).toEqual([b, c]);
    expect(similar.matches[0]!.label).toBe('chain of 6');
  });

  it('moves a graph as it changes', async () => {
    const before = await placed(b);
    await sendCommand(nc, graphCmd.removeNode, { graphId: b, nodeId: 's5' });
    const after = await placed(b);
    expect(after).toMatchObject({
      nodeCount: 5n,
      edgeCount: 4n,
      changeEvents: 2n,
    });
    expect(after.features).not.toEqual(before.features);
    const position = await sendQuery(nc, qry.conceptPosition, {
      conceptualspacesId: GRAPH_SPACE_ID,
      conceptId: b,
    });
    expect(position.concept?.coordinates).toEqual(after.features);
  });

  it('changes nothing when every graph event is delivered again', async () => {
    await Promise.all([placed(a), placed(b), placed(c)]);
    const jsm = await jetstreamManager(nc);
    // Commits only: checkpoints on cim.conceptualspaces.chk may be added by any restart.
    const snapshot = async () => ({
      messages: await countCommits(nc, 'conceptualspaces'),
      info: await sendQuery(nc, qry.spaceInfo, {
        conceptualspacesId: GRAPH_SPACE_ID,
      }),
      concepts: await sendQuery(nc, qry.listConcepts, {
        conceptualspacesId: GRAPH_SPACE_ID,
      }),
      features: await Promise.all(
        [a, b, c].map((graphId) =>
          sendQuery(nc, qry.graphFeatures, {
            conceptualspacesId: GRAPH_SPACE_ID,
            graphId,
          }),
        ),
      ),
    });
    const before = await snapshot();

    // A fresh durable consumer starts from the first graph event again. With a
    // results cache of one entry the runtime cannot answer the repeats from
    // memory: the space itself must recognise every change as recorded.
    await spaces.stop();
    await jsm.consumers.delete('CIM_GRAPH', CONSUMER);
    spaces = await startSpaces({ resultCacheSize: 1 });
    await consumerSettled(nc, 'graph', CONSUMER);

    const after = await snapshot();
    expect(after.messages).toBe(before.messages);
    expect(after.info.space?.version).toBe(before.info.space?.version);
    expect(after).toEqual(before);

    // The reaction goes on working after the redelivery.
    await sendCommand(nc, graphCmd.addNode, {
      graphId: a,
      nodeId: 'extra',
      nodeType: 'topic',
    });
    const moved = await placed(a);
    expect(moved).toMatchObject({ nodeCount: 6n, abstractNodes: 1n });
  });
});
