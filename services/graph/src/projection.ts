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
import { SortedIndex } from '@cim/kernel';

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
  readonly out: SortedIndex<EdgeRecord>;
  readonly in: SortedIndex<EdgeRecord>;
  shared: number;
}

/**
 * The read model of one graph, shaped for the queries: nodes and edges by
 * id, nodes by type, and per-node adjacency for Neighbors and ShortestPath.
 * The projection runner owns the rows and folds each event into its row in
 * place (queries only read, and each answers within one turn): a row lives as
 * long as the service, so building a new one per event would only feed the
 * old generation garbage. `version` tells one state of a row from another.
 */
export interface GraphRow {
  readonly graphId: string;
  name: string;
  description: string;
  readonly graphType: GraphType;
  status: GraphStatus;
  tags: readonly string[];
  metadata: JsonObject | undefined;
  /** Aggregate version after the last event folded in. */
  version: bigint;
  readonly createdAtMs: number;
  updatedAtMs: number;
  readonly nodes: SortedIndex<NodeRecord>;
  readonly edges: SortedIndex<EdgeRecord>;
  readonly nodesByType: SortedIndex<SortedIndex<NodeRecord>>;
  /** Every node's edges; nodes without any share one empty entry, replaced on their first edge. */
  readonly adjacency: SortedIndex<Adjacency>;
  /** Edges with a negative weight; shortest paths are refused while any exist. */
  negativeWeights: number;
}

/** The adjacency of a node without edges: shared, so never changed. */
export const NO_EDGES: Adjacency = Object.freeze({
  out: SortedIndex.empty<EdgeRecord>(),
  in: SortedIndex.empty<EdgeRecord>(),
  shared: 0,
});

/**
 * Folds one event into the graph's row, in place: undefined until
 * GraphCreated, never dropped afterwards (archived graphs stay listed).
 * Events that do not fit the row, or come from a newer schema, change only
 * its version and time.
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
      nodes: SortedIndex.empty(),
      edges: SortedIndex.empty(),
      nodesByType: SortedIndex.empty(),
      adjacency: SortedIndex.empty(),
      negativeWeights: 0,
    };
  }
  if (row === undefined) return undefined;
  switch (body.case) {
    case 'updated':
      updated(row, body.value);
      break;
    case 'statusChanged':
      statusChanged(row, body.value.to);
      break;
    case 'archived':
      row.status = GraphStatus.ARCHIVED;
      break;
    case 'nodeAdded':
      nodeAdded(row, body.value);
      break;
    case 'nodeUpdated':
      nodeUpdated(row, body.value.nodeId, body.value.metadata);
      break;
    case 'nodeRemoved':
      nodeRemoved(row, body.value.nodeId);
      break;
    case 'edgeAdded':
      edgeAdded(row, body.value);
      break;
    case 'edgeUpdated':
      edgeUpdated(row, body.value);
      break;
    case 'edgeRemoved':
      edgeRemoved(row, body.value.edgeId);
      break;
    case 'imported':
    case undefined:
      break;
  }
  return stamp(row, meta);
}

function stamp(row: GraphRow, meta: CommitMeta): GraphRow {
  row.version = meta.version;
  row.updatedAtMs = meta.occurredAtMs;
  return row;
}

function updated(
  row: GraphRow,
  { name, description, metadata, tags }: GraphUpdated,
): void {
  if (name !== undefined) row.name = name;
  if (description !== undefined) row.description = description;
  if (metadata !== undefined) row.metadata = metadata;
  if (tags !== undefined) row.tags = tags.values;
}

function statusChanged(row: GraphRow, to: GraphStatus): void {
  if (row.status === GraphStatus.ARCHIVED) return;
  if (to === GraphStatus.ACTIVE || to === GraphStatus.READ_ONLY)
    row.status = to;
}

/** Files `node` under its id and its type, replacing an earlier record of it. */
function placeNode(row: GraphRow, node: NodeRecord): void {
  row.nodes.set(node.id, node);
  let ofType = row.nodesByType.get(node.nodeType);
  if (ofType === undefined) {
    ofType = SortedIndex.empty();
    row.nodesByType.set(node.nodeType, ofType);
  }
  ofType.set(node.id, node);
}

function nodeAdded(
  row: GraphRow,
  { nodeId, nodeType, label, metadata, conceptualPoint }: NodeAdded,
): void {
  if (row.nodes.has(nodeId)) return;
  placeNode(row, { id: nodeId, nodeType, label, metadata, conceptualPoint });
  row.adjacency.set(nodeId, NO_EDGES);
}

function nodeUpdated(
  row: GraphRow,
  nodeId: string,
  metadata: JsonObject | undefined,
): void {
  const node = row.nodes.get(nodeId);
  if (node !== undefined) placeNode(row, { ...node, metadata });
}

