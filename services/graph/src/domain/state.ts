import type { JsonObject } from '@bufbuild/protobuf';
import type { GraphType, Relationship } from '@cim/proto/cim/graph/v1/graph_pb';
import { SortedMap } from '@cim/kernel';

/** Where an edge runs; fixed for the edge's lifetime (UpdateEdge cannot change it). */
export interface EdgeEnds {
  readonly source: string;
  readonly target: string;
  readonly directed: boolean;
}

/** One node as the decider sees it. */
export interface NodeState {
  readonly nodeType: string;
  readonly label: string | undefined;
  readonly metadata: JsonObject | undefined;
  readonly conceptualPoint: readonly number[];
  /** The edges touching this node, by edge id (a self-loop once): what RemoveNode removes and cycle checks walk. */
  readonly incident: SortedMap<EdgeEnds>;
  /** The source version of the last metadata change that named one (mirrors). */
  readonly sourceVersion?: bigint;
}

/** One edge as the decider sees it. */
export interface EdgeState extends EdgeEnds {
  readonly edgeType: string;
  readonly relationship: Relationship | undefined;
  readonly weight: number | undefined;
  readonly metadata: JsonObject | undefined;
}

/** What a graph that exists holds, whatever its status. */
export interface GraphData {
  readonly graphId: string;
  readonly name: string;
  readonly description: string;
  readonly graphType: GraphType;
  readonly tags: readonly string[];
  readonly metadata: JsonObject | undefined;
  readonly nodes: SortedMap<NodeState>;
  readonly edges: SortedMap<EdgeState>;
  /** The source version of the last UpdateGraph that named one (mirrors). */
  readonly sourceVersion?: bigint;
}

/**
 * The graph aggregate, by status. Nodes and edges live in persistent sorted
 * maps, so `evolve` costs O(log n) per event (no copy of the graph) and every
 * state it has returned stays valid: callers may keep, share or re-evolve any
 * of them, and `decide` never sees a state change under it.
 */
export type GraphState =
  | { readonly status: 'absent' }
  | (GraphData & { readonly status: 'active' })
  | (GraphData & { readonly status: 'read_only' })
  | (GraphData & { readonly status: 'archived' });

/** A graph that exists: every status but absent. */
export type PresentGraph = Exclude<GraphState, { readonly status: 'absent' }>;

const ABSENT: GraphState = { status: 'absent' };

/** The state before the first event. */
export const initialState = (): GraphState => ABSENT;

/** A node without edges, as NodeAdded makes it. */
export function newNode(
  nodeType: string,
  label: string | undefined,
  metadata: JsonObject | undefined,
  conceptualPoint: readonly number[],
): NodeState {
  return {
    nodeType,
    label,
    metadata,
    conceptualPoint,
    incident: SortedMap.empty(),
  };
}

/** An empty graph, as GraphCreated makes it. */
export function newGraph(
  fields: Omit<GraphData, 'nodes' | 'edges'>,
): GraphData & { readonly status: 'active' } {
  return {
    status: 'active',
    ...fields,
    nodes: SortedMap.empty(),
    edges: SortedMap.empty(),
  };
}

/**
 * Restores a state from its structured clone (the runtime's node:v8
 * snapshots keep plain data but not the SortedMap class); pass it to
 * defineService as `revive.state`. O(n) in nodes and edges.
 */
export function reviveGraphState(cloned: unknown): GraphState {
  const state = cloned as GraphState;
  if (state.status === 'absent') return state;
  return {
    ...state,
    nodes: SortedMap.revive<NodeState>(state.nodes, (node) => ({
      ...node,
      incident: SortedMap.revive<EdgeEnds>(node.incident),
    })),
    edges: SortedMap.revive<EdgeState>(state.edges),
  };
}
