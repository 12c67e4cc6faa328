import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  notFound,
  outdatedMirror,
  requireFinite,
  requireId,
  show,
  violation,
} from '@cim/kernel';
import {
  ConceptualspacesEventSchema,
  type AddConcept,
  type AddQualityDimension,
  type AddRegion,
  type ConceptualspacesCommand,
  type ConceptualspacesEvent,
  type CreateConceptualSpace,
  type DeleteSpace,
  type DiscoverRegions,
  type MoveConcept,
  type PlaceGraphConcept,
  type RecomputePrototypes,
  type RegionSchema,
  type RemoveConcept,
  type ReplaceDimensionWeights,
  type SetMetricContext,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { densityClusters } from './clustering.js';
import {
  checkDimension,
  checkMetric,
  checkReason,
  checkSpaceName,
  checkWeight,
  checkWeights,
  dimensionMessage,
  metricMessage,
  weightMessage,
} from './definitions.js';
import {
  bisector,
  centroid,
  checkPoint,
  geometryOf,
  inRegion,
  knownContexts,
  metricPoint,
} from './geometry.js';
import {
  checkGraphChange,
  graphFeatures,
  isGraphFeatureSpace,
  isRecorded,
  recordGraphChange,
} from './graph-features.js';
import { LIMITS } from './rules.js';
import {
  NO_GRAPH,
  type ConceptState,
  type HalfSpaceState,
  type PresentSpace,
  type SpaceState,
} from './state.js';

type EventBody = NonNullable<
  MessageInitShape<typeof ConceptualspacesEventSchema>['body']
>;
type RegionInit = MessageInitShape<typeof RegionSchema>;

const event = (body: EventBody): ConceptualspacesEvent =>
  create(ConceptualspacesEventSchema, { body });

/** Default minimum cluster size of DiscoverRegions (domains.md §2.4). */
export const DEFAULT_MIN_POINTS = 3;
/** Default neighbourhood radius of DiscoverRegions, in the space metric (domains.md §2.4). */
export const DEFAULT_RADIUS = 2.0;

/**
 * Decides the events for a command, or throws DomainError. Checks run in a
 * fixed order: the command's own fields (VALIDATION_FAILED), then the
 * space's existence and status (NOT_FOUND, INVALID_TRANSITION), then what the
 * command names (NOT_FOUND, ALREADY_EXISTS, VALIDATION_FAILED for points that
 * do not fit the space), then geometric and size rules
 * (BUSINESS_RULE_VIOLATION). Ids a command leaves empty derive from its command id.
 */
export function decide(
  command: ConceptualspacesCommand,
  state: SpaceState,
): ConceptualspacesEvent[] {
  const { body } = command;
  const commandId = command.meta?.commandId ?? '';
  switch (body.case) {
    case 'create':
      return [createSpace(body.value, state)];
    case 'addDimension':
      return [addDimension(body.value, state)];
    case 'addConcept':
      return [addConcept(body.value, state, commandId)];
    case 'moveConcept':
      return moveConcept(body.value, state);
    case 'removeConcept':
      return [removeConcept(body.value, state)];
    case 'addRegion':
      return [addRegion(body.value, state, commandId)];
    case 'recomputePrototypes':
      return recomputePrototypes(body.value, state);
    case 'discoverRegions':
      return discoverRegions(body.value, state, commandId);
    case 'replaceWeights':
      return replaceWeights(body.value, state);
    case 'setContext':
      return [setContext(body.value, state)];
    case 'delete':
      return [deleteSpace(body.value, state)];
    case 'placeGraphConcept':
      return placeGraphConcept(body.value, state);
    case undefined:
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'command has no body');
  }
}

function existing(state: SpaceState, spaceId: string): PresentSpace {
  if (state.status === 'absent') {
    notFound(`conceptual space ${show(spaceId)} not found`);
  }
  return state;
}

function active(state: SpaceState, spaceId: string): PresentSpace {
  const space = existing(state, spaceId);
  if (space.status === 'deleted') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `conceptual space ${show(spaceId)} is deleted and accepts no changes`,
    );
  }
  return space;
}

