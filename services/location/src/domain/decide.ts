import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  requireId,
  requireText,
  show,
  violation,
  notFound,
} from '@cim/kernel';
import {
  CoordinatesSchema,
  LocationEventSchema,
  LocationType,
  NetworkType,
  ParentRemovalCause,
  type AddLocationMetadata,
  type ArchiveLocation,
  type Coordinates,
  type DefineLocation,
  type LocationCommand,
  type LocationEvent,
  type RemoveParentLocation,
  type SetParentLocation,
  type UpdateLocation,
  type ValidateLocationContext,
  type VerifyLocationHierarchy,
} from '@cim/proto/cim/location/v1/location_pb';
import { assessContext } from './context-risk.js';
import { MAX_DISTANCE_M } from './geo.js';
import { checkParent, closedCycle } from './hierarchy.js';
import { canonicalIp } from './ip.js';
import {
  LIMITS,
  WGS84,
  isKnownType,
  typeRuleBroken,
  validateAddress,
  validateCoordinates,
  validateMetadata,
  validateVirtual,
} from './rules.js';
import type { LocationState, PresentLocation } from './state.js';

type EventBody = NonNullable<
  MessageInitShape<typeof LocationEventSchema>['body']
>;

const event = (body: EventBody): LocationEvent =>
  create(LocationEventSchema, { body });

/** Tolerance of ValidateLocationContext when the command gives none, metres. */
export const DEFAULT_TOLERANCE_M = 1000;

/**
 * Decides the events for a command, or throws DomainError. Checks run in a
 * fixed order: the command's own fields (VALIDATION_FAILED), then the
 * location's existence and status (NOT_FOUND, ALREADY_EXISTS,
 * INVALID_TRANSITION), then what the service read about other locations
 * (NOT_FOUND for an unknown parent) and the structural rules
 * (BUSINESS_RULE_VIOLATION).
 */
export function decide(
  command: LocationCommand,
  state: LocationState,
): LocationEvent[] {
  const { body } = command;
  switch (body.case) {
    case 'define':
      return [define(body.value, state)];
    case 'update':
      return [update(body.value, state)];
    case 'setParent':
      return [setParent(body.value, state)];
    case 'removeParent':
      return [removeParent(body.value, state)];
    case 'addMetadata':
      return [addMetadata(body.value, state)];
    case 'archive':
      return [archive(body.value, state)];
    case 'validateContext':
      return [validateContext(body.value, state)];
    case 'verifyHierarchy':
      return verifyHierarchy(body.value, state);
    case undefined:
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'command has no body');
  }
}

function existing(state: LocationState, locationId: string): PresentLocation {
  if (state.status === 'absent') {
    notFound(`location ${show(locationId)} not found`);
  }
  return state;
}

function active(state: LocationState, locationId: string): PresentLocation {
  const location = existing(state, locationId);
  if (location.status === 'archived') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `location ${show(locationId)} is archived and accepts no changes`,
    );
  }
  return location;
}

/** Coordinates as events carry them: the system spelled WGS84. */
function normalised(coordinates: Coordinates): Coordinates {
  return create(CoordinatesSchema, { ...coordinates, system: WGS84 });
}

function define(command: DefineLocation, state: LocationState): LocationEvent {
  const { locationId, name, locationType, address, coordinates, virtual } =
    command;
  const { parentId, metadata, parentFacts } = command;
  requireId(locationId, 'location_id');
  requireText(name, 'name', LIMITS.name);
  if (!isKnownType(locationType)) {
    invalid(`location_type must be a known type, got ${locationType}`);
  }
  if (address !== undefined) validateAddress(address);
  if (coordinates !== undefined) validateCoordinates(coordinates);
  if (virtual !== undefined) validateVirtual(virtual);
  validateMetadata(metadata, 'metadata');
  if (parentId !== '') {
    requireId(parentId, 'parent_id');
    if (parentId === locationId) invalid('a location cannot be its own parent');
  }
  const broken = typeRuleBroken(locationType, {
    address: address !== undefined,
    coordinates: coordinates !== undefined,
    virtual: virtual !== undefined,
  });
  if (broken !== undefined) invalid(broken);
  if (state.status !== 'absent') {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `location ${show(locationId)} already exists`,
    );
  }
  if (parentId !== '') checkParent(locationId, parentId, parentFacts);
  return event({
    case: 'defined',
    value: {
      locationId,
      name,
      locationType,
      address,
      coordinates: coordinates && normalised(coordinates),
      virtual,
      parentId,
      metadata,
    },
  });
}

