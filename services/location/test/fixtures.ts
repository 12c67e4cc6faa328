import {
  create,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  AddressSchema,
  ArchiveLocationSchema,
  CoordinatesSchema,
  DefineLocationSchema,
  HierarchyLinkSchema,
  LocationCommandSchema,
  LocationDefinedSchema,
  LocationEventSchema,
  LocationType,
  LocationUpdatedSchema,
  LocationValidatedSchema,
  ParentFactsSchema,
  ParentLocationRemovedSchema,
  ParentRemovalCause,
  SetParentLocationSchema,
  UpdateLocationSchema,
  ValidateLocationContextSchema,
  VerifyLocationHierarchySchema,
  VirtualLocationSchema,
  type Address,
  type Coordinates,
  type HierarchyLink,
  type LocationCommand,
  type LocationEvent,
  type ParentFacts,
  type VirtualLocation,
} from '@cim/proto/cim/location/v1/location_pb';
import type { CommitMeta } from '@cim/service';
import { locationDecider, type LocationState } from '../src/domain/index.js';
import type { LocationRow } from '../src/projection.js';
import { LocationReadModel } from '../src/read-model.js';

/** The location every builder targets unless told otherwise. */
export const LOCATION_ID = 'loc-1';
/** A fixed command id (UUIDv7 shape). */
export const COMMAND_ID = '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
/** Commit time stamped by fixtures, Unix milliseconds. */
export const T0 = 1_700_000_000_000;

/** The plain-object form of a message's init shape: every field optional. */
type Fields<S extends DescMessage> = Exclude<
  MessageInitShape<S>,
  { $typeName: string }
>;

type CommandBody = NonNullable<
  MessageInitShape<typeof LocationCommandSchema>['body']
>;
type EventBody = NonNullable<
  MessageInitShape<typeof LocationEventSchema>['body']
>;

const command = (body: CommandBody | undefined): LocationCommand =>
  create(LocationCommandSchema, {
    meta: { commandId: COMMAND_ID },
    ...(body && { body }),
  });

const event = (body: EventBody): LocationEvent =>
  create(LocationEventSchema, { body });

/** A complete address in Berlin. */
export const address = (f: Fields<typeof AddressSchema> = {}): Address =>
  create(AddressSchema, {
    street1: 'Unter den Linden 1',
    locality: 'Berlin',
    region: 'Berlin',
    country: 'DE',
    postalCode: '10117',
    ...f,
  });

/** WGS84 coordinates, Berlin unless told otherwise. */
export const coords = (
  latitude = 52.52,
  longitude = 13.405,
  f: Fields<typeof CoordinatesSchema> = {},
): Coordinates =>
  create(CoordinatesSchema, { latitude, longitude, system: 'WGS84', ...f });

/** Virtual details of a website. */
export const virtualSite = (
  f: Fields<typeof VirtualLocationSchema> = {},
): VirtualLocation =>
  create(VirtualLocationSchema, {
    kind: { case: 'website', value: {} },
    primaryIdentifier: 'example.org',
    urls: ['https://example.org/'],
    ipAddresses: [{ address: '192.0.2.10', ports: [443] }],
    ...f,
  });

/** One hierarchy link as the read model would report it. */
export const link = (
  locationId: string,
  parentId = '',
  linkSequence = 0,
  archived = false,
): HierarchyLink =>
  create(HierarchyLinkSchema, {
    locationId,
    parentId,
    archived,
    linkSequence: BigInt(linkSequence),
  });

/** ParentFacts for an ancestry given as links, parent first. */
export const facts = (...ancestry: HierarchyLink[]): ParentFacts =>
  create(ParentFactsSchema, { ancestry });

/** Facts for a known, live root parent. */
export const rootParent = (parentId: string): ParentFacts =>
  facts(link(parentId));

/** Command builders: defaults describe physical location loc-1 in Berlin. */
export const cmd = {
  define: (f: Fields<typeof DefineLocationSchema> = {}) =>
    command({
      case: 'define',
      value: create(DefineLocationSchema, {
        locationId: LOCATION_ID,
        name: 'Head office',
        locationType: LocationType.PHYSICAL,
        address: address(),
        coordinates: coords(),
        ...f,
      }),
    }),
  update: (f: Fields<typeof UpdateLocationSchema> = {}) =>
    command({
      case: 'update',
      value: create(UpdateLocationSchema, { locationId: LOCATION_ID, ...f }),
    }),
  setParent: (parentId: string, parentFacts?: ParentFacts) =>
    command({
      case: 'setParent',
      value: create(SetParentLocationSchema, {
        locationId: LOCATION_ID,
        parentId,
        ...(parentFacts && { parentFacts }),
      }),
    }),
  removeParent: () =>
    command({ case: 'removeParent', value: { locationId: LOCATION_ID } }),
  addMetadata: (entries: Record<string, string>) =>
    command({
      case: 'addMetadata',
      value: { locationId: LOCATION_ID, entries },
    }),
  archive: (f: Fields<typeof ArchiveLocationSchema> = {}) =>
    command({
      case: 'archive',
      value: create(ArchiveLocationSchema, { locationId: LOCATION_ID, ...f }),
    }),
  validateContext: (f: Fields<typeof ValidateLocationContextSchema> = {}) =>
    command({
      case: 'validateContext',
      value: create(ValidateLocationContextSchema, {
        locationId: LOCATION_ID,
        ...f,
      }),
    }),
  verifyHierarchy: (f: Fields<typeof VerifyLocationHierarchySchema> = {}) =>
    command({
      case: 'verifyHierarchy',
      value: create(VerifyLocationHierarchySchema, {
        locationId: LOCATION_ID,
        ...f,
      }),
    }),
  /** A command whose body oneof is unset. */
  empty: () => command(undefined),
};