function idOrDerived(id: string, commandId: string, field: string): string {
  const chosen = id !== '' ? id : commandId;
  if (chosen === '') {
    invalid(`${field} is required when the command has no command id`);
  }
  requireId(chosen, field);
  return chosen;
}

function finiteAll(values: readonly number[], field: string): void {
  values.forEach((value, i) => requireFinite(value, `${field}[${i}]`));
}

function conceptOf(space: PresentSpace, conceptId: string): ConceptState {
  const concept = space.concepts.get(conceptId);
  if (concept === undefined) {
    notFound(
      `concept ${show(conceptId)} not found in space ${show(space.spaceId)}`,
    );
  }
  return concept;
}

function notGraphOwned(
  space: PresentSpace,
  conceptId: string,
  verb: string,
): void {
  if (space.graphs.has(conceptId)) {
    violation(
      `concept ${show(conceptId)} is placed by its graph's events and cannot be ${verb} directly`,
    );
  }
}

function createSpace(
  {
    conceptualspacesId: spaceId,
    name,
    dimensions,
    metric,
  }: CreateConceptualSpace,
  state: SpaceState,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  checkSpaceName(name);
  if (dimensions.length === 0) invalid('a space needs at least one dimension');
  if (dimensions.length > LIMITS.dimensions) {
    invalid(
      `a space has at most ${LIMITS.dimensions} dimensions, got ${dimensions.length}`,
    );
  }
  const checked = dimensions.map((d, i) =>
    checkDimension(d, `dimensions[${i}]`),
  );
  const ids = new Set<string>();
  checked.forEach((d, i) => {
    if (ids.has(d.id)) invalid(`dimensions[${i}] repeats the id ${show(d.id)}`);
    ids.add(d.id);
  });
  const resolved = checkMetric(metric, checked.length);
  if (
    resolved.context !== '' &&
    !knownContexts(checked, resolved).includes(resolved.context)
  ) {
    invalid(
      `metric.current_context ${show(resolved.context)} is named by no dimension or contextual weight`,
    );
  }
  if (state.status !== 'absent') {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `conceptual space ${show(spaceId)} already exists`,
    );
  }
  return event({
    case: 'created',
    value: {
      conceptualspacesId: spaceId,
      name,
      dimensions: checked.map(dimensionMessage),
      metric: metricMessage(resolved),
    },
  });
}

function addDimension(
  { conceptualspacesId: spaceId, dimension, weight }: AddQualityDimension,
  state: SpaceState,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  const checked = checkDimension(dimension, 'dimension');
  const w =
    weight === undefined
      ? ({ kind: 'constant', value: 1 } as const)
      : checkWeight(weight, 'weight');
  const space = active(state, spaceId);
  if (space.dimensions.some((d) => d.id === checked.id)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `dimension ${show(checked.id)} already exists in space ${show(spaceId)}`,
    );
  }
  if (space.dimensions.length >= LIMITS.dimensions) {
    violation(`a space has at most ${LIMITS.dimensions} dimensions`);
  }
  if (
    space.concepts.size > 0 ||
    space.regions.size > 0 ||
    space.graphs.size > 0
  ) {
    violation(
      `space ${show(spaceId)} already has concepts or regions, whose points have one value per dimension`,
    );
  }
  return event({
    case: 'dimensionAdded',
    value: {
      conceptualspacesId: spaceId,
      dimension: dimensionMessage(checked),
      weight: weightMessage(w),
    },
  });
}

function addConcept(
  {
    conceptualspacesId: spaceId,
    conceptId,
    coordinates,
    label,
    sourceRef,
    sourceVersion,
  }: AddConcept,
  state: SpaceState,
  commandId: string,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  const id = idOrDerived(conceptId, commandId, 'concept_id');
  finiteAll(coordinates, 'coordinates');
  if (label !== undefined) limitText(label, 'label', LIMITS.text);
  if (sourceRef !== undefined) limitText(sourceRef, 'source_ref', LIMITS.text);
  const space = active(state, spaceId);
  const point = checkPoint(space.dimensions, coordinates, 'coordinates');
  if (space.concepts.has(id) || space.graphs.has(id)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `concept ${show(id)} already exists in space ${show(spaceId)}`,
    );
  }
  return event({
    case: 'conceptAdded',
    value: {
      conceptualspacesId: spaceId,
      conceptId: id,
      coordinates: point,
      ...(label !== undefined && { label }),
      ...(sourceRef !== undefined && { sourceRef }),
      ...(sourceVersion !== undefined && { sourceVersion }),
    },
  });
}

