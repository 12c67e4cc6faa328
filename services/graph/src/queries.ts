import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  SortedMap,
  requireId,
  requireText,
  show,
} from '@cim/kernel';
import {
  Direction,
  GraphStatus,
  GraphType,
  type EdgeSchema,
  type GraphQueryService,
  type GraphSummarySchema,
  type NodeSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  SortedRowIds,
  readPage,
  takePage,
  upperBound,
  type QueryHandlers,
  type Rows,
} from '@cim/service';
import { LIMITS } from './domain/rules.js';
import {
  graphMetrics,
  shortestPath,
  type GraphMetrics,
  type Walkable,
} from './graph-algorithms.js';
import type {
  Adjacency,
  EdgeRecord,
  GraphRow,
  NodeRecord,
} from './projection.js';

const NO_EDGES: Adjacency = {
  out: SortedMap.empty(),
  in: SortedMap.empty(),
  shared: 0,
};

/** Two id-ordered entry streams as one, each id once. */
function* mergeById<V>(
  a: Iterator<[string, V]>,
  b: Iterator<[string, V]>,
): Generator<[string, V], void, undefined> {
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value[0] < y.value[0])) {
      yield x.value;
      x = a.next();
    } else if (x.done || y.value[0] < x.value[0]) {
      yield y.value;
      y = b.next();
    } else {
      yield x.value;
      x = a.next();
      y = b.next();
    }
  }
}

function rowOf(rows: Rows<GraphRow>, graphId: string): GraphRow {
  const row = rows.get(graphId);
  if (row === undefined) {
    throw new DomainError(
      ErrorCode.NOT_FOUND,
      `graph ${show(graphId)} not found`,
    );
  }
  return row;
}

function nodeOf(row: GraphRow, nodeId: string): NodeRecord {
  const node = row.nodes.get(nodeId);
  if (node === undefined) {
    throw new DomainError(
      ErrorCode.NOT_FOUND,
      `node ${show(nodeId)} not found in graph ${show(row.graphId)}`,
    );
  }
  return node;
}

function summary(row: GraphRow): MessageInitShape<typeof GraphSummarySchema> {
  return {
    graphId: row.graphId,
    name: row.name,
    description: row.description,
    graphType: row.graphType,
    status: row.status,
    tags: [...row.tags],
    ...(row.metadata && { metadata: row.metadata }),
    nodeCount: BigInt(row.nodes.size),
    edgeCount: BigInt(row.edges.size),
    version: row.version,
    createdAt: timestampFromMs(row.createdAtMs),
    updatedAt: timestampFromMs(row.updatedAtMs),
  };
}

function nodeView(node: NodeRecord): MessageInitShape<typeof NodeSchema> {
  return {
    nodeId: node.id,
    nodeType: node.nodeType,
    conceptualPoint: [...node.conceptualPoint],
    ...(node.label !== undefined && { label: node.label }),
    ...(node.metadata && { metadata: node.metadata }),
  };
}

function edgeView(edge: EdgeRecord): MessageInitShape<typeof EdgeSchema> {
  return {
    edgeId: edge.id,
    source: edge.source,
    target: edge.target,
    edgeType: edge.edgeType,
    directed: edge.directed,
    ...(edge.relationship && { relationship: edge.relationship }),
    ...(edge.weight !== undefined && { weight: edge.weight }),
    ...(edge.metadata && { metadata: edge.metadata }),
  };
}

/**
 * The query handlers over the projection's rows. Unknown graphs and nodes
 * answer NOT_FOUND, malformed arguments VALIDATION_FAILED. Lists are paged by
 * id with opaque cursors (page size 0 → 50, at most 500). Metrics are cached
 * per row object, which is immutable, so repeated calls on an unchanged graph
 * cost nothing.
 */