function update(command: UpdateLocation, state: LocationState): LocationEvent {
  const { locationId, name, locationType, address, coordinates, virtual } =
    command;
  const { clearAddress, clearCoordinates, clearVirtual, reason } = command;
  if (name !== undefined) requireText(name, 'name', LIMITS.name);
  if (locationType !== LocationType.UNSPECIFIED && !isKnownType(locationType)) {
    invalid(`location_type must be a known type, got ${locationType}`);
  }
  if (address !== undefined) validateAddress(address);
  if (coordinates !== undefined) validateCoordinates(coordinates);
  if (virtual !== undefined) validateVirtual(virtual);
  limitText(reason, 'reason', LIMITS.reason);
  for (const [set, clear, field] of [
    [address, clearAddress, 'address'],
    [coordinates, clearCoordinates, 'coordinates'],
    [virtual, clearVirtual, 'virtual'],
  ] as const) {
    if (set !== undefined && clear) {
      invalid(`${field} cannot be both set and cleared`);
    }
  }
  if (
    name === undefined &&
    locationType === LocationType.UNSPECIFIED &&
    address === undefined &&
    coordinates === undefined &&
    virtual === undefined &&
    !clearAddress &&
    !clearCoordinates &&
    !clearVirtual
  ) {
    invalid('an update must change at least one attribute');
  }
  const location = active(state, locationId);
  const type =
    locationType === LocationType.UNSPECIFIED
      ? location.locationType
      : locationType;
  const broken = typeRuleBroken(type, {
    address: clearAddress ? false : (address ?? location.address) !== undefined,
    coordinates: clearCoordinates
      ? false
      : (coordinates ?? location.coordinates) !== undefined,
    virtual: clearVirtual ? false : (virtual ?? location.virtual) !== undefined,
  });
  if (broken !== undefined) violation(broken);
  return event({
    case: 'updated',
    value: {
      locationId,
      ...(name !== undefined && { name }),
      locationType,
      address,
      coordinates: coordinates && normalised(coordinates),
      virtual,
      addressCleared: clearAddress,
      coordinatesCleared: clearCoordinates,
      virtualCleared: clearVirtual,
      reason,
    },
  });
}

function setParent(
  { locationId, parentId, parentFacts }: SetParentLocation,
  state: LocationState,
): LocationEvent {
  requireId(parentId, 'parent_id');
  if (parentId === locationId) invalid('a location cannot be its own parent');
  const location = active(state, locationId);
  if (location.parentId === parentId) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `${show(parentId)} is already the parent of ${show(locationId)}`,
    );
  }
  checkParent(locationId, parentId, parentFacts);
  return event({
    case: 'parentSet',
    value: { locationId, parentId, previousParentId: location.parentId },
  });
}

function removeParent(
  { locationId }: RemoveParentLocation,
  state: LocationState,
): LocationEvent {
  const location = active(state, locationId);
  if (location.parentId === '') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `location ${show(locationId)} has no parent`,
    );
  }
  return event({
    case: 'parentRemoved',
    value: {
      locationId,
      formerParentId: location.parentId,
      cause: ParentRemovalCause.REQUESTED,
    },
  });
}

