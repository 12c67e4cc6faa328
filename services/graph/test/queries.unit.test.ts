import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DomainError, ErrorCode, errorCodeName } from '@cim/kernel';
import {
  AdjacencyListRequestSchema,
  AdjacencyListResponseSchema,
  Direction,
  FindSimilarNodesRequestSchema,
  FindSimilarNodesResponseSchema,
  GraphInfoRequestSchema,
  GraphInfoResponseSchema,
  GraphStatus,
  GraphType,
  ListEdgesRequestSchema,
  ListEdgesResponseSchema,
  ListGraphsRequestSchema,
  ListGraphsResponseSchema,
  ListNodesRequestSchema,
  ListNodesResponseSchema,
  MetricsRequestSchema,
  MetricsResponseSchema,
  NeighborsRequestSchema,
  NeighborsResponseSchema,
  NodesByTypeRequestSchema,
  NodeRole,
  NodesByTypeResponseSchema,
  ShortestPathRequestSchema,
  SourceSinkNodesRequestSchema,
  SourceSinkNodesResponseSchema,
  ShortestPathResponseSchema,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  decodeCursor,
  encodeCursor,
  type QueryContext,
  type Rows,
} from '@cim/service';
import { project, type GraphRow } from '../src/projection.js';
import { graphQueries } from '../src/queries.js';
import {
  GRAPH_ID,
  T0,
  commitMeta,
  evt,
  nodes,
  projectAll,
  rel,
  rowsOf,
} from './fixtures.js';

const CTX: QueryContext = { position: 0n };

/** Calls the handlers as the runtime does: a decoded request in, a normalised response out. */
function client(rows: Rows<GraphRow>) {
  const handlers = graphQueries(rows);
  return {
    graphInfo: async (init: MessageInitShape<typeof GraphInfoRequestSchema>) =>
      create(
        GraphInfoResponseSchema,
        await handlers.graphInfo(create(GraphInfoRequestSchema, init), CTX),
      ),
    listGraphs: async (
      init: MessageInitShape<typeof ListGraphsRequestSchema> = {},
    ) =>
      create(
        ListGraphsResponseSchema,
        await handlers.listGraphs(create(ListGraphsRequestSchema, init), CTX),
      ),
    listNodes: async (init: MessageInitShape<typeof ListNodesRequestSchema>) =>
      create(
        ListNodesResponseSchema,
        await handlers.listNodes(create(ListNodesRequestSchema, init), CTX),
      ),
    listEdges: async (init: MessageInitShape<typeof ListEdgesRequestSchema>) =>
      create(
        ListEdgesResponseSchema,
        await handlers.listEdges(create(ListEdgesRequestSchema, init), CTX),
      ),
    nodesByType: async (
      init: MessageInitShape<typeof NodesByTypeRequestSchema>,
    ) =>
      create(
        NodesByTypeResponseSchema,
        await handlers.nodesByType(create(NodesByTypeRequestSchema, init), CTX),
      ),
    neighbors: async (init: MessageInitShape<typeof NeighborsRequestSchema>) =>
      create(
        NeighborsResponseSchema,
        await handlers.neighbors(create(NeighborsRequestSchema, init), CTX),
      ),
    metrics: async (init: MessageInitShape<typeof MetricsRequestSchema>) =>
      create(
        MetricsResponseSchema,
        await handlers.metrics(create(MetricsRequestSchema, init), CTX),
      ),
    shortestPath: async (
      init: MessageInitShape<typeof ShortestPathRequestSchema>,
    ) =>
      create(
        ShortestPathResponseSchema,
        await handlers.shortestPath(
          create(ShortestPathRequestSchema, init),
          CTX,
        ),
      ),
    adjacencyList: async (
      init: MessageInitShape<typeof AdjacencyListRequestSchema>,
    ) =>
      create(
        AdjacencyListResponseSchema,
        await handlers.adjacencyList(
          create(AdjacencyListRequestSchema, init),
          CTX,
        ),
      ),
    sourceSinkNodes: async (
      init: MessageInitShape<typeof SourceSinkNodesRequestSchema>,
    ) =>
      create(
        SourceSinkNodesResponseSchema,
        await handlers.sourceSinkNodes(
          create(SourceSinkNodesRequestSchema, init),
          CTX,
        ),
      ),
    findSimilarNodes: async (
      init: MessageInitShape<typeof FindSimilarNodesRequestSchema>,
    ) =>
      create(
        FindSimilarNodesResponseSchema,
        await handlers.findSimilarNodes(
          create(FindSimilarNodesRequestSchema, init),
          CTX,
        ),
      ),
  };
}