/** Event builders matching what the command builders' defaults decide. */
export const evt = {
  defined: (f: Fields<typeof LocationDefinedSchema> = {}) =>
    event({
      case: 'defined',
      value: create(LocationDefinedSchema, {
        locationId: LOCATION_ID,
        name: 'Head office',
        locationType: LocationType.PHYSICAL,
        address: address(),
        coordinates: coords(),
        ...f,
      }),
    }),
  updated: (f: Fields<typeof LocationUpdatedSchema> = {}) =>
    event({
      case: 'updated',
      value: create(LocationUpdatedSchema, { locationId: LOCATION_ID, ...f }),
    }),
  parentSet: (
    parentId: string,
    previousParentId = '',
    locationId = LOCATION_ID,
  ) =>
    event({
      case: 'parentSet',
      value: { locationId, parentId, previousParentId },
    }),
  parentRemoved: (
    formerParentId: string,
    f: Fields<typeof ParentLocationRemovedSchema> = {},
  ) =>
    event({
      case: 'parentRemoved',
      value: create(ParentLocationRemovedSchema, {
        locationId: LOCATION_ID,
        formerParentId,
        cause: ParentRemovalCause.REQUESTED,
        ...f,
      }),
    }),
  metadataAdded: (entries: Record<string, string>) =>
    event({
      case: 'metadataAdded',
      value: { locationId: LOCATION_ID, entries },
    }),
  archived: (reason = '', locationId = LOCATION_ID) =>
    event({ case: 'archived', value: { locationId, reason } }),
  validated: (f: Fields<typeof LocationValidatedSchema> = {}) =>
    event({
      case: 'validated',
      value: create(LocationValidatedSchema, {
        locationId: LOCATION_ID,
        ...f,
      }),
    }),
  /** An event with no body, as an older reader sees an event type from a newer schema. */
  unknown: () => create(LocationEventSchema, {}),
};

/** Folds events into a decider state. */
export function stateOf(events: readonly LocationEvent[]): LocationState {
  return events.reduce(locationDecider.evolve, locationDecider.initialState());
}

/** Commit metadata for the event that makes aggregate version `version` at stream sequence `sequence`. */
export function commitMeta(
  aggregateId: string,
  version: number,
  sequence = version,
): CommitMeta {
  return {
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(sequence),
    eventId: `event-${aggregateId}-${version}`,
    commandId: COMMAND_ID,
    correlationId: COMMAND_ID,
    actor: 'user:test',
    occurredAtMs: T0 + sequence,
  };
}

/** `ServiceIo.settled` and `reached` of a read model that holds everything stored already. */
export const settledAtOnce = {
  settled: (): Promise<void> => Promise.resolve(),
  reached: (): Promise<void> => Promise.resolve(),
};

/**
 * A stand-in for the runtime's projection: rows in a map, fed through a
 * read model's wrapping fold one commit (one event here) at a time, with a
 * stream sequence counting across locations.
 */
export class Stream {
  readonly rows = new Map<string, LocationRow>();
  readonly model: LocationReadModel;
  private sequence = 0;

  constructor(model = new LocationReadModel()) {
    this.model = model.bind(this.rows);
  }

  /** Appends events of one location, each as its own commit. */
  append(locationId: string, ...events: LocationEvent[]): this {
    for (const e of events) {
      const version = Number(this.rows.get(locationId)?.version ?? 0n) + 1;
      const next = this.model.project(
        this.rows.get(locationId),
        e,
        commitMeta(locationId, version, ++this.sequence),
      );
      if (next === undefined) this.rows.delete(locationId);
      else this.rows.set(locationId, next);
    }
    return this;
  }

  /** Defines a location with the default body, changed by `f`. */
  define(
    locationId: string,
    f: Fields<typeof LocationDefinedSchema> = {},
  ): this {
    return this.append(locationId, evt.defined({ locationId, ...f }));
  }
}
