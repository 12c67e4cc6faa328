import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ErrorCode, uuidv7 } from '@cim/kernel';
import {
  GraphCommandService,
  GraphQueryService,
  NodeRole,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { ephemeralKeyring, type RunningService } from '@cim/service';
import {
  countCommits,
  rejection,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { graphService } from '../src/service.js';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;

describe('graph queries over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  let graphId: string;
  let version: bigint;
  let createdAfterMs: number;

  const totalCommits = () => countCommits(nc, 'graph');

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await graphService.start({
      nc,
      log: testLogger(),
      keyring: ephemeralKeyring(),
    });
    // A triangle a — b — c with a directed tail c → d, and points on a, b, d.
    createdAfterMs = Date.now() - 1;
    graphId = uuidv7();
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'queries' });
    const points: Record<string, number[]> = {
      a: [0, 0],
      b: [1, 0],
      c: [],
      d: [3, 4],
    };
    for (const [nodeId, conceptualPoint] of Object.entries(points)) {
      await sendCommand(nc, cmd.addNode, {
        graphId,
        nodeId,
        nodeType: 't',
        conceptualPoint,
      });
    }
    const edges: [string, string, boolean][] = [
      ['a', 'b', false],
      ['b', 'c', false],
      ['c', 'a', false],
      ['c', 'd', true],
    ];
    for (const [source, target, directed] of edges) {
      ({ version } = await sendCommand(nc, cmd.addEdge, {
        graphId,
        edgeId: `${source}${target}`,
        source,
        target,
        edgeType: 'e',
        directed,
      }));
    }
    // Every test reads the read model: wait until it holds the last edge.
    await sendQuery(nc, qry.graphInfo, { graphId, minVersion: version });
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  it('filters graphs by creation and update time', async () => {
    const since = { start: timestampFromMs(createdAfterMs) };
    const listed = await sendQuery(nc, qry.listGraphs, {
      created: since,
      updated: since,
    });
    expect(listed.graphs.map((g) => g.graphId)).toContain(graphId);
    const before = await sendQuery(nc, qry.listGraphs, {
      created: { end: timestampFromMs(createdAfterMs) },
    });
    expect(before.graphs).toEqual([]);
  });

  it('answers Metrics with clustering and diameter', async () => {
    const metrics = await sendQuery(nc, qry.metrics, {
      graphId,
      minVersion: version,
    });
    // a, b: 1; c: one of three neighbour pairs adjacent; d: degree 1.
    expect(metrics.averageClustering).toBeCloseTo((1 + 1 + 1 / 3) / 4, 12);
    expect(metrics.diameter).toBe(2n);
  });

  it('answers AdjacencyList by node id', async () => {
    const { entries, page } = await sendQuery(nc, qry.adjacencyList, {
      graphId,
      minVersion: version,
    });
    expect(entries.map((e) => [e.nodeId, e.neighborIds])).toEqual([
      ['a', ['b', 'c']],
      ['b', ['a', 'c']],
      ['c', ['a', 'b', 'd']],
      ['d', []],
    ]);
    expect(page?.totalSize).toBe(4n);
  });

  it('answers SourceSinkNodes', async () => {
    const sources = await sendQuery(nc, qry.sourceSinkNodes, {
      graphId,
      role: NodeRole.SOURCE,
      minVersion: version,
    });
    expect(sources.nodes).toEqual([]);
    const sinks = await sendQuery(nc, qry.sourceSinkNodes, {
      graphId,
      role: NodeRole.SINK,
      minVersion: version,
    });
    expect(sinks.nodes.map((n) => n.nodeId)).toEqual(['d']);
  });

  it('answers FindSimilarNodes', async () => {
    const { matches, truncated } = await sendQuery(nc, qry.findSimilarNodes, {
      graphId,
      target: { case: 'nodeId', value: 'a' },
      minVersion: version,
    });
    expect(matches.map((m) => [m.node?.nodeId, m.distance])).toEqual([
      ['b', 1],
      ['d', 5],
    ]);
    expect(truncated).toBe(false);
  });

  describe('when the input is bad', () => {
    const missing = uuidv7();
    it.each<[string, () => Promise<unknown>, ErrorCode]>([
      [
        'ListGraphs with an inverted range',
        () =>
          sendQuery(nc, qry.listGraphs, {
            created: { start: timestampFromMs(2), end: timestampFromMs(1) },
          }),
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'AdjacencyList of a missing graph',
        () => sendQuery(nc, qry.adjacencyList, { graphId: missing }),
        ErrorCode.NOT_FOUND,
      ],
      [
        'AdjacencyList with a bad page token',
        () =>
          sendQuery(nc, qry.adjacencyList, {
            graphId,
            page: { pageToken: '%%' },
          }),
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'SourceSinkNodes of a missing graph',
        () =>
          sendQuery(nc, qry.sourceSinkNodes, {
            graphId: missing,
            role: NodeRole.SOURCE,
          }),
        ErrorCode.NOT_FOUND,
      ],
      [
        'SourceSinkNodes without a role',
        () => sendQuery(nc, qry.sourceSinkNodes, { graphId }),
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'FindSimilarNodes of a missing graph',
        () =>
          sendQuery(nc, qry.findSimilarNodes, {
            graphId: missing,
            target: { case: 'nodeId', value: 'a' },
          }),
        ErrorCode.NOT_FOUND,
      ],
      [
        'FindSimilarNodes with k above 1000',
        () =>
          sendQuery(nc, qry.findSimilarNodes, {
            graphId,
            target: { case: 'point', value: { coordinates: [0, 0] } },
            k: 1001,
          }),
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'FindSimilarNodes of a node without a point',
        () =>
          sendQuery(nc, qry.findSimilarNodes, {
            graphId,
            target: { case: 'nodeId', value: 'c' },
          }),
        ErrorCode.BUSINESS_RULE_VIOLATION,
      ],
      [
        'Metrics of a malformed graph id',
        () => sendQuery(nc, qry.metrics, { graphId: 'a.b' }),
        ErrorCode.VALIDATION_FAILED,
      ],
    ])('rejects %s and changes nothing', async (_, call, code) => {
      const commits = await totalCommits();
      expect(await rejection(call())).toBe(code);
      expect(await totalCommits()).toBe(commits);
      const info = await sendQuery(nc, qry.graphInfo, { graphId });
      expect(info.graph?.version).toBe(version);
    });
  });
});