export const graphQueries = (
  rows: Rows<GraphRow>,
): QueryHandlers<typeof GraphQueryService> => {
  const index = new SortedRowIds(rows);
  const metricsOf = new WeakMap<GraphRow, GraphMetrics>();

  return {
    graphInfo({ graphId }) {
      requireId(graphId, 'graph_id');
      return { graph: summary(rowOf(rows, graphId)) };
    },

    listGraphs({ page, graphType, status, nameContains }) {
      const window = readPage(page);
      const nameQuery = nameContains.toLowerCase();
      const filtered =
        graphType !== GraphType.UNSPECIFIED ||
        status !== GraphStatus.UNSPECIFIED ||
        nameQuery !== '';
      const matches = (row: GraphRow): boolean =>
        (graphType === GraphType.UNSPECIFIED || row.graphType === graphType) &&
        (status === GraphStatus.UNSPECIFIED || row.status === status) &&
        (nameQuery === '' || row.name.toLowerCase().includes(nameQuery));
      const ids = index.sorted();
      function* candidates(): Generator<[string, GraphRow], void, undefined> {
        for (
          let i =
            window.after === undefined ? 0 : upperBound(ids, window.after);
          i < ids.length;
          i++
        ) {
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
      return { graphs: items, page: info };
    },

    listNodes({ graphId, page }) {
      requireId(graphId, 'graph_id');
      const window = readPage(page);
      const { nodes } = rowOf(rows, graphId);
      const { items, info } = takePage(
        nodes.entries(window.after),
        window,
        nodes.size,
        nodeView,
      );
      return { nodes: items, page: info };
    },

    listEdges({ graphId, page }) {
      requireId(graphId, 'graph_id');
      const window = readPage(page);
      const { edges } = rowOf(rows, graphId);
      const { items, info } = takePage(
        edges.entries(window.after),
        window,
        edges.size,
        edgeView,
      );
      return { edges: items, page: info };
    },

    nodesByType({ graphId, nodeType, page }) {
      requireId(graphId, 'graph_id');
      requireText(nodeType, 'node_type', LIMITS.type);
      const window = readPage(page);
      const ofType =
        rowOf(rows, graphId).nodesByType.get(nodeType) ??
        SortedMap.empty<NodeRecord>();
      const { items, info } = takePage(
        ofType.entries(window.after),
        window,
        ofType.size,
        nodeView,
      );
      return { nodes: items, page: info };
    },

    neighbors({ graphId, nodeId, direction, page }) {
      requireId(graphId, 'graph_id');
      requireId(nodeId, 'node_id');
      if (Direction[direction] === undefined) {
        throw new DomainError(
          ErrorCode.VALIDATION_FAILED,
          `direction ${direction} is not a known direction`,
        );
      }
      const window = readPage(page);
      const row = rowOf(rows, graphId);
      nodeOf(row, nodeId);
      const { out, in: into, shared } = row.adjacency.get(nodeId) ?? NO_EDGES;
      const [entries, total] =
        direction === Direction.OUT
          ? [out.entries(window.after), out.size]
          : direction === Direction.IN
            ? [into.entries(window.after), into.size]
            : [
                mergeById(
                  out.entries(window.after),
                  into.entries(window.after),
                ),
                out.size + into.size - shared,
              ];
      const { items: edges, info } = takePage(
        entries,
        window,
        total,
        (edge: EdgeRecord) => edge,
      );
      const others = new Map<string, NodeRecord>();
      for (const edge of edges) {
        const otherId = edge.source === nodeId ? edge.target : edge.source;
        const other = row.nodes.get(otherId);
        if (other !== undefined) others.set(otherId, other);
      }
      return {
        nodes: [...others.values()].map(nodeView),
        edges: edges.map(edgeView),
        page: info,
      };
    },

    metrics({ graphId }) {
      requireId(graphId, 'graph_id');
      const row = rowOf(rows, graphId);
      let metrics = metricsOf.get(row);
      if (metrics === undefined) {
        metrics = graphMetrics(row.nodes.keys(), row.edges.values());
        metricsOf.set(row, metrics);
      }
      return {
        nodeCount: BigInt(metrics.nodeCount),
        edgeCount: BigInt(metrics.edgeCount),
        density: metrics.density,
        averageDegree: metrics.averageDegree,
        connectedComponents: BigInt(metrics.connectedComponents),
        hasCycle: metrics.hasCycle,
        version: row.version,
      };
    },

    shortestPath({ graphId, fromNodeId, toNodeId }) {
      requireId(graphId, 'graph_id');
      requireId(fromNodeId, 'from_node_id');
      requireId(toNodeId, 'to_node_id');
      const row = rowOf(rows, graphId);
      nodeOf(row, fromNodeId);
      nodeOf(row, toNodeId);
      if (row.negativeWeights > 0) {
        throw new DomainError(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          `graph ${show(graphId)} has ${row.negativeWeights} edge(s) with a negative weight; shortest paths need weights >= 0`,
        );
      }
      const walkable: Walkable = {
        outgoing: (id) => (row.adjacency.get(id) ?? NO_EDGES).out.values(),
      };
      const path = shortestPath(walkable, fromNodeId, toNodeId);
      return {
        found: path.found,
        nodeIds: [...path.nodeIds],
        edgeIds: [...path.edgeIds],
        totalCost: path.cost,
      };
    },
  };
};