function moveConcept(
  {
    conceptualspacesId: spaceId,
    conceptId,
    coordinates,
    sourceVersion,
  }: MoveConcept,
  state: SpaceState,
): ConceptualspacesEvent[] {
  requireId(spaceId, 'conceptualspaces_id');
  requireId(conceptId, 'concept_id');
  finiteAll(coordinates, 'coordinates');
  const space = active(state, spaceId);
  const concept = conceptOf(space, conceptId);
  const point = checkPoint(space.dimensions, coordinates, 'coordinates');
  notGraphOwned(space, conceptId, 'moved');
  // A mirrored source version already applied (a redelivered event): nothing to do, whatever the dedup window.
  if (outdatedMirror(sourceVersion, concept.sourceVersion)) return [];
  if (point.every((value, i) => value === concept.coordinates[i])) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `concept ${show(conceptId)} is already at these coordinates`,
    );
  }
  return [movedEvent(space, conceptId, concept, point, sourceVersion)];
}

function movedEvent(
  space: PresentSpace,
  conceptId: string,
  concept: ConceptState,
  point: readonly number[],
  sourceVersion?: bigint,
): ConceptualspacesEvent {
  const leftRegions = concept.regions.filter((regionId) => {
    const region = space.regions.get(regionId);
    return region !== undefined && !inRegion(region.boundaries, point);
  });
  return event({
    case: 'conceptMoved',
    value: {
      conceptualspacesId: space.spaceId,
      conceptId,
      coordinates: [...point],
      leftRegions,
      ...(sourceVersion !== undefined && { sourceVersion }),
    },
  });
}

function removeConcept(
  { conceptualspacesId: spaceId, conceptId }: RemoveConcept,
  state: SpaceState,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  requireId(conceptId, 'concept_id');
  const space = active(state, spaceId);
  conceptOf(space, conceptId);
  notGraphOwned(space, conceptId, 'removed');
  return event({
    case: 'conceptRemoved',
    value: { conceptualspacesId: spaceId, conceptId },
  });
}

function addRegion(
  {
    conceptualspacesId: spaceId,
    regionId,
    name,
    prototype,
    boundaries,
    members,
  }: AddRegion,
  state: SpaceState,
  commandId: string,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  const id = idOrDerived(regionId, commandId, 'region_id');
  if (name !== undefined) limitText(name, 'name', LIMITS.name);
  finiteAll(prototype, 'prototype');
  if (boundaries.length > LIMITS.boundaries) {
    invalid(
      `a region has at most ${LIMITS.boundaries} boundaries, got ${boundaries.length}`,
    );
  }
  boundaries.forEach((b, i) => {
    finiteAll(b.normal, `boundaries[${i}].normal`);
    requireFinite(b.offset, `boundaries[${i}].offset`);
    if (b.normal.every((x) => x === 0)) {
      invalid(`boundaries[${i}].normal must not be the zero vector`);
    }
  });
  if (members.length > LIMITS.members) {
    invalid(
      `a region has at most ${LIMITS.members} members, got ${members.length}`,
    );
  }
  const seen = new Set<string>();
  members.forEach((member, i) => {
    requireId(member, `members[${i}]`);
    if (seen.has(member)) invalid(`members[${i}] repeats ${show(member)}`);
    seen.add(member);
  });
  const space = active(state, spaceId);
  if (space.regions.has(id)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `region ${show(id)} already exists in space ${show(spaceId)}`,
    );
  }
  const dims = space.dimensions.length;
  const point = checkPoint(space.dimensions, prototype, 'prototype');
  boundaries.forEach((b, i) => {
    if (b.normal.length !== dims) {
      invalid(
        `boundaries[${i}].normal must have ${dims} values (one per dimension), got ${b.normal.length}`,
      );
    }
  });
  const halfSpaces: HalfSpaceState[] = boundaries.map((b) => ({
    normal: [...b.normal],
    offset: b.offset,
  }));
  const memberConcepts = members.map((member) => conceptOf(space, member));
  if (space.regions.size >= LIMITS.regions) {
    violation(`a space has at most ${LIMITS.regions} regions`);
  }
  if (!inRegion(halfSpaces, point)) {
    violation('the prototype lies outside the region boundaries');
  }
  memberConcepts.forEach((concept, i) => {
    if (!inRegion(halfSpaces, concept.coordinates)) {
      violation(
        `member ${show(members[i]!)} lies outside the region boundaries, so the members break convexity`,
      );
    }
  });
  return event({
    case: 'regionAdded',
    value: {
      conceptualspacesId: spaceId,
      region: {
        regionId: id,
        name: name ?? '',
        prototype: point,
        boundaries: halfSpaces.map((h) => ({
          normal: [...h.normal],
          offset: h.offset,
        })),
        members: [...members].sort(),
      },
    },
  });
}

