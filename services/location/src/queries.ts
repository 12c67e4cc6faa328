import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { invalid, notFound, requireId, show, upperBound } from '@cim/kernel';
import {
  LocationType,
  type LocationQueryService,
  type LocationRefSchema,
  type LocationSchema,
} from '@cim/proto/cim/location/v1/location_pb';
import { readPage, takePage, type QueryHandlers } from '@cim/service';
import {
  MAX_DISTANCE_M,
  addressProblems,
  initialBearing,
  isKnownType,
  isValidPosition,
} from './domain/index.js';
import {
  distanceCursor,
  distanceWindow,
  type DistanceCursor,
} from './distance-cursor.js';
import type { LocationRow } from './projection.js';
import type { LocationReadModel } from './read-model.js';
import type { NearbyPoint } from './spatial-index.js';

type LocationView = MessageInitShape<typeof LocationSchema>;
type LocationRefView = MessageInitShape<typeof LocationRefSchema>;

/** A location row as the Location message. */
export function locationView(row: LocationRow): LocationView {
  return {
    locationId: row.locationId,
    name: row.name,
    locationType: row.locationType,
    ...(row.address && { address: row.address }),
    ...(row.coordinates && { coordinates: row.coordinates }),
    ...(row.virtual && { virtual: row.virtual }),
    parentId: row.parentId,
    metadata: Object.fromEntries(row.metadata),
    archived: row.archived,
    version: row.version,
    createdAt: timestampFromMs(row.createdAtMs),
    updatedAt: timestampFromMs(row.updatedAtMs),
    ...(row.lastValidation && {
      lastValidationResult: row.lastValidation.result,
      lastValidatedAt: timestampFromMs(row.lastValidation.atMs),
    }),
  };
}

function refView(row: LocationRow): LocationRefView {
  return {
    locationId: row.locationId,
    name: row.name,
    locationType: row.locationType,
    archived: row.archived,
    parentId: row.parentId,
  };
}

function typeFilter(type: LocationType): void {
  if (type !== LocationType.UNSPECIFIED && !isKnownType(type)) {
    invalid(`location_type ${type} is not a known type`);
  }
}

/** Ids as takePage entries: each id is its own key, so the next page token carries the last id. */
function* keyed(
  ids: Iterable<string>,
): Generator<[string, string], void, undefined> {
  for (const id of ids) yield [id, id];
}

/** True when (distance, id) comes after the cursor. */
function afterCursor(point: NearbyPoint, cursor: DistanceCursor): boolean {
  return (
    point.distanceM > cursor.distanceM ||
    (point.distanceM === cursor.distanceM && point.id > cursor.id)
  );
}

/** The first index in a (distance, id)-sorted list after the cursor (binary search). */
function firstAfter(
  points: readonly NearbyPoint[],
  cursor: DistanceCursor | undefined,
): number {
  if (cursor === undefined) return 0;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (afterCursor(points[mid]!, cursor)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The query handlers over the read model. Unknown locations answer
 * NOT_FOUND, malformed arguments VALIDATION_FAILED. Radius and box searches
 * use the spatial index (cost grows with the points near the search area,
 * not with all locations), then filter by type and archived status; ByType
 * and Hierarchy children page over sorted secondary indexes.
 */
export const locationQueries = (
  model: LocationReadModel,
): QueryHandlers<typeof LocationQueryService> => {
  function rowOf(locationId: string): LocationRow {
    requireId(locationId, 'location_id');
    const row = model.row(locationId);
    if (row === undefined) {
      notFound(`location ${show(locationId)} not found`);
    }
    return row;
  }

  const keep =
    (type: LocationType, includeArchived: boolean) =>
    (row: LocationRow | undefined): row is LocationRow =>
      row !== undefined &&
      (includeArchived || !row.archived) &&
      (type === LocationType.UNSPECIFIED || row.locationType === type);

  return {
    getLocation({ locationId }) {
      return { location: locationView(rowOf(locationId)) };
    },

    findNearby({
      latitude,
      longitude,
      radiusM,
      locationType,
      includeArchived,
      page,
    }) {
      if (!isValidPosition({ latitude, longitude })) {
        invalid(
          `the centre must be a latitude within [-90, 90] and a longitude within [-180, 180], got (${latitude}, ${longitude})`,
        );
      }
      if (!(
        Number.isFinite(radiusM) &&
        radiusM > 0 &&
        radiusM <= MAX_DISTANCE_M
      )) {
        invalid(
          `radius_m must be greater than 0 and at most ${MAX_DISTANCE_M}, got ${radiusM}`,
        );
      }
      typeFilter(locationType);
      const window = distanceWindow(page);
      const wanted = keep(locationType, includeArchived);
      const matches = model.points
        .nearby(latitude, longitude, radiusM)
        .filter((point) => wanted(model.row(point.id)));
      const centre = { latitude, longitude };
      const { items, info } = takePage(
        matches
          .slice(firstAfter(matches, window.after))
          .map((point) => [point.id, point] as const),
        window,
        matches.length,
        (point: NearbyPoint) => ({
          location: locationView(model.row(point.id)!),
          distanceM: point.distanceM,
          bearingDeg: initialBearing(centre, point),
        }),
        (point) => distanceCursor(point.distanceM, point.id),
      );
      return { results: items, page: info };
    },

    withinBoundingBox({ box, locationType, includeArchived, page }) {
      if (box === undefined) invalid('box is required');
      const { south, west, north, east } = box;
      if (
        !isValidPosition({ latitude: south, longitude: west }) ||
        !isValidPosition({ latitude: north, longitude: east })
      ) {
        invalid(
          'box corners must have latitudes within [-90, 90] and longitudes within [-180, 180]',
        );
      }
      if (south > north) {
        invalid(
          `box.south (${south}) must not be greater than box.north (${north})`,
        );
      }
      typeFilter(locationType);
      const window = readPage(page);
      const wanted = keep(locationType, includeArchived);
      const ids: string[] = [];
      model.points.searchBox(south, west, north, east, (id) => {
        if (wanted(model.row(id))) ids.push(id);
      });
      ids.sort();
      const start =
        window.after === undefined ? 0 : upperBound(ids, window.after);
      const { items, info } = takePage(
        keyed(ids.slice(start)),
        window,
        ids.length,
        (id: string) => locationView(model.row(id)!),
      );
      return { locations: items, page: info };
    },

    hierarchy({ locationId, page }) {
      const row = rowOf(locationId);
      const window = readPage(page);
      const { ancestors, cycle } = model.ancestry(locationId);
      const children = model.childrenOf(locationId);
      const { items, info } = takePage(
        keyed(children.from(window.after)),
        window,
        children.size,
        (id: string) => refView(model.row(id)!),
      );
      return {
        location: locationView(row),
        ancestors: ancestors.map(refView),
        children: items,
        page: info,
        descendantCount: BigInt(model.descendantCount(locationId)),
        cycleDetected: cycle.length > 0,
        cycle,
      };
    },

    byType({ locationType, includeArchived, page }) {
      if (!isKnownType(locationType)) {
        invalid(`location_type must be a known type, got ${locationType}`);
      }
      const window = readPage(page);
      const ids = model.ofType(locationType, includeArchived);
      const { items, info } = takePage(
        keyed(ids.from(window.after)),
        window,
        ids.size,
        (id: string) => locationView(model.row(id)!),
      );
      return { locations: items, page: info };
    },

    validateAddress({ address }) {
      if (address === undefined) invalid('address is required');
      const problems = addressProblems(address);
      return { valid: problems.length === 0, problems };
    },
  };
};