async function expectRejected(
  call: () => Promise<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<void> {
  let thrown: unknown;
  try {
    await call();
  } catch (error) {
    thrown = error;
  }
  if (!DomainError.is(thrown)) {
    throw new Error(
      `expected a DomainError ${errorCodeName(code)}, got ${String(thrown)}`,
    );
  }
  expect(errorCodeName(thrown.code)).toBe(errorCodeName(code));
  if (message !== undefined) expect(thrown.message).toMatch(message);
}

function row(events: readonly GraphEvent[]): GraphRow {
  const projected = projectAll(events);
  if (projected === undefined) throw new Error('events must create the graph');
  return projected;
}

/** A graph that exercises every query: a → b → c (directed), c — d (undirected), d ↺ (self-loop), e isolated. */
const sample = (): GraphRow =>
  row([
    evt.created({
      description: 'sample',
      tags: ['t1'],
      metadata: { owner: 'x' },
    }),
    evt.nodeAdded({ nodeId: 'a', nodeType: 'task', label: 'A' }),
    evt.nodeAdded({ nodeId: 'b', nodeType: 'task' }),
    evt.nodeAdded({ nodeId: 'c', nodeType: 'gate', metadata: { k: 1 } }),
    evt.nodeAdded({ nodeId: 'd', nodeType: 'task' }),
    evt.nodeAdded({ nodeId: 'e', nodeType: 'note' }),
    evt.edgeAdded({ edgeId: 'ab', source: 'a', target: 'b', weight: 1 }),
    evt.edgeAdded({
      edgeId: 'bc',
      source: 'b',
      target: 'c',
      weight: 2,
      relationship: rel.sequence(),
    }),
    evt.edgeAdded({
      edgeId: 'cd',
      source: 'c',
      target: 'd',
      directed: false,
      weight: 3,
    }),
    evt.edgeAdded({ edgeId: 'dd', source: 'd', target: 'd', directed: true }),
  ]);

const graphNamed = (
  graphId: string,
  name = `graph ${graphId}`,
  graphType = GraphType.GENERIC,
): GraphRow => row([evt.created({ graphId, name, graphType })]);

describe('graph queries', () => {
  describe('GraphInfo', () => {
    it('summarises the graph', async () => {
      const { graph } = await client(rowsOf(sample())).graphInfo({
        graphId: GRAPH_ID,
      });
      expect(graph).toMatchObject({
        graphId: GRAPH_ID,
        name: 'Payments',
        description: 'sample',
        graphType: GraphType.GENERIC,
        status: GraphStatus.ACTIVE,
        tags: ['t1'],
        metadata: { owner: 'x' },
        nodeCount: 5n,
        edgeCount: 4n,
        version: 10n,
      });
      expect(graph?.createdAt).toEqual(timestampFromMs(T0 + 1));
      expect(graph?.updatedAt).toEqual(timestampFromMs(T0 + 10));
    });
    it('reflects updates, status changes and removals', async () => {
      const changed = projectAll(
        [
          evt.updated({ name: 'Ledger', tags: { values: [] } }),
          evt.edgeRemoved({ edgeId: 'ab', source: 'a', target: 'b' }),
          evt.nodeRemoved({ nodeId: 'a' }),
          evt.readOnly(),
        ],
        sample(),
      )!;
      const { graph } = await client(rowsOf(changed)).graphInfo({
        graphId: GRAPH_ID,
      });
      expect(graph).toMatchObject({
        name: 'Ledger',
        tags: [],
        status: GraphStatus.READ_ONLY,
        nodeCount: 4n,
        edgeCount: 3n,
      });
    });
    it('shows an archived graph as archived', async () => {
      const archived = projectAll([evt.archived()], sample())!;
      const { graph } = await client(rowsOf(archived)).graphInfo({
        graphId: GRAPH_ID,
      });
      expect(graph?.status).toBe(GraphStatus.ARCHIVED);
    });
    it('rejects an unknown graph with NOT_FOUND', async () => {
      await expectRejected(
        () => client(rowsOf()).graphInfo({ graphId: 'nope' }),
        ErrorCode.NOT_FOUND,
        /"nope" not found/,
      );
    });
    it('rejects a malformed graph id with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => client(rowsOf()).graphInfo({ graphId: 'a.b' }),
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('ListGraphs', () => {
    const ids = Array.from(
      { length: 120 },
      (_, i) => `g-${String(i).padStart(3, '0')}`,
    );
    // Inserted out of order: the list must still come back sorted by id.
    const shuffled = [...ids].sort((x, y) =>
      x.split('').reverse().join('') < y.split('').reverse().join('') ? -1 : 1,
    );

    it('pages through every graph in id order, 50 at a time by default', async () => {
      const queries = client(rowsOf(...shuffled.map((id) => graphNamed(id))));
      const seen: string[] = [];
      let token = '';
      const sizes: number[] = [];
      do {
        const { graphs, page } = await queries.listGraphs({
          page: { pageToken: token },
        });
        sizes.push(graphs.length);
        seen.push(...graphs.map((g) => g.graphId));
        expect(page?.totalSize).toBe(120n);
        token = page?.nextPageToken ?? '';
      } while (token !== '');
      expect(sizes).toEqual([50, 50, 20]);
      expect(seen).toEqual(ids);
    });
    it('continues after the cursor when graphs are created between pages', async () => {
      const rows = rowsOf(
        ...['g-10', 'g-20', 'g-30', 'g-40'].map((id) => graphNamed(id)),
      );
      const queries = client(rows);
      const first = await queries.listGraphs({ page: { pageSize: 2 } });
      expect(first.graphs.map((g) => g.graphId)).toEqual(['g-10', 'g-20']);
      for (const id of ['g-05', 'g-25', 'g-50']) rows.set(id, graphNamed(id));
      const second = await queries.listGraphs({
        page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? '' },
      });
      expect(second.graphs.map((g) => g.graphId)).toEqual(['g-25', 'g-30']);
      const third = await queries.listGraphs({
        page: { pageSize: 2, pageToken: second.page?.nextPageToken ?? '' },
      });
      expect(third.graphs.map((g) => g.graphId)).toEqual(['g-40', 'g-50']);
      expect(third.page?.nextPageToken).toBe('');
      expect(third.page?.totalSize).toBe(7n);
    });
    it('caps the page size at 500', async () => {
      const many = Array.from({ length: 501 }, (_, i) =>
        graphNamed(`m-${String(i).padStart(3, '0')}`),
      );
      const { graphs, page } = await client(rowsOf(...many)).listGraphs({
        page: { pageSize: 10_000 },
      });
      expect(graphs).toHaveLength(500);
      expect(page?.nextPageToken).not.toBe('');
    });
    it('filters by type, status and name, counting only matches', async () => {
      const rows = rowsOf(
        graphNamed('g-1', 'Payment flow', GraphType.WORKFLOW),
        graphNamed('g-2', 'Payroll', GraphType.WORKFLOW),
        graphNamed('g-3', 'payments map', GraphType.KNOWLEDGE),
        projectAll(
          [evt.archived()],
          graphNamed('g-4', 'Payment archive', GraphType.WORKFLOW),
        )!,
      );
      const queries = client(rows);
      const names = async (
        init: MessageInitShape<typeof ListGraphsRequestSchema>,
      ) => {
        const { graphs, page } = await queries.listGraphs(init);
        return { ids: graphs.map((g) => g.graphId), total: page?.totalSize };
      };
      expect(await names({ graphType: GraphType.WORKFLOW })).toEqual({
        ids: ['g-1', 'g-2', 'g-4'],
        total: 3n,
      });
      expect(await names({ status: GraphStatus.ARCHIVED })).toEqual({
        ids: ['g-4'],
        total: 1n,
      });
      expect(await names({ nameContains: 'PAYMENT' })).toEqual({
        ids: ['g-1', 'g-3', 'g-4'],
        total: 3n,
      });
      expect(
        await names({
          nameContains: 'payment',
          status: GraphStatus.ACTIVE,
          graphType: GraphType.WORKFLOW,
        }),
      ).toEqual({
        ids: ['g-1'],
        total: 1n,
      });
      const firstPage = await queries.listGraphs({
        nameContains: 'pay',
        page: { pageSize: 1 },
      });
      const secondPage = await queries.listGraphs({
        nameContains: 'pay',
        page: { pageSize: 1, pageToken: firstPage.page?.nextPageToken ?? '' },
      });
      expect(secondPage.graphs.map((g) => g.graphId)).toEqual(['g-2']);
    });
    it('answers an empty list without a next page', async () => {
      const { graphs, page } = await client(rowsOf()).listGraphs();
      expect(graphs).toEqual([]);
      expect(page).toMatchObject({ nextPageToken: '', totalSize: 0n });
    });
    it.each([
      'garbage!',
      'Zm9v',
      encodeCursor('g-1').slice(0, -1) + '*',
      Buffer.from('k:a.b').toString('base64url'),
    ])(
      'rejects the page token %j with VALIDATION_FAILED',
      async (pageToken) => {
        await expectRejected(
          () =>
            client(rowsOf(graphNamed('g-1'))).listGraphs({
              page: { pageToken },
            }),
          ErrorCode.VALIDATION_FAILED,
          /page_token/,
        );
      },
    );
    it('round-trips its cursors', () => {
      expect(decodeCursor(encodeCursor('g-1_x'))).toBe('g-1_x');
    });
  });

  describe('ListNodes and ListEdges', () => {
    it('pages nodes in id order', async () => {
      const queries = client(rowsOf(sample()));
      const first = await queries.listNodes({
        graphId: GRAPH_ID,
        page: { pageSize: 3 },
      });
      expect(first.nodes.map((n) => n.nodeId)).toEqual(['a', 'b', 'c']);
      expect(first.nodes[0]).toMatchObject({ nodeType: 'task', label: 'A' });
      expect(first.page?.totalSize).toBe(5n);
      const rest = await queries.listNodes({
        graphId: GRAPH_ID,
        page: { pageToken: first.page?.nextPageToken ?? '' },
      });
      expect(rest.nodes.map((n) => n.nodeId)).toEqual(['d', 'e']);
      expect(rest.page?.nextPageToken).toBe('');
    });
    it('pages edges in id order with their fields', async () => {
      const { edges } = await client(rowsOf(sample())).listEdges({
        graphId: GRAPH_ID,
      });
      expect(edges.map((e) => e.edgeId)).toEqual(['ab', 'bc', 'cd', 'dd']);
      expect(edges[1]).toMatchObject({
        source: 'b',
        target: 'c',
        weight: 2,
        directed: true,
        relationship: rel.sequence(),
      });
      expect(edges[3]?.weight).toBeUndefined();
    });
    it('rejects an unknown graph with NOT_FOUND', async () => {
      await expectRejected(
        () => client(rowsOf()).listEdges({ graphId: 'g-9' }),
        ErrorCode.NOT_FOUND,
      );
    });
  });

  describe('NodesByType', () => {
    it('lists the nodes of one type in id order', async () => {
      const { nodes: found, page } = await client(rowsOf(sample())).nodesByType(
        { graphId: GRAPH_ID, nodeType: 'task' },
      );
      expect(found.map((n) => n.nodeId)).toEqual(['a', 'b', 'd']);
      expect(page?.totalSize).toBe(3n);
    });
    it('answers an unknown type with no nodes', async () => {
      const { nodes: found } = await client(rowsOf(sample())).nodesByType({
        graphId: GRAPH_ID,
        nodeType: 'nope',
      });
      expect(found).toEqual([]);
    });
    it('follows metadata changes and removals', async () => {
      const changed = projectAll(
        [
          evt.nodeUpdated({ nodeId: 'c', metadata: { k: 2 } }),
          evt.nodeRemoved({ nodeId: 'e' }),
        ],
        sample(),
      )!;
      const queries = client(rowsOf(changed));
      const gates = await queries.nodesByType({
        graphId: GRAPH_ID,
        nodeType: 'gate',
      });
      expect(gates.nodes[0]?.metadata).toEqual({ k: 2 });
      const notes = await queries.nodesByType({
        graphId: GRAPH_ID,
        nodeType: 'note',
      });
      expect(notes.nodes).toEqual([]);
      expect(changed.nodesByType.has('note')).toBe(false);
    });
    it('rejects a blank type with VALIDATION_FAILED', async () => {
      await expectRejected(
        () =>
          client(rowsOf(sample())).nodesByType({
            graphId: GRAPH_ID,
            nodeType: '',
          }),
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('Neighbors', () => {
    const ask = (
      nodeId: string,
      direction: Direction,
      pageSize = 0,
      pageToken = '',
    ) =>
      client(rowsOf(sample())).neighbors({
        graphId: GRAPH_ID,
        nodeId,
        direction,
        page: { pageSize, pageToken },
      });
    const summary = async (nodeId: string, direction: Direction) => {
      const { nodes: found, edges, page } = await ask(nodeId, direction);
      return {
        nodes: found.map((n) => n.nodeId),
        edges: edges.map((e) => e.edgeId),
        total: page?.totalSize,
      };
    };

    it('follows outgoing directed edges', async () => {
      expect(await summary('b', Direction.OUT)).toEqual({
        nodes: ['c'],
        edges: ['bc'],
        total: 1n,
      });
    });
    it('follows incoming directed edges', async () => {
      expect(await summary('b', Direction.IN)).toEqual({
        nodes: ['a'],
        edges: ['ab'],
        total: 1n,
      });
    });
    it('follows both directions when asked for both or nothing', async () => {
      expect(await summary('b', Direction.BOTH)).toEqual({
        nodes: ['a', 'c'],
        edges: ['ab', 'bc'],
        total: 2n,
      });
      expect(await summary('b', Direction.UNSPECIFIED)).toEqual({
        nodes: ['a', 'c'],
        edges: ['ab', 'bc'],
        total: 2n,
      });
    });
    it('counts an undirected edge as incoming and outgoing, once for both', async () => {
      expect(await summary('c', Direction.OUT)).toEqual({
        nodes: ['d'],
        edges: ['cd'],
        total: 1n,
      });
      expect(await summary('c', Direction.IN)).toEqual({
        nodes: ['b', 'd'],
        edges: ['bc', 'cd'],
        total: 2n,
      });
      expect(await summary('c', Direction.BOTH)).toEqual({
        nodes: ['b', 'd'],
        edges: ['bc', 'cd'],
        total: 2n,
      });
    });
    it('shows a self-loop once, with the node itself as neighbour', async () => {
      expect(await summary('d', Direction.BOTH)).toEqual({
        nodes: ['c', 'd'],
        edges: ['cd', 'dd'],
        total: 2n,
      });
      expect(await summary('d', Direction.OUT)).toEqual({
        nodes: ['c', 'd'],
        edges: ['cd', 'dd'],
        total: 2n,
      });
    });
    it('answers an isolated node with nothing', async () => {
      expect(await summary('e', Direction.BOTH)).toEqual({
        nodes: [],
        edges: [],
        total: 0n,
      });
    });
    it('pages through both directions without repeating an edge', async () => {
      const first = await ask('c', Direction.BOTH, 1);
      expect(first.edges.map((e) => e.edgeId)).toEqual(['bc']);
      const second = await ask(
        'c',
        Direction.BOTH,
        1,
        first.page?.nextPageToken ?? '',
      );
      expect(second.edges.map((e) => e.edgeId)).toEqual(['cd']);
      expect(second.page?.nextPageToken).toBe('');
    });
    it('shows edge updates', async () => {
      const updated = projectAll(
        [evt.edgeUpdated({ edgeId: 'bc', weight: 9, edgeType: 'jumps' })],
        sample(),
      )!;
      const { edges } = await client(rowsOf(updated)).neighbors({
        graphId: GRAPH_ID,
        nodeId: 'c',
        direction: Direction.IN,
      });
      expect(edges[0]).toMatchObject({
        edgeId: 'bc',
        weight: 9,
        edgeType: 'jumps',
      });
    });
    it('rejects an unknown node with NOT_FOUND', async () => {
      await expectRejected(
        () => ask('zz', Direction.OUT),
        ErrorCode.NOT_FOUND,
        /node "zz"/,
      );
    });
    it('rejects an unknown direction with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => ask('a', 42 as Direction),
        ErrorCode.VALIDATION_FAILED,
        /direction/,
      );
    });
  });

  describe('Metrics', () => {
    it('measures the graph', async () => {
      const metrics = await client(rowsOf(sample())).metrics({
        graphId: GRAPH_ID,
      });
      expect(metrics).toMatchObject({
        nodeCount: 5n,
        edgeCount: 4n,
        density: 5 / 20,
        averageDegree: 8 / 5,
        connectedComponents: 2n,
        hasCycle: true,
        version: 10n,
        averageClustering: 0,
        diameter: 3n,
      });
    });
    it('measures clustering and diameter of a triangle with a tail', async () => {
      const graph = row([
        evt.created(),
        ...nodes('a', 'b', 'c', 'd'),
        evt.edgeAdded({ edgeId: 'ab', source: 'a', target: 'b' }),
        evt.edgeAdded({ edgeId: 'bc', source: 'b', target: 'c' }),
        evt.edgeAdded({
          edgeId: 'ca',
          source: 'c',
          target: 'a',
          directed: false,
        }),
        evt.edgeAdded({ edgeId: 'cd', source: 'c', target: 'd' }),
      ]);
      const metrics = await client(rowsOf(graph)).metrics({
        graphId: GRAPH_ID,
      });
      expect(metrics.averageClustering).toBeCloseTo((1 + 1 + 1 / 3) / 4, 12);
      expect(metrics.diameter).toBe(2n);
    });
    it('sees the cycle go when the self-loop is removed', async () => {
      const acyclic = projectAll(
        [evt.edgeRemoved({ edgeId: 'dd', source: 'd', target: 'd' })],
        sample(),
      )!;
      const metrics = await client(rowsOf(acyclic)).metrics({
        graphId: GRAPH_ID,
      });
      expect(metrics.hasCycle).toBe(false);
      expect(metrics.version).toBe(11n);
    });
    it('measures again once the row has moved on, and not before', async () => {
      const graph = sample();
      const ask = client(rowsOf(graph));
      const first = await ask.metrics({ graphId: GRAPH_ID });
      expect(await ask.metrics({ graphId: GRAPH_ID })).toEqual(first);
      projectAll([evt.edgeRemoved({ edgeId: 'dd' })], graph);
      const second = await ask.metrics({ graphId: GRAPH_ID });
      expect(first.hasCycle).toBe(true);
      expect(second.hasCycle).toBe(false);
      expect(second.edgeCount).toBe(3n);
      expect(second.version).toBe(11n);
    });
    it('measures a 10k-node graph', async () => {
      const events = [
        evt.created(),
        ...Array.from({ length: 10_000 }, (_, i) =>
          evt.nodeAdded({ nodeId: `n${i}` }),
        ),
      ];
      for (let i = 1; i < 10_000; i++) {
        events.push(
          evt.edgeAdded({
            edgeId: `e${i}`,
            source: `n${i - 1}`,
            target: `n${i}`,
          }),
        );
      }
      const big = client(rowsOf(row(events)));
      const metrics = await big.metrics({ graphId: GRAPH_ID });
      expect(metrics).toMatchObject({
        nodeCount: 10_000n,
        edgeCount: 9_999n,
        connectedComponents: 1n,
        hasCycle: false,
        averageClustering: 0,
      });
      // Above 2,000 nodes the diameter is not computed.
      expect(metrics.diameter).toBeUndefined();
      const path = await big.shortestPath({
        graphId: GRAPH_ID,
        fromNodeId: 'n0',
        toNodeId: 'n9999',
      });
      expect(path.totalCost).toBe(9_999);
    });
  });

  describe('ListGraphs by time', () => {
    /** A graph created at `createdMs`, optionally updated later at `updatedMs`. */
    const at = (graphId: string, createdMs: number, updatedMs?: number) => {
      let current = project(
        undefined,
        evt.created({ graphId }),
        commitMeta(1, createdMs, graphId),
      )!;
      if (updatedMs !== undefined) {
        current = project(
          current,
          evt.updated({ graphId, name: 'renamed' }),
          commitMeta(2, updatedMs, graphId),
        )!;
      }
      return current;
    };
    const rows = rowsOf(
      at('g-1', T0 + 1_000),
      at('g-2', T0 + 2_000, T0 + 5_000),
      at('g-3', T0 + 3_000),
    );
    const ids = async (
      init: MessageInitShape<typeof ListGraphsRequestSchema>,
    ) => {
      const { graphs, page } = await client(rows).listGraphs(init);
      return { ids: graphs.map((g) => g.graphId), total: page?.totalSize };
    };
    const ts = (ms: number) => timestampFromMs(T0 + ms);

    it('includes the start and excludes the end of a created range', async () => {
      expect(
        await ids({ created: { start: ts(1_000), end: ts(3_000) } }),
      ).toEqual({ ids: ['g-1', 'g-2'], total: 2n });
    });
    it('leaves an unset bound open', async () => {
      expect(await ids({ created: { start: ts(2_000) } })).toEqual({
        ids: ['g-2', 'g-3'],
        total: 2n,
      });
      expect(await ids({ created: { end: ts(2_000) } })).toEqual({
        ids: ['g-1'],
        total: 1n,
      });
      expect(await ids({ created: {} })).toEqual({
        ids: ['g-1', 'g-2', 'g-3'],
        total: 3n,
      });
    });
    it('compares sub-millisecond bounds exactly', async () => {
      const justAfter = { ...ts(1_000), nanos: ts(1_000).nanos + 1 };
      expect(
        await ids({ created: { start: justAfter, end: ts(1_001) } }),
      ).toEqual({ ids: [], total: 0n });
      expect(await ids({ created: { end: justAfter } })).toEqual({
        ids: ['g-1'],
        total: 1n,
      });
    });
    it('filters by the time of the last commit', async () => {
      expect(await ids({ updated: { start: ts(4_000) } })).toEqual({
        ids: ['g-2'],
        total: 1n,
      });
      expect(
        await ids({
          updated: { end: ts(4_000) },
          created: { start: ts(2_000) },
        }),
      ).toEqual({ ids: ['g-3'], total: 1n });
    });
    it('matches nothing for an empty range', async () => {
      expect(
        await ids({ created: { start: ts(1_000), end: ts(1_000) } }),
      ).toEqual({ ids: [], total: 0n });
    });
    it('rejects a range whose start is after its end with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => ids({ updated: { start: ts(2), end: ts(1) } }),
        ErrorCode.VALIDATION_FAILED,
        /updated.start must not be after updated.end/,
      );
    });
    it('rejects an invalid timestamp with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => ids({ created: { start: { seconds: 0n, nanos: -1 } } }),
        ErrorCode.VALIDATION_FAILED,
        /created.start is not a valid timestamp/,
      );
      await expectRejected(
        () => ids({ created: { end: { seconds: 10n ** 15n, nanos: 0 } } }),
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('AdjacencyList', () => {
    it('lists outgoing neighbours per node, undirected edges both ways', async () => {
      const { entries, page } = await client(rowsOf(sample())).adjacencyList({
        graphId: GRAPH_ID,
      });
      expect(
        entries.map((e) => [e.nodeId, e.neighborIds, e.outDegree]),
      ).toEqual([
        ['a', ['b'], 1n],
        ['b', ['c'], 1n],
        ['c', ['d'], 1n],
        ['d', ['c', 'd'], 2n],
        ['e', [], 0n],
      ]);
      expect(page).toMatchObject({ nextPageToken: '', totalSize: 5n });
    });
    it('lists a neighbour once over parallel edges', async () => {
      const graph = row([
        evt.created(),
        ...nodes('a', 'b'),
        evt.edgeAdded({ edgeId: 'e1', source: 'a', target: 'b' }),
        evt.edgeAdded({ edgeId: 'e2', source: 'a', target: 'b' }),
        evt.edgeAdded({
          edgeId: 'e3',
          source: 'b',
          target: 'a',
          directed: false,
        }),
      ]);
      const { entries } = await client(rowsOf(graph)).adjacencyList({
        graphId: GRAPH_ID,
      });
      expect(entries).toMatchObject([
        { nodeId: 'a', neighborIds: ['b'], outDegree: 3n },
        { nodeId: 'b', neighborIds: ['a'], outDegree: 1n },
      ]);
    });
    it('pages by node id', async () => {
      const queries = client(rowsOf(sample()));
      const first = await queries.adjacencyList({
        graphId: GRAPH_ID,
        page: { pageSize: 2 },
      });
      expect(first.entries.map((e) => e.nodeId)).toEqual(['a', 'b']);
      const second = await queries.adjacencyList({
        graphId: GRAPH_ID,
        page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? '' },
      });
      expect(second.entries.map((e) => e.nodeId)).toEqual(['c', 'd']);
      const third = await queries.adjacencyList({
        graphId: GRAPH_ID,
        page: { pageSize: 2, pageToken: second.page?.nextPageToken ?? '' },
      });
      expect(third.entries.map((e) => e.nodeId)).toEqual(['e']);
      expect(third.page?.nextPageToken).toBe('');
    });
    it('ends a page early at 10,000 neighbour ids and truncates a huge entry', async () => {
      const leaves = Array.from(
        { length: 10_001 },
        (_, i) => `l${String(i).padStart(5, '0')}`,
      );
      const graph = row([
        evt.created(),
        ...nodes('a', 'hub', ...leaves),
        evt.edgeAdded({ edgeId: 'a-hub', source: 'a', target: 'hub' }),
        ...leaves.map((leaf) =>
          evt.edgeAdded({ edgeId: `e-${leaf}`, source: 'hub', target: leaf }),
        ),
      ]);
      const queries = client(rowsOf(graph));
      const first = await queries.adjacencyList({ graphId: GRAPH_ID });
      expect(first.entries.map((e) => e.nodeId)).toEqual(['a']);
      const second = await queries.adjacencyList({
        graphId: GRAPH_ID,
        page: { pageToken: first.page?.nextPageToken ?? '' },
      });
      // The hub fills the budget; leaves (no neighbours) still fit after it.
      expect(second.entries.map((e) => e.nodeId)).toEqual([
        'hub',
        ...leaves.slice(0, 49),
      ]);
      expect(second.entries[0]).toMatchObject({
        outDegree: 10_001n,
        truncated: true,
      });
      expect(second.entries[0]?.neighborIds).toHaveLength(10_000);
      expect(second.page?.nextPageToken).not.toBe('');
    });
    it('rejects an unknown graph with NOT_FOUND', async () => {
      await expectRejected(
        () => client(rowsOf()).adjacencyList({ graphId: 'nope' }),
        ErrorCode.NOT_FOUND,
      );
    });
    it('rejects a bad page token with VALIDATION_FAILED', async () => {
      await expectRejected(
        () =>
          client(rowsOf(sample())).adjacencyList({
            graphId: GRAPH_ID,
            page: { pageToken: 'garbage!' },
          }),
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('SourceSinkNodes', () => {
    const ask = (
      role: NodeRole,
      page?: { pageSize?: number; pageToken?: string },
    ) =>
      client(rowsOf(sample())).sourceSinkNodes({
        graphId: GRAPH_ID,
        role,
        ...(page && { page }),
      });

    it('lists nodes without incoming edges as sources', async () => {
      const { nodes: found, page } = await ask(NodeRole.SOURCE);
      expect(found.map((n) => n.nodeId)).toEqual(['a', 'e']);
      expect(page?.totalSize).toBe(2n);
    });
    it('lists nodes without outgoing edges as sinks, undirected edges counting both ways', async () => {
      const { nodes: found } = await ask(NodeRole.SINK);
      expect(found.map((n) => n.nodeId)).toEqual(['e']);
    });
    it('pages by node id', async () => {
      const first = await ask(NodeRole.SOURCE, { pageSize: 1 });
      expect(first.nodes.map((n) => n.nodeId)).toEqual(['a']);
      const second = await ask(NodeRole.SOURCE, {
        pageSize: 1,
        pageToken: first.page?.nextPageToken ?? '',
      });
      expect(second.nodes.map((n) => n.nodeId)).toEqual(['e']);
      expect(second.page?.nextPageToken).toBe('');
    });
    it('finds them again once the row has moved on', async () => {
      const graph = sample();
      const ask = client(rowsOf(graph));
      const sources = () =>
        ask.sourceSinkNodes({ graphId: GRAPH_ID, role: NodeRole.SOURCE });
      expect((await sources()).nodes.map((n) => n.nodeId)).toEqual(['a', 'e']);
      projectAll(
        [evt.edgeAdded({ edgeId: 'ea', source: 'e', target: 'a' })],
        graph,
      );
      expect((await sources()).nodes.map((n) => n.nodeId)).toEqual(['e']);
    });
    it('rejects an unspecified role with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => ask(NodeRole.UNSPECIFIED),
        ErrorCode.VALIDATION_FAILED,
        /role/,
      );
    });
    it('rejects an unknown graph with NOT_FOUND', async () => {
      await expectRejected(
        () =>
          client(rowsOf()).sourceSinkNodes({
            graphId: 'nope',
            role: NodeRole.SINK,
          }),
        ErrorCode.NOT_FOUND,
      );
    });
  });

  describe('FindSimilarNodes', () => {
    const spatial = (): GraphRow =>
      row([
        evt.created(),
        evt.nodeAdded({ nodeId: 'o', conceptualPoint: [0, 0] }),
        evt.nodeAdded({ nodeId: 'x', conceptualPoint: [3, 4] }),
        evt.nodeAdded({ nodeId: 'y', conceptualPoint: [1, 0], label: 'Y' }),
        evt.nodeAdded({ nodeId: 'z', conceptualPoint: [0, 1] }),
        evt.nodeAdded({ nodeId: 'flat', conceptualPoint: [1] }),
        evt.nodeAdded({ nodeId: 'bare' }),
      ]);
    type Target =
      | { readonly case: 'nodeId'; readonly value: string }
      | {
          readonly case: 'point';
          readonly value: { readonly coordinates: number[] };
        };
    const ask = (init: { target?: Target; k?: number; threshold?: number }) =>
      client(rowsOf(spatial())).findSimilarNodes({
        graphId: GRAPH_ID,
        ...init,
      });
    const byNode = (nodeId: string) =>
      ({ case: 'nodeId', value: nodeId }) as const;
    const byPoint = (coordinates: number[]) =>
      ({ case: 'point', value: { coordinates } }) as const;

    it('ranks the nodes nearest to a node, leaving the node out', async () => {
      const { matches, truncated } = await ask({ target: byNode('o') });
      expect(
        matches.map((m) => [m.node?.nodeId, m.distance, m.similarity]),
      ).toEqual([
        ['y', 1, 0.5],
        ['z', 1, 0.5],
        ['x', 5, 1 / 6],
      ]);
      expect(matches[0]?.node?.label).toBe('Y');
      expect(truncated).toBe(false);
    });
    it('ranks the nodes nearest to a point of the same dimension', async () => {
      const { matches } = await ask({ target: byPoint([0.9]) });
      expect(matches.map((m) => m.node?.nodeId)).toEqual(['flat']);
    });
    it('keeps k and reports truncation', async () => {
      const { matches, truncated } = await ask({
        target: byPoint([0, 0]),
        k: 2,
      });
      expect(matches.map((m) => m.node?.nodeId)).toEqual(['o', 'y']);
      expect(truncated).toBe(true);
    });
    it('keeps only nodes within the threshold', async () => {
      const { matches, truncated } = await ask({
        target: byNode('x'),
        threshold: 5,
      });
      expect(matches.map((m) => m.node?.nodeId)).toEqual(['z', 'y', 'o']);
      expect(truncated).toBe(false);
    });
    it('rejects a node without a point with BUSINESS_RULE_VIOLATION', async () => {
      await expectRejected(
        () => ask({ target: byNode('bare') }),
        ErrorCode.BUSINESS_RULE_VIOLATION,
      );
    });
    it('rejects an unknown node or graph with NOT_FOUND', async () => {
      await expectRejected(
        () => ask({ target: byNode('ghost') }),
        ErrorCode.NOT_FOUND,
      );
      await expectRejected(
        () =>
          client(rowsOf()).findSimilarNodes({
            graphId: 'nope',
            target: byPoint([0]),
          }),
        ErrorCode.NOT_FOUND,
      );
    });
    it.each<[string, Parameters<typeof ask>[0]]>([
      ['no target', {}],
      ['an empty point', { target: byPoint([]) }],
      ['a non-finite point', { target: byPoint([0, NaN]) }],
      ['a malformed node id', { target: byNode('a.b') }],
      ['k above 1000', { target: byPoint([0, 0]), k: 1001 }],
      ['a negative threshold', { target: byPoint([0, 0]), threshold: -1 }],
      [
        'an infinite threshold',
        { target: byPoint([0, 0]), threshold: Infinity },
      ],
    ])('rejects %s with VALIDATION_FAILED', async (_, init) => {
      await expectRejected(() => ask(init), ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('ShortestPath', () => {
    const ask = (fromNodeId: string, toNodeId: string, graph = sample()) =>
      client(rowsOf(graph)).shortestPath({
        graphId: GRAPH_ID,
        fromNodeId,
        toNodeId,
      });

    it('follows weights and direction', async () => {
      expect(await ask('a', 'd')).toMatchObject({
        found: true,
        nodeIds: ['a', 'b', 'c', 'd'],
        edgeIds: ['ab', 'bc', 'cd'],
        totalCost: 6,
      });
    });
    it('walks an undirected edge backwards but not a directed one', async () => {
      expect(await ask('d', 'c')).toMatchObject({
        found: true,
        nodeIds: ['d', 'c'],
        totalCost: 3,
      });
      expect(await ask('d', 'a')).toMatchObject({
        found: false,
        nodeIds: [],
        edgeIds: [],
        totalCost: 0,
      });
    });
    it('reports an unreachable node as not found', async () => {
      expect((await ask('a', 'e')).found).toBe(false);
    });
    it('rejects an unknown node with NOT_FOUND', async () => {
      await expectRejected(
        () => ask('a', 'zz'),
        ErrorCode.NOT_FOUND,
        /node "zz"/,
      );
      await expectRejected(() => ask('zz', 'a'), ErrorCode.NOT_FOUND);
    });
    it('rejects a graph with a negative weight with BUSINESS_RULE_VIOLATION, until the weight is fixed', async () => {
      const negative = projectAll(
        [evt.edgeUpdated({ edgeId: 'ab', weight: -1 })],
        sample(),
      )!;
      await expectRejected(
        () => ask('a', 'b', negative),
        ErrorCode.BUSINESS_RULE_VIOLATION,
        /negative weight/,
      );
      const fixed = projectAll(
        [evt.edgeUpdated({ edgeId: 'ab', weightCleared: true })],
        negative,
      )!;
      expect(await ask('a', 'b', fixed)).toMatchObject({
        found: true,
        totalCost: 1,
      });
    });
    it('rejects malformed node ids with VALIDATION_FAILED', async () => {
      await expectRejected(
        () => ask('', 'a'),
        ErrorCode.VALIDATION_FAILED,
        /from_node_id/,
      );
    });
  });
});

describe('graph projection', () => {
  it('has no row until the graph is created', () => {
    expect(projectAll([evt.nodeAdded(), evt.archived()])).toBeUndefined();
  });
  it('folds events into the row it is given, in place', () => {
    const row = sample();
    expect(row.adjacency.get('b')?.in.size).toBe(1);
    const after = projectAll(
      [evt.edgeRemoved({ edgeId: 'ab' }), evt.nodeRemoved({ nodeId: 'a' })],
      row,
    )!;
    expect(after).toBe(row);
    expect([...row.nodes.keys()]).toEqual(['b', 'c', 'd', 'e']);
    expect(row.adjacency.get('b')?.in.size).toBe(0);
    expect(row.adjacency.has('a')).toBe(false);
    expect(row.version).toBe(12n);
  });
  it('gives a node its own adjacency on its first edge, leaving the shared empty one alone', () => {
    const row = projectAll([evt.created(), ...nodes('x', 'y', 'z')])!;
    const empty = row.adjacency.get('z');
    expect(row.adjacency.get('x')).toBe(empty);
    projectAll(
      [evt.edgeAdded({ edgeId: 'xy', source: 'x', target: 'y' })],
      row,
    );
    expect([...row.adjacency.get('x')!.out.keys()]).toEqual(['xy']);
    expect([...row.adjacency.get('y')!.in.keys()]).toEqual(['xy']);
    expect(row.adjacency.get('z')).toBe(empty);
    expect(empty?.out.size).toBe(0);
    expect(empty?.in.size).toBe(0);
  });
  it('drops the edges of a removed node even without EdgeRemoved events', () => {
    const after = projectAll([evt.nodeRemoved({ nodeId: 'c' })], sample())!;
    expect([...after.edges.keys()]).toEqual(['ab', 'dd']);
    expect(after.adjacency.get('d')).toMatchObject({ shared: 1 });
    expect([...after.adjacency.get('b')!.out.keys()]).toEqual([]);
  });
  it('moves version and update time on every event, even unknown ones', () => {
    const after = projectAll([evt.unknown(), evt.imported(0, 0)], sample())!;
    expect(after.version).toBe(12n);
    expect(after.updatedAtMs).toBe(T0 + 12);
    expect(after.createdAtMs).toBe(T0 + 1);
  });
  it('ignores edges whose ends are missing', () => {
    const after = projectAll(
      [
        ...nodes('x'),
        evt.edgeAdded({ edgeId: 'xz', source: 'x', target: 'z' }),
      ],
      sample(),
    )!;
    expect(after.edges.has('xz')).toBe(false);
  });
});