function recomputePrototypes(
  { conceptualspacesId: spaceId }: RecomputePrototypes,
  state: SpaceState,
): ConceptualspacesEvent[] {
  requireId(spaceId, 'conceptualspaces_id');
  const space = active(state, spaceId);
  const events: ConceptualspacesEvent[] = [];
  for (const [regionId, region] of space.regions) {
    if (region.members.length === 0) continue;
    const prototype = centroid(
      region.members.map(
        (member) => space.concepts.get(member)?.coordinates ?? [],
      ),
    );
    if (prototype.every((value, i) => value === region.prototype[i])) continue;
    events.push(
      event({
        case: 'prototypeUpdated',
        value: { conceptualspacesId: spaceId, regionId, prototype },
      }),
    );
  }
  return events;
}

function discoverRegions(
  { conceptualspacesId: spaceId, minPoints, radius }: DiscoverRegions,
  state: SpaceState,
  commandId: string,
): ConceptualspacesEvent[] {
  requireId(spaceId, 'conceptualspaces_id');
  const minimum = minPoints === 0 ? DEFAULT_MIN_POINTS : minPoints;
  const r = radius === 0 ? DEFAULT_RADIUS : radius;
  if (!(r > 0 && Number.isFinite(r))) {
    invalid(`radius must be a positive finite number, got ${radius}`);
  }
  if (commandId === '')
    invalid('DiscoverRegions needs a command id to name regions');
  const space = active(state, spaceId);
  if (space.concepts.size > LIMITS.discovery) {
    violation(
      `DiscoverRegions compares every pair of concepts: at most ${LIMITS.discovery}, the space has ${space.concepts.size}`,
    );
  }
  const ids = [...space.concepts.keys()];
  const raw = ids.map((id) => space.concepts.get(id)!.coordinates);
  const g = geometryOf(space.dimensions, space.metric);
  const clusters = densityClusters(
    g,
    raw.map((point) => metricPoint(space.dimensions, point)),
    r,
    minimum,
  );
  if (clusters.length === 0) return [];
  if (space.regions.size + clusters.length > LIMITS.regions) {
    violation(
      `${clusters.length} discovered regions would exceed the limit of ${LIMITS.regions} regions`,
    );
  }
  const prototypes = clusters.map((cluster) =>
    centroid(cluster.map((i) => raw[i]!)),
  );
  const regions: RegionInit[] = clusters.map((cluster, c) => {
    const regionId = `${commandId}-${c + 1}`;
    requireId(regionId, 'derived region id');
    if (space.regions.has(regionId)) {
      throw new DomainError(
        ErrorCode.ALREADY_EXISTS,
        `region ${show(regionId)} already exists in space ${show(spaceId)}`,
      );
    }
    const boundaries = prototypes.flatMap((other, o) => {
      if (o === c) return [];
      const half = bisector(space.dimensions, g.weights, prototypes[c]!, other);
      return half === undefined ? [] : [half];
    });
    return {
      regionId,
      name: `cluster ${c + 1}`,
      prototype: prototypes[c]!,
      boundaries: boundaries.map((h) => ({
        normal: [...h.normal],
        offset: h.offset,
      })),
      members: cluster
        .filter((i) => inRegion(boundaries, raw[i]!))
        .map((i) => ids[i]!),
    };
  });
  return [
    event({
      case: 'regionsDiscovered',
      value: { conceptualspacesId: spaceId, regions },
    }),
  ];
}

