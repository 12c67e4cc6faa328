import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  SortedIndex,
  invalid,
  requireFinite,
  requireId,
  requireText,
  show,
  upperBound,
  violation,
  notFound,
} from '@cim/kernel';
import type { PageInfoSchema } from '@cim/proto/cim/common/v1/paging_pb';
import {
  Direction,
  GraphStatus,
  GraphType,
  NodeRole,
  type AdjacencyEntrySchema,
  type EdgeSchema,
  type GraphQueryService,
  type GraphSummarySchema,
  type NodeSchema,
  type TimeRange,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  SortedRowIds,
  encodeCursor,
  readPage,
  takePage,
  type QueryHandlers,
  type Rows,
} from '@cim/service';
import { LIMITS, validateConceptualPoint } from './domain/rules.js';
import {
  graphMetrics,
  shortestPath,
  sourcesAndSinks,
  type GraphMetrics,
  type SourcesAndSinks,
  type Walkable,
} from './graph-algorithms.js';
import { nearestPoints, type PointEntry } from './nearest-points.js';
import {
  NO_EDGES,
  type EdgeRecord,
  type GraphRow,
  type NodeRecord,
} from './projection.js';

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

/** Neighbour ids one AdjacencyList page holds at most (and one entry lists at most). */
const ADJACENCY_IDS_PER_PAGE = 10_000;
/** FindSimilarNodes: k when the request leaves it 0, and the largest k accepted. */
const SIMILAR_DEFAULT_K = 50;
const SIMILAR_MAX_K = 1_000;

/** Timestamp bounds allowed by google.protobuf.Timestamp: 0001-01-01 to 9999-12-31. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/**
 * A timestamp as whole milliseconds rounded up, with its exact nanosecond
 * count; VALIDATION_FAILED outside Timestamp's range. For whole-millisecond
 * times t, t >= bound ⇔ t >= ceilMs and t < bound ⇔ t < ceilMs.
 */
function readBound(
  { seconds, nanos }: Timestamp,
  field: string,
): { readonly ceilMs: number; readonly exactNs: bigint } {
  if (
    seconds < MIN_SECONDS ||
    seconds > MAX_SECONDS ||
    !(Number.isInteger(nanos) && nanos >= 0 && nanos < 1e9)
  ) {
    invalid(`${field} is not a valid timestamp`);
  }
  return {
    ceilMs: Number(seconds) * 1000 + Math.ceil(nanos / 1e6),
    exactNs: seconds * 1_000_000_000n + BigInt(nanos),
  };
}

/** A half-open [start, end) test over millisecond times; undefined for an unset range. */
function inRange(
  range: TimeRange | undefined,
  field: string,
): ((ms: number) => boolean) | undefined {
  if (range === undefined) return undefined;
  const start =
    range.start === undefined
      ? undefined
      : readBound(range.start, `${field}.start`);
  const end =
    range.end === undefined ? undefined : readBound(range.end, `${field}.end`);
  if (start !== undefined && end !== undefined && start.exactNs > end.exactNs) {
    invalid(`${field}.start must not be after ${field}.end`);
  }
  const from = start?.ceilMs ?? -Infinity;
  const until = end?.ceilMs ?? Infinity;
  return (ms) => ms >= from && ms < until;
}

/** Values computed from a whole row, kept until the row's version moves on. */
class VersionedCache<T> {
  private readonly byRow = new WeakMap<
    GraphRow,
    { readonly version: bigint; readonly value: T }
  >();

  /** The value for `row` as it stands, computed by `compute` when the row changed since. */
  of(row: GraphRow, compute: () => T): T {
    const cached = this.byRow.get(row);
    if (cached?.version === row.version) return cached.value;
    const value = compute();
    this.byRow.set(row, { version: row.version, value });
    return value;
  }
}

function rowOf(rows: Rows<GraphRow>, graphId: string): GraphRow {
  const row = rows.get(graphId);
  if (row === undefined) {
    notFound(`graph ${show(graphId)} not found`);
  }
  return row;
}

