import type {
  Address,
  Coordinates,
  LocationEvent,
  LocationType,
  ValidationResult,
  VirtualLocation,
} from '@cim/proto/cim/location/v1/location_pb';
import type { CommitMeta } from '@cim/service';
import { updated } from './domain/index.js';

/** The last ValidateLocationContext verdict on a location. */
export interface LastValidation {
  readonly result: ValidationResult;
  readonly atMs: number;
}

/**
 * The read model of one location. Plain data, a Map and protobuf messages,
 * all of which survive the runtime's structured-clone snapshots; each event
 * builds a new row in O(1) (metadata is bounded at 256 entries).
 */
export interface LocationRow {
  readonly locationId: string;
  readonly name: string;
  readonly locationType: LocationType;
  readonly address: Address | undefined;
  readonly coordinates: Coordinates | undefined;
  readonly virtual: VirtualLocation | undefined;
  /** Empty for a root. */
  readonly parentId: string;
  /** Stream sequence of the commit that set parentId; 0 for a root. */
  readonly parentSequence: bigint;
  readonly metadata: ReadonlyMap<string, string>;
  readonly archived: boolean;
  /** Aggregate version after the last event folded in. */
  readonly version: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly lastValidation: LastValidation | undefined;
}

/**
 * Folds one event into a location's row: undefined until LocationDefined,
 * never dropped afterwards (archived locations stay readable). Events that
 * do not fit the row, or come from a newer schema, change only its version
 * and time.
 */
export function project(
  row: LocationRow | undefined,
  { body }: LocationEvent,
  meta: CommitMeta,
): LocationRow | undefined {
  if (body.case === 'defined') {
    if (row !== undefined) return stamp(row, meta);
    const { value } = body;
    return {
      locationId: value.locationId,
      name: value.name,
      locationType: value.locationType,
      address: value.address,
      coordinates: value.coordinates,
      virtual: value.virtual,
      parentId: value.parentId,
      parentSequence: value.parentId === '' ? 0n : meta.sequence,
      metadata: new Map(Object.entries(value.metadata)),
      archived: false,
      version: meta.version,
      createdAtMs: meta.occurredAtMs,
      updatedAtMs: meta.occurredAtMs,
      lastValidation: undefined,
    };
  }
  if (row === undefined) return undefined;
  switch (body.case) {
    case 'updated':
      return stamp({ ...row, ...updated(row, body.value) }, meta);
    case 'parentSet':
      return stamp(
        {
          ...row,
          parentId: body.value.parentId,
          parentSequence: meta.sequence,
        },
        meta,
      );
    case 'parentRemoved':
      return stamp({ ...row, parentId: '', parentSequence: 0n }, meta);
    case 'metadataAdded': {
      const metadata = new Map(row.metadata);
      for (const [key, value] of Object.entries(body.value.entries))
        metadata.set(key, value);
      return stamp({ ...row, metadata }, meta);
    }
    case 'archived':
      return stamp({ ...row, archived: true }, meta);
    case 'validated':
      return stamp(
        {
          ...row,
          lastValidation: {
            result: body.value.result,
            atMs: meta.occurredAtMs,
          },
        },
        meta,
      );
    case undefined:
      return stamp(row, meta);
  }
}

function stamp(row: LocationRow, meta: CommitMeta): LocationRow {
  return { ...row, version: meta.version, updatedAtMs: meta.occurredAtMs };
}
