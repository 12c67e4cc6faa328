import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';
import type {
  PageInfoSchema,
  PageRequest,
} from '@cim/proto/cim/common/v1/paging_pb';
import {
  Direction,
  GraphStatus,
  GraphType,
  type EdgeSchema,
  type GraphQueryService,
  type GraphSummarySchema,
  type NodeSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { QueryHandlers, Rows } from '@cim/service';
import { requireId, requireText, LIMITS, show } from './domain/rules.js';
import { SortedMap } from '@cim/kernel';
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

/** Page size when a request asks for 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger requested page sizes are cut down to this. */
export const MAX_PAGE_SIZE = 500;

type PageInfoInit = MessageInitShape<typeof PageInfoSchema>;

const NO_EDGES: Adjacency = {
  out: SortedMap.empty(),
  in: SortedMap.empty(),
  shared: 0,
};

const CURSOR_PREFIX = 'k:';

/** An opaque page token: the last id of the previous page, so later pages are stable under inserts. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(CURSOR_PREFIX + lastId, 'utf8').toString('base64url');
}

/** The id a page token carries; VALIDATION_FAILED for anything encodeCursor did not make. */
export function decodeCursor(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const id = text.slice(CURSOR_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(CURSOR_PREFIX) ||
    !isSubjectToken(id) ||
    encodeCursor(id) !== token
  ) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `page_token ${show(token)} is not a token this query issued`,
    );
  }
  return id;
}

interface PageWindow {
  readonly size: number;
  readonly after: string | undefined;
}

function readPage(page: PageRequest | undefined): PageWindow {
  const requested = page?.pageSize ?? 0;
  const token = page?.pageToken ?? '';
  return {
    size:
      requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE),
    after: token === '' ? undefined : decodeCursor(token),
  };
}

/** Takes one page from entries already positioned after the cursor and in id order. */
function takePage<V, O>(
  entries: Iterable<readonly [string, V]>,
  { size }: PageWindow,
  total: number,
  render: (value: V) => O,
): { readonly items: O[]; readonly info: PageInfoInit } {
  const items: O[] = [];
  let last: string | undefined;
  let more = false;
  for (const [id, value] of entries) {
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(render(value));
    last = id;
  }
  return {
    items,
    info: {
      nextPageToken: more && last !== undefined ? encodeCursor(last) : '',
      totalSize: BigInt(total),
    },
  };
}

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
 * Graph ids in sorted order for ListGraphs, kept beside the rows: `project`
 * never drops a row, so ids only ever arrive and a change of `rows.size`
 * reveals them. Catching up costs one O(n) scan plus sorting the new ids;
 * a page then costs O(log n + page size) without filters.
 */
class GraphIndex {
  private ids: string[] = [];
  private readonly known = new Set<string>();

  constructor(private readonly rows: Rows<GraphRow>) {}

  sorted(): readonly string[] {
    if (this.rows.size !== this.ids.length) this.catchUp();
    return this.ids;
  }

  private catchUp(): void {
    if (this.rows.size < this.ids.length) {
      // Rows were replaced wholesale (a rebuilt projection): start over.
      this.ids = [];
      this.known.clear();
    }
    const fresh: string[] = [];
    for (const [id] of this.rows.entries()) {
      if (this.known.has(id)) continue;
      this.known.add(id);
      fresh.push(id);
    }
    // Default sort compares UTF-16 code units, the order SortedMap and cursors use.
    fresh.sort();
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ids.length || j < fresh.length) {
      if (
        j === fresh.length ||
        (i < this.ids.length && this.ids[i]! < fresh[j]!)
      )
        merged.push(this.ids[i++]!);
      else merged.push(fresh[j++]!);
    }
    this.ids = merged;
  }
}

/** Index of the first id greater than `after` (binary search). */
function upperBound(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
  const index = new GraphIndex(rows);
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