function replaceWeights(
  { conceptualspacesId: spaceId, weights, reason }: ReplaceDimensionWeights,
  state: SpaceState,
): ConceptualspacesEvent[] {
  requireId(spaceId, 'conceptualspaces_id');
  checkReason(reason);
  const space = active(state, spaceId);
  const next = checkWeights(weights, space.dimensions.length, 'weights');
  return [
    event({
      case: 'weightsRemoved',
      value: {
        conceptualspacesId: spaceId,
        weights: space.metric.weights.map(weightMessage),
        reason,
      },
    }),
    event({
      case: 'weightsAdded',
      value: {
        conceptualspacesId: spaceId,
        weights: next.map(weightMessage),
        reason,
      },
    }),
  ];
}

function setContext(
  { conceptualspacesId: spaceId, context }: SetMetricContext,
  state: SpaceState,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  if (context !== '') requireId(context, 'context');
  const space = active(state, spaceId);
  if (
    context !== '' &&
    !knownContexts(space.dimensions, space.metric).includes(context)
  ) {
    notFound(`context ${show(context)} is not known in space ${show(spaceId)}`);
  }
  if (context === space.metric.context) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      context === ''
        ? `space ${show(spaceId)} has no context already`
        : `context ${show(context)} is already current`,
    );
  }
  return event({
    case: 'contextChanged',
    value: {
      conceptualspacesId: spaceId,
      from: space.metric.context,
      to: context,
    },
  });
}

function deleteSpace(
  { conceptualspacesId: spaceId }: DeleteSpace,
  state: SpaceState,
): ConceptualspacesEvent {
  requireId(spaceId, 'conceptualspaces_id');
  if (existing(state, spaceId).status === 'deleted') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `conceptual space ${show(spaceId)} is already deleted`,
    );
  }
  return event({ case: 'deleted', value: { conceptualspacesId: spaceId } });
}

function placeGraphConcept(
  {
    conceptualspacesId: spaceId,
    graphId,
    graphVersion,
    change,
  }: PlaceGraphConcept,
  state: SpaceState,
): ConceptualspacesEvent[] {
  requireId(spaceId, 'conceptualspaces_id');
  requireId(graphId, 'graph_id');
  if (graphVersion < 1n) invalid('graph_version must be at least 1');
  checkGraphChange(change);
  const space = active(state, spaceId);
  if (!isGraphFeatureSpace(space.dimensions)) {
    violation(
      `space ${show(spaceId)} does not have the graph feature dimensions`,
    );
  }
  const graph = space.graphs.get(graphId) ?? NO_GRAPH;
  // Already recorded (a redelivered event): nothing to do, whatever the dedup window.
  if (isRecorded(graph, graphVersion)) return [];
  if (space.concepts.has(graphId) && !space.graphs.has(graphId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `concept ${show(graphId)} already exists in space ${show(spaceId)} and is not a graph's`,
    );
  }
  if (
    graphVersion !== graph.applied + 1n &&
    graph.pending.length >= LIMITS.pending
  ) {
    violation(
      `graph ${show(graphId)} already has ${LIMITS.pending} changes waiting for version ${graph.applied + 1n}`,
    );
  }
  const events = [
    event({
      case: 'graphChangeRecorded',
      value: { conceptualspacesId: spaceId, graphId, graphVersion, change },
    }),
  ];
  const next = recordGraphChange(graph, graphVersion, change);
  if (next.applied === graph.applied) return events;
  const point = graphFeatures(next);
  const concept = space.concepts.get(graphId);
  if (concept === undefined) {
    events.push(
      event({
        case: 'conceptAdded',
        value: {
          conceptualspacesId: spaceId,
          conceptId: graphId,
          coordinates: point,
          ...(next.name !== '' && { label: next.name }),
          sourceRef: `graph:${graphId}`,
        },
      }),
    );
  } else if (!point.every((value, i) => value === concept.coordinates[i])) {
    events.push(movedEvent(space, graphId, concept, point));
  }
  return events;
}
