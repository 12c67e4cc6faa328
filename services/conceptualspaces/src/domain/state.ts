import type {
  DimensionKind,
  GraphChange,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { SortedMap } from '@cim/kernel';

/** A quality dimension with its effective range ([0, n) for categories, [0, 360) circular). */
export interface DimensionState {
  readonly id: string;
  readonly name: string;
  readonly kind: DimensionKind;
  readonly min: number;
  readonly max: number;
  readonly categories: readonly string[];
  /** Empty when the dimension names no context. */
  readonly context: string;
}

/** The weight of one dimension; every number is finite and non-negative. */
export type WeightState =
  | { readonly kind: 'constant'; readonly value: number }
  | {
      readonly kind: 'contextual';
      readonly base: number;
      readonly overrides: ReadonlyMap<string, number>;
    }
  | {
      readonly kind: 'attentional';
      /** Already clamped into [min, max]. */
      readonly current: number;
      readonly min: number;
      readonly max: number;
    };

/** The weighted Minkowski metric of a space. */
export interface MetricState {
  /** One per dimension. */
  readonly weights: readonly WeightState[];
  /** At least 1; Infinity for Chebyshev. */
  readonly p: number;
  /** Empty when no context is set. */
  readonly context: string;
}

/** A concept: a point in raw coordinates (circular values in [0, 360)). */
export interface ConceptState {
  readonly coordinates: readonly number[];
  readonly label: string | undefined;
  readonly sourceRef: string | undefined;
  /** The source version its last versioned placement mirrored; MoveConcept ignores older ones. */
  readonly sourceVersion: bigint | undefined;
  /**
   * Which placement put the concept here (the space's placement counter):
   * read models tell a concept's current position from stale copies by it.
   */
  readonly stamp: number;
  /** Regions it is a declared member of, sorted. */
  readonly regions: readonly string[];
}

/** One half-space n·x − offset ≥ 0 over raw coordinates. */
export interface HalfSpaceState {
  readonly normal: readonly number[];
  readonly offset: number;
}

/** A convex region: the intersection of its boundaries. */
export interface RegionState {
  readonly name: string;
  readonly prototype: readonly number[];
  readonly boundaries: readonly HalfSpaceState[];
  /** Concept ids, sorted. */
  readonly members: readonly string[];
}

/** Facts about one graph node that its later events do not repeat. */
export interface NodeFacts {
  readonly abstract: boolean;
  readonly labelled: boolean;
  readonly metadataKeys: number;
}

/** Facts about one graph edge that its later events do not repeat. */
export interface EdgeFacts {
  readonly related: boolean;
  readonly metadataKeys: number;
}

/** A graph change recorded ahead of a missing graph version. */
export interface PendingChange {
  readonly version: bigint;
  readonly change: GraphChange;
}

/**
 * What the space knows of one graph, built from its events: every version up
 * to `applied` is folded into the counters; later ones wait in `pending`.
 */
export interface GraphTracking {
  readonly applied: bigint;
  /** Sorted by version, all above applied + 1. */
  readonly pending: readonly PendingChange[];
  readonly name: string;
  readonly typeAbstraction: number;
  readonly tagCount: number;
  readonly metadataKeys: number;
  readonly described: boolean;
  readonly nodes: SortedMap<NodeFacts>;
  readonly edges: SortedMap<EdgeFacts>;
  readonly abstractNodes: number;
  /** Sum of the richness of every node and edge. */
  readonly elementRichness: number;
  readonly events: number;
  /** Events that updated or removed something. */
  readonly changes: number;
}

/** What a space that exists holds, whatever its status. */
export interface SpaceData {
  readonly spaceId: string;
  readonly name: string;
  readonly dimensions: readonly DimensionState[];
  readonly metric: MetricState;
  readonly concepts: SortedMap<ConceptState>;
  readonly regions: SortedMap<RegionState>;
  /** Graphs placed by PlaceGraphConcept, by graph id (= concept id). */
  readonly graphs: SortedMap<GraphTracking>;
  /** Placements so far (ConceptAdded and ConceptMoved): the next stamp is one more. */
  readonly placements: number;
}

/**
 * The conceptual space aggregate, by status. Concepts, regions and graphs
 * live in persistent sorted maps, so `evolve` costs O(log n) per event and
 * every state it returned stays valid and unchanged.
 */
export type SpaceState =
  | { readonly status: 'absent' }
  | (SpaceData & { readonly status: 'active' })
  | (SpaceData & { readonly status: 'deleted' });

/** A space that exists: active or deleted. */
export type PresentSpace = Exclude<SpaceState, { readonly status: 'absent' }>;

const ABSENT: SpaceState = { status: 'absent' };

/** The state before the first event. */
export const initialState = (): SpaceState => ABSENT;

/** A graph nothing is known of yet. */
export const NO_GRAPH: GraphTracking = {
  applied: 0n,
  pending: [],
  name: '',
  typeAbstraction: 0,
  tagCount: 0,
  metadataKeys: 0,
  described: false,
  nodes: SortedMap.empty(),
  edges: SortedMap.empty(),
  abstractNodes: 0,
  elementRichness: 0,
  events: 0,
  changes: 0,
};

/**
 * Restores a state from its structured clone (node:v8 snapshots keep plain
 * data, Maps and bigints but not the SortedMap class); pass it to
 * defineService as `revive.state`. O(n) in graphs, O(1) in concepts and regions.
 */
export function reviveSpaceState(cloned: unknown): SpaceState {
  const state = cloned as SpaceState;
  if (state.status === 'absent') return state;
  return {
    ...state,
    concepts: SortedMap.revive<ConceptState>(state.concepts),
    regions: SortedMap.revive<RegionState>(state.regions),
    graphs: SortedMap.revive<GraphTracking>(state.graphs, (graph) => ({
      ...graph,
      nodes: SortedMap.revive<NodeFacts>(graph.nodes),
      edges: SortedMap.revive<EdgeFacts>(graph.edges),
    })),
  };
}
