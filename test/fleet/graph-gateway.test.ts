import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  domainFiles,
  domainServices,
  startGateway,
  type Gateway,
} from '@cim/gateway';
import { graphService } from '@cim/graph';
import { createClient, createRawClient, type GrpcClient } from '@cim/grpc';
import { uuidv7 } from '@cim/kernel';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

async function grpcCode(promise: Promise<unknown>): Promise<status> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error.code;
}

describe('graph through the gRPC gateway', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graph: RunningService;
  let gateway: Gateway;
  let commands: GrpcClient<typeof GraphCommandService>;
  let queries: GrpcClient<typeof GraphQueryService>;
  let address: string;

  const storedCommits = () => countCommits(nc, 'graph');

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    graph = await graphService.start({ nc, log: testLogger() });
    gateway = await startGateway({
      nc,
      host: '127.0.0.1',
      port: 0,
      services: domainServices,
      files: domainFiles,
      log: testLogger(),
      maxMessageBytes: 64 * 1024,
    });
    address = `127.0.0.1:${gateway.port}`;
    commands = createClient(GraphCommandService, address);
    queries = createClient(GraphQueryService, address);
  });

  afterAll(async () => {
    commands.close();
    queries.close();
    await gateway.stop();
    await graph.stop();
    await nc.close();
    await server.stop();
  });

  it('creates a graph, adds nodes and an edge, and reads them back', async () => {
    const created = await commands.createGraph({ name: 'supply chain' });
    const graphId = created.aggregateId;
    await commands.addNode({ graphId, nodeId: 'factory', nodeType: 'site' });
    await commands.addNode({ graphId, nodeId: 'store', nodeType: 'site' });
    const edge = await commands.addEdge({
      graphId,
      source: 'factory',
      target: 'store',
      edgeType: 'ships',
      directed: true,
    });
    expect(edge.version).toBe(4n);

    const info = await queries.graphInfo({ graphId, minVersion: edge.version });
    expect(info.graph).toMatchObject({
      name: 'supply chain',
      nodeCount: 2n,
      edgeCount: 1n,
      version: 4n,
    });
    const out = await queries.neighbors({
      graphId,
      nodeId: 'factory',
      minVersion: edge.version,
    });
    expect(out.nodes.map((n) => n.nodeId)).toEqual(['store']);
    const path = await queries.shortestPath({
      graphId,
      fromNodeId: 'factory',
      toNodeId: 'store',
    });
    expect(path).toMatchObject({ found: true, nodeIds: ['factory', 'store'] });

    const jsm = await jetstreamManager(nc);
    const subjects = (
      await jsm.streams.info('CIM_GRAPH', {
        subjects_filter: `cim.graph.evt.${graphId}`,
      })
    ).state.subjects;
    expect(subjects?.[`cim.graph.evt.${graphId}`]).toBe(4);
  });

  it('reads its own write with min_version', async () => {
    const { aggregateId: graphId } = await commands.createGraph({
      name: 'ryw',
    });
    for (let i = 0; i < 20; i++) {
      const added = await commands.addNode({
        graphId,
        nodeId: `n${i}`,
        nodeType: 't',
      });
      const info = await queries.graphInfo({
        graphId,
        minVersion: added.version,
      });
      expect(info.graph?.nodeCount).toBe(BigInt(i + 1));
    }
  });

  it('answers a retried command id with the first result', async () => {
    const { aggregateId: graphId } = await commands.createGraph({
      name: 'retry',
    });
    const metadata = { 'cim-command-id': uuidv7() };
    const first = await commands.addNode(
      { graphId, nodeId: 'once', nodeType: 't' },
      { metadata },
    );
    const again = await commands.addNode(
      { graphId, nodeId: 'once', nodeType: 't' },
      { metadata },
    );
    expect(again).toEqual(first);
  });

  describe('when the input is bad', () => {
    it.each([
      [
        'garbage bytes',
        () =>
          createRawClient(address).unary(
            GraphCommandService.method.addNode,
            Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'a missing node type',
        () => commands.addNode({ graphId: uuidv7(), nodeId: 'x' }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an unknown graph',
        () =>
          commands.addNode({ graphId: uuidv7(), nodeId: 'x', nodeType: 't' }),
        status.NOT_FOUND,
      ],
      [
        'a blank graph name',
        () => commands.createGraph({ name: '  ' }),
        status.INVALID_ARGUMENT,
      ],
      [
        'a malformed command id',
        () =>
          commands.createGraph(
            { name: 'x' },
            { metadata: { 'cim-command-id': 'nope' } },
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'a payload over the size limit',
        () =>
          commands.addNode({
            graphId: uuidv7(),
            nodeId: 'x',
            nodeType: 't',
            label: 'x'.repeat(100 * 1024),
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

    it('answers an unknown graph on a query with NOT_FOUND', async () => {
      expect(await grpcCode(queries.graphInfo({ graphId: uuidv7() }))).toBe(
        status.NOT_FOUND,
      );
    });
  });

  describe('when the graph service restarts under load', () => {
    it('loses nothing it acknowledged, and retries by command id apply once', async () => {
      const { aggregateId: graphId } = await commands.createGraph({
        name: 'restart',
      });
      const sent = Array.from({ length: 300 }, (_, i) => ({
        nodeId: `n${i}`,
        commandId: uuidv7(),
      }));
      const send = (s: (typeof sent)[number]) =>
        commands.addNode(
          { graphId, nodeId: s.nodeId, nodeType: 't' },
          { metadata: { 'cim-command-id': s.commandId } },
        );
      const inFlight = sent.map((s) =>
        send(s).then(
          () => true,
          () => false,
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
      await graph.stop();
      graph = await graphService.start({ nc, log: testLogger() });
      const acknowledged = await Promise.all(inFlight);
      // Everything not acknowledged is retried with its own command id.
      for (const [i, s] of sent.entries()) if (!acknowledged[i]) await send(s);
      const info = await queries.graphInfo({ graphId, minVersion: 301n });
      expect(info.graph?.nodeCount).toBe(300n);
      expect(info.graph?.version).toBe(301n);
    });
  });
});