function nodeRemoved(row: GraphRow, nodeId: string): void {
  const node = row.nodes.get(nodeId);
  if (node === undefined) return;
  const { out, in: into } = row.adjacency.get(nodeId) ?? NO_EDGES;
  // The decider emits EdgeRemoved for every incident edge first, so this
  // normally finds nothing; it keeps edges from dangling on any stream.
  for (const edgeId of [...out.keys(), ...into.keys()]) {
    edgeRemoved(row, edgeId);
  }
  const ofType = row.nodesByType.get(node.nodeType);
  ofType?.delete(nodeId);
  if (ofType?.size === 0) row.nodesByType.delete(node.nodeType);
  row.nodes.delete(nodeId);
  row.adjacency.delete(nodeId);
}

/** The adjacency of `nodeId` to change: its own, made on its first edge; undefined for an unknown node. */
function adjacencyToChange(
  row: GraphRow,
  nodeId: string,
): Adjacency | undefined {
  const entry = row.adjacency.get(nodeId);
  if (entry !== NO_EDGES) return entry;
  const own: Adjacency = {
    out: SortedIndex.empty(),
    in: SortedIndex.empty(),
    shared: 0,
  };
  row.adjacency.set(nodeId, own);
  return own;
}

type EdgeChange = (edges: SortedIndex<EdgeRecord>) => void;

function touchNode(
  row: GraphRow,
  nodeId: string,
  out: boolean,
  into: boolean,
  change: EdgeChange,
  sharedDelta: number,
): void {
  const entry = adjacencyToChange(row, nodeId);
  if (entry === undefined) return;
  if (out) change(entry.out);
  if (into) change(entry.in);
  if (out && into) entry.shared += sharedDelta;
}

/** Applies `change` to every adjacency index the edge belongs in; sharedDelta is +1 on add, −1 on remove, 0 on update. */
function placeEdge(
  row: GraphRow,
  { source, target, directed }: EdgeRecord,
  change: EdgeChange,
  sharedDelta: number,
): void {
  if (directed && source !== target) {
    touchNode(row, source, true, false, change, 0);
    touchNode(row, target, false, true, change, 0);
    return;
  }
  touchNode(row, source, true, true, change, sharedDelta);
  if (target !== source)
    touchNode(row, target, true, true, change, sharedDelta);
}

const negative = (weight: number | undefined): number =>
  weight !== undefined && weight < 0 ? 1 : 0;

function edgeAdded(row: GraphRow, added: EdgeAdded): void {
  const { edgeId, source, target } = added;
  if (
    row.edges.has(edgeId) ||
    !row.nodes.has(source) ||
    !row.nodes.has(target)
  ) {
    return;
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
  row.edges.set(edgeId, edge);
  placeEdge(row, edge, (edges) => edges.set(edgeId, edge), 1);
  row.negativeWeights += negative(edge.weight);
}

function edgeUpdated(row: GraphRow, update: EdgeUpdated): void {
  const edge = row.edges.get(update.edgeId);
  if (edge === undefined) return;
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
  row.edges.set(edge.id, next);
  placeEdge(row, next, (edges) => edges.set(edge.id, next), 0);
  row.negativeWeights += negative(next.weight) - negative(edge.weight);
}

function edgeRemoved(row: GraphRow, edgeId: string): void {
  const edge = row.edges.get(edgeId);
  if (edge === undefined) return;
  row.edges.delete(edgeId);
  placeEdge(row, edge, (edges) => edges.delete(edgeId), -1);
  row.negativeWeights -= negative(edge.weight);
}

/**
 * Restores a row from its structured clone (the runtime's node:v8 snapshots
 * keep plain data but not the SortedIndex class); pass it to defineService
 * as `revive.row`. O(n) in nodes and edges. Nodes without edges get the
 * shared empty entry back.
 */
export function reviveGraphRow(cloned: unknown): GraphRow {
  const row = cloned as GraphRow;
  return {
    ...row,
    nodes: SortedIndex.revive<NodeRecord>(row.nodes),
    edges: SortedIndex.revive<EdgeRecord>(row.edges),
    nodesByType: SortedIndex.revive<SortedIndex<NodeRecord>>(
      row.nodesByType,
      (ofType) => SortedIndex.revive<NodeRecord>(ofType),
    ),
    adjacency: SortedIndex.revive<Adjacency>(
      row.adjacency,
      ({ out, in: into, shared }) => {
        const revived: Adjacency = {
          out: SortedIndex.revive<EdgeRecord>(out),
          in: SortedIndex.revive<EdgeRecord>(into),
          shared,
        };
        return revived.out.size + revived.in.size === 0 ? NO_EDGES : revived;
      },
    ),
  };
}
