import {
  GraphStatus,
  type EdgeAdded,
  type EdgeRemoved,
  type EdgeUpdated,
  type GraphEvent,
  type GraphUpdated,
  type NodeAdded,
  type NodeRemoved,
  type NodeUpdated,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { SortedMap } from '@cim/kernel';
import {
  newGraph,
  newNode,
  type EdgeEnds,
  type EdgeState,
  type GraphState,
  type NodeState,
  type PresentGraph,
} from './state.js';

/**
 * Folds one event into the state. Total and non-throwing: an event that does
 * not fit the state (which `decide` never produces, e.g. an edge to a missing
 * node) or comes from a newer schema leaves the state unchanged, so the
 * invariant "every edge joins two existing nodes" holds whatever the stream.
 */
export function evolve(state: GraphState, { body }: GraphEvent): GraphState {
  if (body.case === 'created') {
    if (state.status !== 'absent') return state;
    const { graphId, name, description, graphType, tags, metadata } =
      body.value;
    return newGraph({ graphId, name, description, graphType, tags, metadata });
  }
  if (state.status === 'absent') return state;
  switch (body.case) {
    case 'updated':
      return updated(state, body.value);
    case 'statusChanged':
      return statusChanged(state, body.value.to);
    case 'archived':
      return { ...state, status: 'archived' };
    case 'nodeAdded':
      return nodeAdded(state, body.value);
    case 'nodeUpdated':
      return nodeUpdated(state, body.value);
    case 'nodeRemoved':
      return nodeRemoved(state, body.value);
    case 'edgeAdded':
      return edgeAdded(state, body.value);
    case 'edgeUpdated':
      return edgeUpdated(state, body.value);
    case 'edgeRemoved':
      return edgeRemoved(state, body.value);
    case 'imported':
      // The NodeAdded and EdgeAdded events that follow carry the content.
      return state;
    case undefined:
      return state; // written by a newer schema: folding never fails
  }
}

function updated(
  state: PresentGraph,
  { name, description, metadata, tags, sourceVersion }: GraphUpdated,
): GraphState {
  return {
    ...state,
    ...(name !== undefined && { name }),
    ...(description !== undefined && { description }),
    ...(metadata !== undefined && { metadata }),
    ...(tags !== undefined && { tags: tags.values }),
    ...(sourceVersion !== undefined && { sourceVersion }),
  };
}

function statusChanged(state: PresentGraph, to: GraphStatus): GraphState {
  if (state.status === 'archived') return state;
  switch (to) {
    case GraphStatus.ACTIVE:
      return { ...state, status: 'active' };
    case GraphStatus.READ_ONLY:
      return { ...state, status: 'read_only' };
    default:
      return state;
  }
}

function nodeAdded(
  state: PresentGraph,
  { nodeId, nodeType, label, metadata, conceptualPoint }: NodeAdded,
): GraphState {
  if (state.nodes.has(nodeId)) return state;
  return {
    ...state,
    nodes: state.nodes.set(
      nodeId,
      newNode(nodeType, label, metadata, conceptualPoint),
    ),
  };
}

function nodeUpdated(
  state: PresentGraph,
  { nodeId, metadata, sourceVersion }: NodeUpdated,
): GraphState {
  const node = state.nodes.get(nodeId);
  if (node === undefined) return state;
  const updated: NodeState = {
    ...node,
    metadata,
    ...(sourceVersion !== undefined && { sourceVersion }),
  };
  return { ...state, nodes: state.nodes.set(nodeId, updated) };
}

function nodeRemoved(state: PresentGraph, { nodeId }: NodeRemoved): GraphState {
  let current: PresentGraph = state;
  const node = current.nodes.get(nodeId);
  if (node === undefined) return state;
  // decide emits EdgeRemoved for every incident edge first, so this loop
  // normally finds nothing; it keeps edges from dangling on any stream.
  for (const edgeId of node.incident.keys()) {
    current = withoutEdge(current, edgeId);
  }
  return { ...current, nodes: current.nodes.delete(nodeId) };
}

function edgeAdded(state: PresentGraph, added: EdgeAdded): GraphState {
  const { edgeId, source, target, directed } = added;
  if (
    state.edges.has(edgeId) ||
    !state.nodes.has(source) ||
    !state.nodes.has(target)
  )
    return state;
  const edge: EdgeState = {
    source,
    target,
    directed,
    edgeType: added.edgeType,
    relationship: added.relationship,
    weight: added.weight,
    metadata: added.metadata,
  };
  const ends = { source, target, directed };
  let nodes = linkEdge(state.nodes, source, edgeId, ends);
  if (target !== source) nodes = linkEdge(nodes, target, edgeId, ends);
  return { ...state, nodes, edges: state.edges.set(edgeId, edge) };
}

function edgeUpdated(state: PresentGraph, update: EdgeUpdated): GraphState {
  const edge = state.edges.get(update.edgeId);
  if (edge === undefined) return state;
  const next: EdgeState = {
    ...edge,
    ...(update.edgeType !== undefined && { edgeType: update.edgeType }),
    ...(update.relationship !== undefined && {
      relationship: update.relationship,
    }),
    ...(update.metadata !== undefined && { metadata: update.metadata }),
    ...(update.weight !== undefined && { weight: update.weight }),
    ...(update.weightCleared && { weight: undefined }),
  };
  return { ...state, edges: state.edges.set(update.edgeId, next) };
}

function edgeRemoved(state: PresentGraph, { edgeId }: EdgeRemoved): GraphState {
  return withoutEdge(state, edgeId);
}

function withoutEdge(state: PresentGraph, edgeId: string): PresentGraph {
  const edge = state.edges.get(edgeId);
  if (edge === undefined) return state;
  const nodes = unlinkEdge(
    unlinkEdge(state.nodes, edge.source, edgeId),
    edge.target,
    edgeId,
  );
  return { ...state, nodes, edges: state.edges.delete(edgeId) };
}

function linkEdge(
  nodes: SortedMap<NodeState>,
  nodeId: string,
  edgeId: string,
  ends: EdgeEnds,
): SortedMap<NodeState> {
  const node = nodes.get(nodeId);
  return node === undefined
    ? nodes
    : nodes.set(nodeId, { ...node, incident: node.incident.set(edgeId, ends) });
}

function unlinkEdge(
  nodes: SortedMap<NodeState>,
  nodeId: string,
  edgeId: string,
): SortedMap<NodeState> {
  const node = nodes.get(nodeId);
  if (node === undefined || !node.incident.has(edgeId)) return nodes;
  return nodes.set(nodeId, { ...node, incident: node.incident.delete(edgeId) });
}
