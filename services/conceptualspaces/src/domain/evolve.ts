import type {
  ConceptAdded,
  ConceptMoved,
  ConceptualSpaceCreated,
  ConceptualspacesEvent,
  Region,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { dimensionState, metricState, weightState } from './definitions.js';
import { recordGraphChange } from './graph-features.js';
import { SortedMap } from '@cim/kernel';
import {
  NO_GRAPH,
  type ConceptState,
  type PresentSpace,
  type RegionState,
  type SpaceState,
} from './state.js';

/**
 * Folds one event into the state. Total and non-throwing: an event that does
 * not fit the state (which `decide` never produces, e.g. a move of a missing
 * concept) or comes from a newer schema leaves the state unchanged.
 */
export function evolve(
  state: SpaceState,
  { body }: ConceptualspacesEvent,
): SpaceState {
  if (body.case === 'created') {
    return state.status === 'absent' ? created(body.value) : state;
  }
  if (state.status === 'absent') return state;
  switch (body.case) {
    case 'dimensionAdded':
      return {
        ...state,
        dimensions: [...state.dimensions, dimensionState(body.value.dimension)],
        metric: {
          ...state.metric,
          weights: [...state.metric.weights, weightState(body.value.weight)],
        },
      };
    case 'conceptAdded':
      return conceptAdded(state, body.value);
    case 'conceptMoved':
      return conceptMoved(state, body.value);
    case 'conceptRemoved':
      return conceptRemoved(state, body.value.conceptId);
    case 'regionAdded':
      return body.value.region === undefined
        ? state
        : regionAdded(state, body.value.region);
    case 'prototypeUpdated': {
      const region = state.regions.get(body.value.regionId);
      if (region === undefined) return state;
      return {
        ...state,
        regions: state.regions.set(body.value.regionId, {
          ...region,
          prototype: body.value.prototype,
        }),
      };
    }
    case 'regionsDiscovered':
      return body.value.regions.reduce(regionAdded, state);
    case 'weightsRemoved':
      // DimensionWeightsAdded follows in the same commit.
      return { ...state, metric: { ...state.metric, weights: [] } };
    case 'weightsAdded':
      return {
        ...state,
        metric: {
          ...state.metric,
          weights: body.value.weights.map(weightState),
        },
      };
    case 'contextChanged':
      return { ...state, metric: { ...state.metric, context: body.value.to } };
    case 'deleted':
      return { ...state, status: 'deleted' };
    case 'graphChangeRecorded': {
      const { graphId, graphVersion, change } = body.value;
      if (change === undefined) return state;
      const graph = state.graphs.get(graphId) ?? NO_GRAPH;
      return {
        ...state,
        graphs: state.graphs.set(
          graphId,
          recordGraphChange(graph, graphVersion, change),
        ),
      };
    }
    case undefined:
      return state; // written by a newer schema: folding never fails
  }
}

function created({
  conceptualspacesId,
  name,
  dimensions,
  metric,
}: ConceptualSpaceCreated): SpaceState {
  return {
    status: 'active',
    spaceId: conceptualspacesId,
    name,
    dimensions: dimensions.map(dimensionState),
    metric: metricState(metric),
    concepts: SortedMap.empty(),
    regions: SortedMap.empty(),
    graphs: SortedMap.empty(),
    placements: 0,
  };
}

function conceptAdded(
  state: PresentSpace,
  { conceptId, coordinates, label, sourceRef, sourceVersion }: ConceptAdded,
): SpaceState {
  if (state.concepts.has(conceptId)) return state;
  const placements = state.placements + 1;
  const concept: ConceptState = {
    coordinates,
    label,
    sourceRef,
    sourceVersion,
    stamp: placements,
    regions: [],
  };
  return {
    ...state,
    concepts: state.concepts.set(conceptId, concept),
    placements,
  };
}

function conceptMoved(
  state: PresentSpace,
  { conceptId, coordinates, leftRegions, sourceVersion }: ConceptMoved,
): SpaceState {
  const concept = state.concepts.get(conceptId);
  if (concept === undefined) return state;
  const placements = state.placements + 1;
  let { regions } = state;
  for (const regionId of leftRegions) {
    regions = withoutMember(regions, regionId, conceptId);
  }
  return {
    ...state,
    concepts: state.concepts.set(conceptId, {
      ...concept,
      coordinates,
      sourceVersion: sourceVersion ?? concept.sourceVersion,
      stamp: placements,
      regions: concept.regions.filter((r) => !leftRegions.includes(r)),
    }),
    regions,
    placements,
  };
}

function conceptRemoved(state: PresentSpace, conceptId: string): SpaceState {
  const concept = state.concepts.get(conceptId);
  if (concept === undefined) return state;
  let { regions } = state;
  for (const regionId of concept.regions) {
    regions = withoutMember(regions, regionId, conceptId);
  }
  return { ...state, concepts: state.concepts.delete(conceptId), regions };
}

function withoutMember(
  regions: SortedMap<RegionState>,
  regionId: string,
  conceptId: string,
): SortedMap<RegionState> {
  const region = regions.get(regionId);
  if (region === undefined) return regions;
  return regions.set(regionId, {
    ...region,
    members: region.members.filter((m) => m !== conceptId),
  });
}

function regionAdded(state: PresentSpace, region: Region): PresentSpace {
  if (state.regions.has(region.regionId)) return state;
  const members = region.members.filter((m) => state.concepts.has(m)).sort();
  let { concepts } = state;
  for (const member of members) {
    const concept = concepts.get(member)!;
    concepts = concepts.set(member, {
      ...concept,
      regions: [...concept.regions, region.regionId].sort(),
    });
  }
  return {
    ...state,
    concepts,
    regions: state.regions.set(region.regionId, {
      name: region.name,
      prototype: region.prototype,
      boundaries: region.boundaries.map((b) => ({
        normal: b.normal,
        offset: b.offset,
      })),
      members,
    }),
  };
}
