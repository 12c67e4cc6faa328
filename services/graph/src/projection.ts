import type { JsonObject } from '@bufbuild/protobuf';
import {
  GraphStatus,
  type EdgeAdded,
  type EdgeUpdated,
  type GraphEvent,
  type GraphType,
  type GraphUpdated,
  type NodeAdded,
  type Relationship,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { CommitMeta } from '@cim/service';
import { SortedMap } from '@cim/kernel';

/** A node in the read model. */
export interface NodeRecord {
  readonly id: string;
  readonly nodeType: string;
  readonly label: string | undefined;
  readonly metadata: JsonObject | undefined;
  readonly conceptualPoint: readonly number[];
}

/** An edge in the read model. */
export interface EdgeRecord {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly edgeType: string;
  readonly relationship: Relationship | undefined;
  readonly directed: boolean;
  readonly weight: number | undefined;
  readonly metadata: JsonObject | undefined;
}

/**
 * The edges of one node by edge id. `out` holds what can be walked away from
 * the node (directed edges it starts, undirected edges it touches), `in` what
 * leads to it; `shared` counts the edges in both (undirected ones and
 * directed self-loops), so |out ∪ in| = |out| + |in| − shared in O(1).
 */
export interface Adjacency {
  readonly out: SortedMap<EdgeRecord>;
  readonly in: SortedMap<EdgeRecord>;
  readonly shared: number;
}

/**
 * The read model of one graph, shaped for the queries: nodes and edges by
 * id, nodes by type, and per-node adjacency for Neighbors and ShortestPath.
 * All collections are persistent sorted maps, so each event builds a new row
 * in O(log n) by sharing everything it does not touch: earlier rows stay
 * valid and unchanged for any query still reading them, without copying.
 */
export interface GraphRow {
  readonly graphId: string;
  readonly name: string;
  readonly description: string;
  readonly graphType: GraphType;
  readonly status: GraphStatus;
  readonly tags: readonly string[];
  readonly metadata: JsonObject | undefined;
  /** Aggregate version after the last event folded in. */
  readonly version: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly nodes: SortedMap<NodeRecord>;
  readonly edges: SortedMap<EdgeRecord>;
  readonly nodesByType: SortedMap<SortedMap<NodeRecord>>;
  readonly adjacency: SortedMap<Adjacency>;
  /** Edges with a negative weight; shortest paths are refused while any exist. */
  readonly negativeWeights: number;
}

const NO_EDGES: Adjacency = {
  out: SortedMap.empty(),
  in: SortedMap.empty(),
  shared: 0,
};

/**
 * Folds one event into the graph's row: undefined until GraphCreated, never
 * dropped afterwards (archived graphs stay listed). Events that do not fit
 * the row, or come from a newer schema, change only its version and time.
 */
export function project(
  row: GraphRow | undefined,
  { body }: GraphEvent,
  meta: CommitMeta,
): GraphRow | undefined {
  if (body.case === 'created') {
    if (row !== undefined) return stamp(row, meta);
    const { graphId, name, description, graphType, tags, metadata } =
      body.value;
    return {
      graphId,
      name,
      description,
      graphType,
      status: GraphStatus.ACTIVE,
      tags,
      metadata,
      version: meta.version,
      createdAtMs: meta.occurredAtMs,
      updatedAtMs: meta.occurredAtMs,
      nodes: SortedMap.empty(),
      edges: SortedMap.empty(),
      nodesByType: SortedMap.empty(),
      adjacency: SortedMap.empty(),
      negativeWeights: 0,
    };
  }
  if (row === undefined) return undefined;
  switch (body.case) {
    case 'updated':
      return stamp(updated(row, body.value), meta);
    case 'statusChanged':
      return stamp(statusChanged(row, body.value.to), meta);
    case 'archived':
      return stamp({ ...row, status: GraphStatus.ARCHIVED }, meta);
    case 'nodeAdded':
      return nodeAdded(row, body.value, meta);
    case 'nodeUpdated':
      return nodeUpdated(row, body.value.nodeId, body.value.metadata, meta);
    case 'nodeRemoved':
      return stamp(nodeRemoved(row, body.value.nodeId), meta);
    case 'edgeAdded':
      return edgeAdded(row, body.value, meta);
    case 'edgeUpdated':
      return stamp(edgeUpdated(row, body.value), meta);
    case 'edgeRemoved':
      return stamp(edgeRemoved(row, body.value.edgeId), meta);
    case 'imported':
    case undefined:
      return stamp(row, meta);
  }
}

function stamp(row: GraphRow, meta: CommitMeta): GraphRow {
  return { ...row, version: meta.version, updatedAtMs: meta.occurredAtMs };
}

// The frequent events (a node or an edge added, a node's metadata changed)
// build their new row in one object literal, stamped with the commit, instead
// of copying the whole row once per changed part and again to stamp it.

function updated(
  row: GraphRow,
  { name, description, metadata, tags }: GraphUpdated,
): GraphRow {
  return {
    ...row,
    ...(name !== undefined && { name }),
    ...(description !== undefined && { description }),
    ...(metadata !== undefined && { metadata }),
    ...(tags !== undefined && { tags: tags.values }),
  };
}

function statusChanged(row: GraphRow, to: GraphStatus): GraphRow {
  if (row.status === GraphStatus.ARCHIVED) return row;
  return to === GraphStatus.ACTIVE || to === GraphStatus.READ_ONLY
    ? { ...row, status: to }
    : row;
}

function nodesWith(row: GraphRow, node: NodeRecord) {
  const ofType =
    row.nodesByType.get(node.nodeType) ?? SortedMap.empty<NodeRecord>();
  return {
    nodes: row.nodes.set(node.id, node),
    nodesByType: row.nodesByType.set(node.nodeType, ofType.set(node.id, node)),
  };
}

function nodeAdded(
  row: GraphRow,
  { nodeId, nodeType, label, metadata, conceptualPoint }: NodeAdded,
  meta: CommitMeta,
): GraphRow {
  if (row.nodes.has(nodeId)) return stamp(row, meta);
  const node: NodeRecord = {
    id: nodeId,
    nodeType,
    label,
    metadata,
    conceptualPoint,
  };
  const { nodes, nodesByType } = nodesWith(row, node);
  return {
    ...row,
    nodes,
    nodesByType,
    adjacency: row.adjacency.set(nodeId, NO_EDGES),
    version: meta.version,
    updatedAtMs: meta.occurredAtMs,
  };
}

function nodeUpdated(
  row: GraphRow,
  nodeId: string,
  metadata: JsonObject | undefined,
  meta: CommitMeta,
): GraphRow {
  const node = row.nodes.get(nodeId);
  if (node === undefined) return stamp(row, meta);
  const { nodes, nodesByType } = nodesWith(row, { ...node, metadata });
  return {
    ...row,
    nodes,
    nodesByType,
    version: meta.version,
    updatedAtMs: meta.occurredAtMs,
  };
}

function nodeRemoved(row: GraphRow, nodeId: string): GraphRow {
  const node = row.nodes.get(nodeId);
  if (node === undefined) return row;
  let current = row;
  const adjacency = row.adjacency.get(nodeId) ?? NO_EDGES;
  // The decider emits EdgeRemoved for every incident edge first, so this
  // normally finds nothing; it keeps edges from dangling on any stream.
  for (const edgeId of [...adjacency.out.keys(), ...adjacency.in.keys()]) {
    current = edgeRemoved(current, edgeId);
  }
  const ofType = current.nodesByType.get(node.nodeType)?.delete(nodeId);
  return {
    ...current,
    nodes: current.nodes.delete(nodeId),
    nodesByType:
      ofType === undefined || ofType.size === 0
        ? current.nodesByType.delete(node.nodeType)
        : current.nodesByType.set(node.nodeType, ofType),
    adjacency: current.adjacency.delete(nodeId),
  };
}

type EdgeChange = (edges: SortedMap<EdgeRecord>) => SortedMap<EdgeRecord>;

function touchNode(
  adjacency: SortedMap<Adjacency>,
  nodeId: string,
  out: boolean,
  into: boolean,
  change: EdgeChange,
  sharedDelta: number,
): SortedMap<Adjacency> {
  const entry = adjacency.get(nodeId);
  if (entry === undefined) return adjacency;
  return adjacency.set(nodeId, {
    out: out ? change(entry.out) : entry.out,
    in: into ? change(entry.in) : entry.in,
    shared: out && into ? entry.shared + sharedDelta : entry.shared,
  });
}

/** Applies `change` to every adjacency map the edge belongs in; sharedDelta is +1 on add, −1 on remove, 0 on update. */
function placeEdge(
  adjacency: SortedMap<Adjacency>,
  { source, target, directed }: EdgeRecord,
  change: EdgeChange,
  sharedDelta: number,
): SortedMap<Adjacency> {
  if (directed && source !== target) {
    return touchNode(
      touchNode(adjacency, source, true, false, change, 0),
      target,
      false,
      true,
      change,
      0,
    );
  }
  const next = touchNode(adjacency, source, true, true, change, sharedDelta);
  return target === source
    ? next
    : touchNode(next, target, true, true, change, sharedDelta);
}

const negative = (weight: number | undefined): number =>
  weight !== undefined && weight < 0 ? 1 : 0;

function edgeAdded(
  row: GraphRow,
  added: EdgeAdded,
  meta: CommitMeta,
): GraphRow {
  const { edgeId, source, target } = added;
  if (
    row.edges.has(edgeId) ||
    !row.nodes.has(source) ||
    !row.nodes.has(target)
  ) {
    return stamp(row, meta);
  }
  const edge: EdgeRecord = {
    id: edgeId,
    source,
    target,
    edgeType: added.edgeType,
    relationship: added.relationship,
    directed: added.directed,
    weight: added.weight,
    metadata: added.metadata,
  };
  return {
    ...row,
    edges: row.edges.set(edgeId, edge),
    adjacency: placeEdge(
      row.adjacency,
      edge,
      (edges) => edges.set(edgeId, edge),
      1,
    ),
    negativeWeights: row.negativeWeights + negative(edge.weight),
    version: meta.version,
    updatedAtMs: meta.occurredAtMs,
  };
}

function edgeUpdated(row: GraphRow, update: EdgeUpdated): GraphRow {
  const edge = row.edges.get(update.edgeId);
  if (edge === undefined) return row;
  const next: EdgeRecord = {
    ...edge,
    ...(update.edgeType !== undefined && { edgeType: update.edgeType }),
    ...(update.relationship !== undefined && {
      relationship: update.relationship,
    }),
    ...(update.metadata !== undefined && { metadata: update.metadata }),
    ...(update.weight !== undefined && { weight: update.weight }),
    ...(update.weightCleared && { weight: undefined }),
  };
  return {
    ...row,
    edges: row.edges.set(edge.id, next),
    adjacency: placeEdge(
      row.adjacency,
      next,
      (edges) => edges.set(edge.id, next),
      0,
    ),
    negativeWeights:
      row.negativeWeights - negative(edge.weight) + negative(next.weight),
  };
}

function edgeRemoved(row: GraphRow, edgeId: string): GraphRow {
  const edge = row.edges.get(edgeId);
  if (edge === undefined) return row;
  return {
    ...row,
    edges: row.edges.delete(edgeId),
    adjacency: placeEdge(
      row.adjacency,
      edge,
      (edges) => edges.delete(edgeId),
      -1,
    ),
    negativeWeights: row.negativeWeights - negative(edge.weight),
  };
}

/**
 * Restores a row from its structured clone (the runtime's node:v8 snapshots
 * keep plain data but not the SortedMap class); pass it to defineService as
 * `revive.row`. O(n) in nodes and edges.
 */
export function reviveGraphRow(cloned: unknown): GraphRow {
  const row = cloned as GraphRow;
  return {
    ...row,
    nodes: SortedMap.revive<NodeRecord>(row.nodes),
    edges: SortedMap.revive<EdgeRecord>(row.edges),
    nodesByType: SortedMap.revive<SortedMap<NodeRecord>>(
      row.nodesByType,
      (ofType) => SortedMap.revive<NodeRecord>(ofType),
    ),
    adjacency: SortedMap.revive<Adjacency>(
      row.adjacency,
      ({ out, in: into, shared }) => ({
        out: SortedMap.revive<EdgeRecord>(out),
        in: SortedMap.revive<EdgeRecord>(into),
        shared,
      }),
    ),
  };
}