function nodeOf(row: GraphRow, nodeId: string): NodeRecord {
  const node = row.nodes.get(nodeId);
  if (node === undefined) {
    notFound(`node ${show(nodeId)} not found in graph ${show(row.graphId)}`);
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
 * id with opaque cursors (page size 0 → 50, at most 500). Metrics and the
 * sources and sinks are cached per row and version, so repeated calls on an
 * unchanged graph cost nothing.
 */
export const graphQueries = (
  rows: Rows<GraphRow>,
): QueryHandlers<typeof GraphQueryService> => {
  const index = new SortedRowIds(rows);
  const metricsOf = new VersionedCache<GraphMetrics>();
  const endsOf = new VersionedCache<SourcesAndSinks>();

  return {
    graphInfo({ graphId }) {
      requireId(graphId, 'graph_id');
      return { graph: summary(rowOf(rows, graphId)) };
    },

    listGraphs({ page, graphType, status, nameContains, created, updated }) {
      const window = readPage(page);
      const nameQuery = nameContains.toLowerCase();
      const createdIn = inRange(created, 'created');
      const updatedIn = inRange(updated, 'updated');
      const filtered =
        graphType !== GraphType.UNSPECIFIED ||
        status !== GraphStatus.UNSPECIFIED ||
        nameQuery !== '' ||
        createdIn !== undefined ||
        updatedIn !== undefined;
      const matches = (row: GraphRow): boolean =>
        (graphType === GraphType.UNSPECIFIED || row.graphType === graphType) &&
        (status === GraphStatus.UNSPECIFIED || row.status === status) &&
        (nameQuery === '' || row.name.toLowerCase().includes(nameQuery)) &&
        (createdIn === undefined || createdIn(row.createdAtMs)) &&
        (updatedIn === undefined || updatedIn(row.updatedAtMs));
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
        SortedIndex.empty<NodeRecord>();
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
      const metrics = metricsOf.of(row, () =>
        graphMetrics(row.nodes.keys(), row.edges.values()),
      );
      return {
        nodeCount: BigInt(metrics.nodeCount),
        edgeCount: BigInt(metrics.edgeCount),
        density: metrics.density,
        averageDegree: metrics.averageDegree,
        connectedComponents: BigInt(metrics.connectedComponents),
        hasCycle: metrics.hasCycle,
        version: row.version,
        averageClustering: metrics.averageClustering,
        ...(metrics.diameter !== undefined && {
          diameter: BigInt(metrics.diameter),
        }),
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

    adjacencyList({ graphId, page }) {
      requireId(graphId, 'graph_id');
      const window = readPage(page);
      const row = rowOf(rows, graphId);
      const entries: MessageInitShape<typeof AdjacencyEntrySchema>[] = [];
      let ids = 0;
      let last: string | undefined;
      let more = false;
      for (const [nodeId, { out }] of row.adjacency.entries(window.after)) {
        if (
          entries.length === window.size ||
          (entries.length > 0 && ids + out.size > ADJACENCY_IDS_PER_PAGE)
        ) {
          more = true;
          break;
        }
        const neighbours = new Set<string>();
        for (const edge of out.values()) {
          neighbours.add(
            edge.directed || edge.source === nodeId ? edge.target : edge.source,
          );
        }
        const sorted = [...neighbours].sort();
        const listed = sorted.slice(0, ADJACENCY_IDS_PER_PAGE);
        ids += listed.length;
        entries.push({
          nodeId,
          neighborIds: listed,
          outDegree: BigInt(out.size),
          truncated: listed.length < sorted.length,
        });
        last = nodeId;
      }
      const info: MessageInitShape<typeof PageInfoSchema> = {
        nextPageToken: more && last !== undefined ? encodeCursor(last) : '',
        totalSize: BigInt(row.adjacency.size),
      };
      return { entries, page: info };
    },

    sourceSinkNodes({ graphId, role, page }) {
      requireId(graphId, 'graph_id');
      if (role !== NodeRole.SOURCE && role !== NodeRole.SINK) {
        invalid(`role must be NODE_ROLE_SOURCE or NODE_ROLE_SINK, got ${role}`);
      }
      const window = readPage(page);
      const row = rowOf(rows, graphId);
      const ends = endsOf.of(row, () =>
        sourcesAndSinks(row.nodes.keys(), row.edges.values()),
      );
      const ids = role === NodeRole.SOURCE ? ends.sources : ends.sinks;
      function* entries(): Generator<[string, NodeRecord], void, undefined> {
        for (
          let i =
            window.after === undefined ? 0 : upperBound(ids, window.after);
          i < ids.length;
          i++
        ) {
          const node = row.nodes.get(ids[i]!);
          if (node !== undefined) yield [node.id, node];
        }
      }
      const { items, info } = takePage(entries(), window, ids.length, nodeView);
      return { nodes: items, page: info };
    },

    findSimilarNodes({ graphId, target, k, threshold }) {
      requireId(graphId, 'graph_id');
      if (k > SIMILAR_MAX_K) {
        invalid(`k must be at most ${SIMILAR_MAX_K}, got ${k}`);
      }
      if (threshold !== undefined) {
        requireFinite(threshold, 'threshold');
        if (threshold < 0) invalid(`threshold must be >= 0, got ${threshold}`);
      }
      if (target.case === undefined) {
        invalid('one of node_id and point is required');
      }
      if (target.case === 'nodeId') {
        requireId(target.value, 'node_id');
      } else {
        if (target.value.coordinates.length === 0) {
          invalid('point must not be empty');
        }
        validateConceptualPoint(target.value.coordinates);
      }
      const row = rowOf(rows, graphId);
      const node =
        target.case === 'nodeId' ? nodeOf(row, target.value) : undefined;
      if (node?.conceptualPoint.length === 0) {
        violation(
          `node ${show(node.id)} has no conceptual point to compare with`,
        );
      }
      const point =
        node?.conceptualPoint ??
        (target.case === 'point' ? target.value.coordinates : []);
      function* candidates(): Generator<PointEntry, void, undefined> {
        for (const node of row.nodes.values()) {
          if (node.conceptualPoint.length > 0) {
            yield { id: node.id, point: node.conceptualPoint };
          }
        }
      }
      const { matches, truncated } = nearestPoints(candidates(), {
        target: point,
        k: k === 0 ? SIMILAR_DEFAULT_K : k,
        threshold,
        exclude: node?.id,
      });
      return {
        matches: matches.map(({ id, distance }) => ({
          node: nodeView(row.nodes.get(id)!),
          distance,
          similarity: 1 / (1 + distance),
        })),
        truncated,
      };
    },
  };
};