function addMetadata(
  { locationId, entries }: AddLocationMetadata,
  state: LocationState,
): LocationEvent {
  const keys = Object.keys(entries);
  if (keys.length === 0) invalid('entries must not be empty');
  validateMetadata(entries, 'entries');
  const location = active(state, locationId);
  const merged =
    location.metadata.size +
    keys.filter((k) => !location.metadata.has(k)).length;
  if (merged > LIMITS.metadataEntries) {
    violation(
      `location ${show(locationId)} would hold ${merged} metadata entries, at most ${LIMITS.metadataEntries} are allowed`,
    );
  }
  return event({ case: 'metadataAdded', value: { locationId, entries } });
}

function archive(
  { locationId, reason, children }: ArchiveLocation,
  state: LocationState,
): LocationEvent {
  limitText(reason, 'reason', LIMITS.reason);
  active(state, locationId);
  const live = children?.liveCount ?? 0n;
  if (live > 0n) {
    violation(
      `location ${show(locationId)} has ${live} live child location(s) (${children!.sampleIds.map(show).join(', ')}); move or archive them first`,
    );
  }
  return event({ case: 'archived', value: { locationId, reason } });
}

function validateContext(
  command: ValidateLocationContext,
  state: LocationState,
): LocationEvent {
  const { locationId, ip, coordinates, country, networkType, deviceId } =
    command;
  const canonical = ip === '' ? '' : canonicalIp(ip);
  if (canonical === undefined) {
    invalid(`ip must be an IPv4 or IPv6 address, got ${show(ip)}`);
  }
  if (coordinates !== undefined) validateCoordinates(coordinates);
  limitText(country, 'country', LIMITS.country);
  limitText(deviceId, 'device_id', LIMITS.deviceId);
  if (NetworkType[networkType] === undefined) {
    invalid(`network_type ${networkType} is not a known network type`);
  }
  const toleranceM = command.toleranceM ?? DEFAULT_TOLERANCE_M;
  if (!(Number.isFinite(toleranceM) && toleranceM > 0)) {
    invalid(`tolerance_m must be a positive number, got ${toleranceM}`);
  }
  if (toleranceM > MAX_DISTANCE_M) {
    invalid(`tolerance_m must be at most ${MAX_DISTANCE_M} m`);
  }
  if (canonical === '' && coordinates === undefined && country.trim() === '') {
    invalid('a context needs at least one of ip, coordinates and country');
  }
  const location = active(state, locationId);
  const context = {
    ip: canonical,
    coordinates: coordinates && normalised(coordinates),
    country: country.trim(),
    networkType,
    deviceId,
    toleranceM,
  };
  const { result, indicators, distanceM } = assessContext(location, context);
  return event({
    case: 'validated',
    value: {
      locationId,
      result,
      riskIndicators: indicators,
      ...context,
      ...(distanceM !== undefined && { distanceM }),
    },
  });
}

function verifyHierarchy(
  { locationId, observedVersion, self, parentFacts }: VerifyLocationHierarchy,
  state: LocationState,
): LocationEvent[] {
  // A state older than the version the check was sent for is a stale cache
  // (another instance appended since): decide from the read model's facts,
  // which are at least that new. Should that decide to remove the link, the
  // append cannot match the stale stream position, so the runtime catches up
  // and decides again on the current state, where the checks below apply.
  const version = state.status === 'absent' ? 0 : state.version;
  if (BigInt(version) >= observedVersion) {
    const location = active(state, locationId);
    // A read model that holds another parent than the aggregate is behind
    // it; the check that the newer link triggered decides instead.
    if (location.parentId === '' || self?.parentId !== location.parentId) {
      return [];
    }
  } else if (self?.archived === true) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `location ${show(locationId)} is archived and accepts no changes`,
    );
  }
  if (self === undefined || self.locationId !== locationId) return [];
  const cycle = closedCycle(self, parentFacts);
  if (cycle === undefined) return [];
  return [
    event({
      case: 'parentRemoved',
      value: {
        locationId,
        formerParentId: self.parentId,
        cause: ParentRemovalCause.CYCLE,
        cycle,
      },
    }),
  ];
}
