import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import { uuidv7 } from '@cim/kernel';
import {
  ConceptualspacesCommandService,
  ConceptualspacesQueryService,
  DimensionKind,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  eventually,
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { NODE_SPACE_KEY, graphNodeConceptId } from '../src/reactions.js';
import { conceptualspacesService } from '../src/service.js';
import { spaceState } from './space-state.js';

const graphCmd = GraphCommandService.method;
const cmd = ConceptualspacesCommandService.method;
const qry = ConceptualspacesQueryService.method;
const CONSUMER = 'cim-conceptualspaces-graph-node-concepts';
const SPACE = 'embeddings';

describe('graph nodes with a conceptual point become concepts', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let graphs: RunningService;
  let spaces: RunningService;
  const graphId = uuidv7();

  const startSpaces = (options: { resultCacheSize?: number } = {}) =>
    conceptualspacesService.start({ nc, log: testLogger(), ...options });
  const addNode = (
    nodeId: string,
    conceptualPoint: number[],
    metadata: Record<string, string> = { [NODE_SPACE_KEY]: SPACE },
  ) =>
    sendCommand(nc, graphCmd.addNode, {
      graphId,
      nodeId,
      nodeType: 'idea',
      label: `node ${nodeId}`,
      metadata,
      conceptualPoint,
    });
  const concepts = () =>
    sendQuery(nc, qry.listConcepts, { conceptualspacesId: SPACE });

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    spaces = await startSpaces();
    graphs = await graphService.start({ nc, log: testLogger() });
    await sendCommand(nc, cmd.createConceptualSpace, {
      conceptualspacesId: SPACE,
      name: 'Embeddings',
      dimensions: ['a', 'b', 'c'].map((id) => ({
        dimensionId: id,
        name: id,
        kind: DimensionKind.CONTINUOUS,
        min: 0,
        max: 1,
      })),
      metric: { minkowskiP: 2 },
    });
    await sendCommand(nc, graphCmd.createGraph, { graphId, name: 'ideas' });
    await addNode('n1', [0.1, 0.2, 0.3]);
    await addNode('n2', [0.1, 0.25, 0.3]);
    await addNode('n3', [0.9, 0.9, 0.9]);
    // Refused by the space: a point of the wrong arity, an unknown space.
    await addNode('wrong-arity', [0.5, 0.5]);
    await addNode('elsewhere', [0.5, 0.5, 0.5], {
      [NODE_SPACE_KEY]: 'no-such-space',
    });
    // Ignored by the reaction: no space named.
    await addNode('unplaced', [0.5, 0.5, 0.5], {});
    await sendCommand(nc, graphCmd.addNode, {
      graphId,
      nodeId: 'pointless',
      nodeType: 'idea',
      metadata: { [NODE_SPACE_KEY]: SPACE },
    });
  });

  afterAll(async () => {
    await spaces.stop();
    await graphs.stop();
    await nc.close();
    await server.stop();
  });

  it('places each node that names the space, and acknowledges the refused ones without retrying', async () => {
    const consumer = await consumerSettled(nc, 'graph', CONSUMER);
    expect(consumer.num_redelivered).toBe(0);
    // Settled means the placements are stored, not yet folded: wait for the
    // last one (the space's version 4: created, then n1, n2 and n3 placed).
    await sendQuery(nc, qry.spaceInfo, {
      conceptualspacesId: SPACE,
      minVersion: 4n,
    });
    const { concepts: listed } = await concepts();
    const ids = ['n1', 'n2', 'n3'].map((n) => graphNodeConceptId(graphId, n));
    expect(listed.map((c) => c.conceptId).sort()).toEqual([...ids].sort());
    const n1 = listed.find((c) => c.conceptId === ids[0]);
    expect(n1).toMatchObject({
      coordinates: [0.1, 0.2, 0.3],
      sourceRef: `graph:${graphId}/node:n1`,
    });
    const similar = await sendQuery(nc, qry.findSimilar, {
      conceptualspacesId: SPACE,
      target: { kind: { case: 'conceptId', value: ids[0]! } },
      k: 1,
    });
    expect(similar.matches.map((m) => m.conceptId)).toEqual([ids[1]]);
  });

  it('changes nothing when every graph event is delivered again', async () => {
    await consumerSettled(nc, 'graph', CONSUMER);
    // The space's commits only: the graph-concepts reaction places the graph meanwhile.
    const snapshot = () => spaceState(nc, SPACE);
    const before = await snapshot();

    // A fresh durable consumer starts from the first graph event again; with
    // a results cache of one entry the space itself must refuse the repeats.
    await spaces.stop();
    await jsm.consumers.delete('CIM_GRAPH', CONSUMER);
    spaces = await startSpaces({ resultCacheSize: 1 });
    const consumer = await consumerSettled(nc, 'graph', CONSUMER);
    expect(consumer.num_redelivered).toBe(0);

    expect(await snapshot()).toEqual(before);

    // The reaction goes on working after the redelivery.
    await addNode('n4', [0.2, 0.2, 0.2]);
    await eventually(async () => {
      const { concepts: listed } = await concepts();
      return listed.some(
        (c) => c.conceptId === graphNodeConceptId(graphId, 'n4'),
      )
        ? listed
        : undefined;
    }, 'node n4 to be placed');
  });

  it("removes a removed node's concept from its space", async () => {
    const n4 = graphNodeConceptId(graphId, 'n4');
    const listedIds = async () =>
      (await concepts()).concepts.map((c) => c.conceptId);
    await eventually(
      async () => ((await listedIds()).includes(n4) ? true : undefined),
      'node n4 to be placed',
    );
    await sendCommand(nc, graphCmd.removeNode, { graphId, nodeId: 'n4' });
    await eventually(
      async () => ((await listedIds()).includes(n4) ? undefined : true),
      "node n4's concept to be removed",
    );
    const consumer = await consumerSettled(nc, 'graph', CONSUMER);
    expect(consumer.num_redelivered).toBe(0);
  });
});
