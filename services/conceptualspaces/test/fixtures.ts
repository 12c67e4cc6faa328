import {
  create,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  AddConceptSchema,
  AddQualityDimensionSchema,
  AddRegionSchema,
  ConceptAddedSchema,
  ConceptMovedSchema,
  ConceptualSpaceCreatedSchema,
  ConceptualspacesCommandSchema,
  ConceptualspacesEventSchema,
  CreateConceptualSpaceSchema,
  DimensionKind,
  DiscoverRegionsSchema,
  GraphChangeSchema,
  MoveConceptSchema,
  PlaceGraphConceptSchema,
  QualityDimensionAddedSchema,
  RegionSchema,
  ReplaceDimensionWeightsSchema,
  type ConceptualspacesCommand,
  type ConceptualspacesEvent,
  type DimensionWeightSchema,
  type GraphChange,
  type QualityDimensionSchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import type { CommitMeta, Rows } from '@cim/service';
import { conceptualspacesDecider } from '../src/domain/index.js';
import type { SpaceState } from '../src/domain/state.js';
import { project, type SpaceRow } from '../src/projection.js';

/** The space every builder targets unless told otherwise. */
export const SPACE_ID = 's-1';
/** A fixed command id (UUIDv7 shape), so derived ids are predictable. */
export const COMMAND_ID = '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
/** Commit time stamped by fixtures, Unix milliseconds. */
export const T0 = 1_700_000_000_000;

/** The plain-object form of a message's init shape: every field optional. */
type Fields<S extends DescMessage> = Exclude<
  MessageInitShape<S>,
  { $typeName: string }
>;
type CommandBody = NonNullable<
  MessageInitShape<typeof ConceptualspacesCommandSchema>['body']
>;
type EventBody = NonNullable<
  MessageInitShape<typeof ConceptualspacesEventSchema>['body']
>;
type DimensionInit = Fields<typeof QualityDimensionSchema>;
type WeightInit = Fields<typeof DimensionWeightSchema>;

function command(
  body: CommandBody | undefined,
  commandId = COMMAND_ID,
): ConceptualspacesCommand {
  return create(ConceptualspacesCommandSchema, {
    meta: { commandId },
    ...(body && { body }),
  });
}

const event = (body: EventBody): ConceptualspacesEvent =>
  create(ConceptualspacesEventSchema, { body });

/** Dimension builders. */
export const dim = {
  continuous: (id: string, min = 0, max = 10, context = ''): DimensionInit => ({
    dimensionId: id,
    name: id.toUpperCase(),
    kind: DimensionKind.CONTINUOUS,
    min,
    max,
    context,
  }),
  categorical: (id: string, categories: string[]): DimensionInit => ({
    dimensionId: id,
    name: id.toUpperCase(),
    kind: DimensionKind.CATEGORICAL,
    categories,
  }),
  ordinal: (id: string, categories: string[]): DimensionInit => ({
    dimensionId: id,
    name: id.toUpperCase(),
    kind: DimensionKind.ORDINAL,
    categories,
  }),
  circular: (id: string): DimensionInit => ({
    dimensionId: id,
    name: id.toUpperCase(),
    kind: DimensionKind.CIRCULAR,
  }),
};

/** Weight builders. */
export const weight = {
  constant: (value = 1): WeightInit => ({ kind: { case: 'constant', value } }),
  contextual: (
    base: number,
    overrides: Record<string, number>,
  ): WeightInit => ({
    kind: { case: 'contextual', value: { base, overrides } },
  }),
  attentional: (current: number, min: number, max: number): WeightInit => ({
    kind: { case: 'attentional', value: { current, min, max } },
  }),
};

/** The default space: x and y on [0, 10), unweighted Euclidean. */
export const XY = [dim.continuous('x'), dim.continuous('y')];

/** What CreateConceptualSpace decides for the default command: x and y with one weight each. */
const createdDefaults = {
  conceptualspacesId: SPACE_ID,
  name: 'Colours',
  dimensions: XY,
  metric: {
    weights: [weight.constant(), weight.constant()],
    minkowskiP: 2,
    currentContext: '',
  },
};

/** A graph change of each kind. */
export const change = {
  created: (
    f: {
      name?: string;
      typeAbstraction?: number;
      tagCount?: number;
      metadataKeys?: number;
      described?: boolean;
    } = {},
  ): GraphChange =>
    create(GraphChangeSchema, {
      kind: {
        case: 'created',
        value: { name: 'g', typeAbstraction: 0.5, ...f },
      },
    }),
  nodeAdded: (
    nodeId: string,
    abstract = false,
    labelled = false,
    metadataKeys = 0,
  ) =>
    create(GraphChangeSchema, {
      kind: {
        case: 'nodeAdded',
        value: { nodeId, abstract, labelled, metadataKeys },
      },
    }),
  nodeUpdated: (nodeId: string, metadataKeys: number) =>
    create(GraphChangeSchema, {
      kind: { case: 'nodeUpdated', value: { nodeId, metadataKeys } },
    }),
  nodeRemoved: (elementId: string) =>
    create(GraphChangeSchema, {
      kind: { case: 'nodeRemoved', value: { elementId } },
    }),
  edgeAdded: (edgeId: string, related = false, metadataKeys = 0) =>
    create(GraphChangeSchema, {
      kind: { case: 'edgeAdded', value: { edgeId, related, metadataKeys } },
    }),
  edgeUpdated: (edgeId: string, related: boolean, metadataKeys?: number) =>
    create(GraphChangeSchema, {
      kind: {
        case: 'edgeUpdated',
        value: {
          edgeId,
          related,
          ...(metadataKeys !== undefined && { metadataKeys }),
        },
      },
    }),
  edgeRemoved: (elementId: string) =>
    create(GraphChangeSchema, {
      kind: { case: 'edgeRemoved', value: { elementId } },
    }),
  updated: (value: {
    tagCount?: number;
    metadataKeys?: number;
    described?: boolean;
  }) => create(GraphChangeSchema, { kind: { case: 'updated', value } }),
  touched: () =>
    create(GraphChangeSchema, { kind: { case: 'touched', value: {} } }),
  imported: () =>
    create(GraphChangeSchema, { kind: { case: 'imported', value: {} } }),
};

/** Command builders: defaults describe space s-1 (x, y on [0, 10)). */
export const cmd = {
  create: (
    f: Fields<typeof CreateConceptualSpaceSchema> = {},
    commandId = COMMAND_ID,
  ) =>
    command(
      {
        case: 'create',
        value: create(CreateConceptualSpaceSchema, {
          conceptualspacesId: SPACE_ID,
          name: 'Colours',
          dimensions: XY,
          metric: { minkowskiP: 2 },
          ...f,
        }),
      },
      commandId,
    ),
  addDimension: (f: Fields<typeof AddQualityDimensionSchema> = {}) =>
    command({
      case: 'addDimension',
      value: create(AddQualityDimensionSchema, {
        conceptualspacesId: SPACE_ID,
        dimension: dim.continuous('z'),
        ...f,
      }),
    }),
  addConcept: (
    f: Fields<typeof AddConceptSchema> = {},
    commandId = COMMAND_ID,
  ) =>
    command(
      {
        case: 'addConcept',
        value: create(AddConceptSchema, {
          conceptualspacesId: SPACE_ID,
          conceptId: 'c1',
          coordinates: [1, 1],
          ...f,
        }),
      },
      commandId,
    ),
  moveConcept: (f: Fields<typeof MoveConceptSchema> = {}) =>
    command({
      case: 'moveConcept',
      value: create(MoveConceptSchema, {
        conceptualspacesId: SPACE_ID,
        conceptId: 'c1',
        coordinates: [2, 2],
        ...f,
      }),
    }),
  removeConcept: (conceptId = 'c1') =>
    command({
      case: 'removeConcept',
      value: { conceptualspacesId: SPACE_ID, conceptId },
    }),
  addRegion: (f: Fields<typeof AddRegionSchema> = {}, commandId = COMMAND_ID) =>
    command(
      {
        case: 'addRegion',
        value: create(AddRegionSchema, {
          conceptualspacesId: SPACE_ID,
          regionId: 'r1',
          prototype: [2, 2],
          // x ≥ 0 and x ≤ 5: the left half.
          boundaries: [
            { normal: [1, 0], offset: 0 },
            { normal: [-1, 0], offset: -5 },
          ],
          ...f,
        }),
      },
      commandId,
    ),
  recomputePrototypes: () =>
    command({
      case: 'recomputePrototypes',
      value: { conceptualspacesId: SPACE_ID },
    }),
  discoverRegions: (
    f: Fields<typeof DiscoverRegionsSchema> = {},
    commandId = COMMAND_ID,
  ) =>
    command(
      {
        case: 'discoverRegions',
        value: create(DiscoverRegionsSchema, {
          conceptualspacesId: SPACE_ID,
          ...f,
        }),
      },
      commandId,
    ),
  replaceWeights: (f: Fields<typeof ReplaceDimensionWeightsSchema> = {}) =>
    command({
      case: 'replaceWeights',
      value: create(ReplaceDimensionWeightsSchema, {
        conceptualspacesId: SPACE_ID,
        weights: [weight.constant(2), weight.constant(1)],
        reason: 'colour matters more',
        ...f,
      }),
    }),
  setContext: (context: string) =>
    command({
      case: 'setContext',
      value: { conceptualspacesId: SPACE_ID, context },
    }),
  delete: () =>
    command({ case: 'delete', value: { conceptualspacesId: SPACE_ID } }),
  place: (
    graphVersion: bigint,
    graphChange: GraphChange,
    f: Fields<typeof PlaceGraphConceptSchema> = {},
  ) =>
    command({
      case: 'placeGraphConcept',
      value: create(PlaceGraphConceptSchema, {
        conceptualspacesId: SPACE_ID,
        graphId: 'g1',
        graphVersion,
        change: graphChange,
        ...f,
      }),
    }),
  empty: () => command(undefined),
};

/** Event builders matching what the command builders decide. */
export const evt = {
  created: (f: Fields<typeof ConceptualSpaceCreatedSchema> = {}) =>
    event({
      case: 'created',
      value: create(ConceptualSpaceCreatedSchema, { ...createdDefaults, ...f }),
    }),
  dimensionAdded: (f: Fields<typeof QualityDimensionAddedSchema> = {}) =>
    event({
      case: 'dimensionAdded',
      value: create(QualityDimensionAddedSchema, {
        conceptualspacesId: SPACE_ID,
        dimension: dim.continuous('z'),
        weight: weight.constant(),
        ...f,
      }),
    }),
  conceptAdded: (f: Fields<typeof ConceptAddedSchema> = {}) =>
    event({
      case: 'conceptAdded',
      value: create(ConceptAddedSchema, {
        conceptualspacesId: SPACE_ID,
        conceptId: 'c1',
        coordinates: [1, 1],
        ...f,
      }),
    }),
  conceptMoved: (f: Fields<typeof ConceptMovedSchema> = {}) =>
    event({
      case: 'conceptMoved',
      value: create(ConceptMovedSchema, {
        conceptualspacesId: SPACE_ID,
        conceptId: 'c1',
        coordinates: [2, 2],
        ...f,
      }),
    }),
  conceptRemoved: (conceptId = 'c1') =>
    event({
      case: 'conceptRemoved',
      value: { conceptualspacesId: SPACE_ID, conceptId },
    }),
  regionAdded: (f: Fields<typeof RegionSchema> = {}) =>
    event({
      case: 'regionAdded',
      value: {
        conceptualspacesId: SPACE_ID,
        region: create(RegionSchema, {
          regionId: 'r1',
          name: '',
          prototype: [2, 2],
          boundaries: [
            { normal: [1, 0], offset: 0 },
            { normal: [-1, 0], offset: -5 },
          ],
          ...f,
        }),
      },
    }),
  prototypeUpdated: (regionId: string, prototype: number[]) =>
    event({
      case: 'prototypeUpdated',
      value: { conceptualspacesId: SPACE_ID, regionId, prototype },
    }),
  weightsRemoved: (weights: WeightInit[], reason = 'colour matters more') =>
    event({
      case: 'weightsRemoved',
      value: { conceptualspacesId: SPACE_ID, weights, reason },
    }),
  weightsAdded: (weights: WeightInit[], reason = 'colour matters more') =>
    event({
      case: 'weightsAdded',
      value: { conceptualspacesId: SPACE_ID, weights, reason },
    }),
  contextChanged: (from: string, to: string) =>
    event({
      case: 'contextChanged',
      value: { conceptualspacesId: SPACE_ID, from, to },
    }),
  deleted: () =>
    event({ case: 'deleted', value: { conceptualspacesId: SPACE_ID } }),
  graphChangeRecorded: (
    graphVersion: bigint,
    graphChange: GraphChange,
    graphId = 'g1',
  ) =>
    event({
      case: 'graphChangeRecorded',
      value: {
        conceptualspacesId: SPACE_ID,
        graphId,
        graphVersion,
        change: graphChange,
      },
    }),
  /** An event with no body, as an older reader sees an event type from a newer schema. */
  unknown: () => create(ConceptualspacesEventSchema, {}),
};

/** Concepts c<i> at the given points (after ConceptualSpaceCreated). */
export function concepts(...points: number[][]): ConceptualspacesEvent[] {
  return points.map((coordinates, i) =>
    evt.conceptAdded({ conceptId: `c${i + 1}`, coordinates }),
  );
}

/** Commit metadata for the event that makes aggregate version `version`. */
export function commitMeta(
  version: number,
  occurredAtMs = T0 + version,
  aggregateId = SPACE_ID,
): CommitMeta {
  return {
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `event-${version}`,
    commandId: COMMAND_ID,
    correlationId: COMMAND_ID,
    actor: 'user:test',
    occurredAtMs,
  };
}

/** Folds events into a row, numbering versions on from the row's. */
export function projectAll(
  events: readonly ConceptualspacesEvent[],
  row?: SpaceRow,
): SpaceRow | undefined {
  let current = row;
  let version = Number(row?.version ?? 0n);
  for (const e of events) {
    current = project(
      current,
      e,
      commitMeta(++version, T0 + version, current?.space.spaceId ?? SPACE_ID),
    );
  }
  return current;
}

/** Folds events into a decider state. */
export function stateOf(
  events: readonly ConceptualspacesEvent[],
  state: SpaceState = conceptualspacesDecider.initialState(),
): SpaceState {
  return events.reduce(conceptualspacesDecider.evolve, state);
}

/** Rows as the runtime hands them to query handlers. */
export function rowsOf(
  ...rows: SpaceRow[]
): Rows<SpaceRow> & Map<string, SpaceRow> {
  return new Map(rows.map((row) => [row.space.spaceId, row]));
}
