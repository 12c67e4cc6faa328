import {
  invalid,
  limitText,
  requireFinite,
  requireText,
  show,
} from '@cim/kernel';
import {
  LocationType,
  type Address,
  type Coordinates,
  type VirtualLocation,
} from '@cim/proto/cim/location/v1/location_pb';
import { canonicalIp } from './ip.js';

/** Size limits on what a command may carry. */
export const LIMITS = {
  name: 200,
  addressPart: 200,
  country: 100,
  postalCode: 32,
  identifier: 500,
  label: 200,
  url: 2048,
  urls: 50,
  ipAddresses: 50,
  ports: 50,
  metadataKey: 128,
  metadataValue: 1000,
  metadataEntries: 256,
  reason: 1000,
  deviceId: 200,
  /** Links an ancestry may hold; a hierarchy deeper than this is refused. */
  hierarchyDepth: 256,
} as const;

/** The only coordinate system; an empty system means it. */
export const WGS84 = 'WGS84';

/** True for the four concrete location types. */
export function isKnownType(type: LocationType): boolean {
  return type !== LocationType.UNSPECIFIED && LocationType[type] !== undefined;
}

/** The type's name for messages: `physical`, `virtual`, ... */
export function typeName(type: LocationType): string {
  return (LocationType[type] ?? String(type)).toLowerCase();
}

/**
 * Every problem of an address, one sentence each (empty when valid): each
 * part but street2 is required and not blank, and every part fits its limit.
 * ValidateAddress answers with the list; commands throw the first.
 */
export function addressProblems(address: Address, field = 'address'): string[] {
  const problems: string[] = [];
  const parts: ReadonlyArray<[string, string, number, boolean]> = [
    ['street1', address.street1, LIMITS.addressPart, true],
    ['street2', address.street2, LIMITS.addressPart, false],
    ['locality', address.locality, LIMITS.addressPart, true],
    ['region', address.region, LIMITS.addressPart, true],
    ['country', address.country, LIMITS.country, true],
    ['postal_code', address.postalCode, LIMITS.postalCode, true],
  ];
  for (const [name, value, max, required] of parts) {
    if (required && value.trim() === '') {
      problems.push(`${field}.${name} must not be blank`);
    } else if (value.length > max) {
      problems.push(
        `${field}.${name} must be at most ${max} characters, got ${value.length}`,
      );
    }
  }
  return problems;
}

/** Throws VALIDATION_FAILED for the first problem of an address. */
export function validateAddress(address: Address, field = 'address'): void {
  const [first] = addressProblems(address, field);
  if (first !== undefined) invalid(first);
}

/** Latitude in [-90, 90], longitude in [-180, 180], a finite altitude, and the WGS84 system. */
export function validateCoordinates(
  { latitude, longitude, altitude, system }: Coordinates,
  field = 'coordinates',
): void {
  if (!(Number.isFinite(latitude) && latitude >= -90 && latitude <= 90)) {
    invalid(`${field}.latitude must be within [-90, 90], got ${latitude}`);
  }
  if (!(Number.isFinite(longitude) && longitude >= -180 && longitude <= 180)) {
    invalid(`${field}.longitude must be within [-180, 180], got ${longitude}`);
  }
  if (altitude !== undefined) requireFinite(altitude, `${field}.altitude`);
  if (system !== '' && system.toUpperCase() !== WGS84) {
    invalid(`${field}.system must be ${WGS84}, got ${show(system)}`);
  }
}

const URL_SHAPE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#]+\S*$/;

/** The virtual details: a kind, a primary identifier, absolute URLs and valid IP addresses with ports. */
export function validateVirtual(
  virtual: VirtualLocation,
  field = 'virtual',
): void {
  const { kind } = virtual;
  switch (kind.case) {
    case undefined:
      invalid(`${field}.kind is required`);
      break;
    case 'cloudService':
      requireText(
        kind.value.provider,
        `${field}.cloud_service.provider`,
        LIMITS.label,
      );
      limitText(
        kind.value.region,
        `${field}.cloud_service.region`,
        LIMITS.label,
      );
      break;
    case 'container':
      requireText(
        kind.value.orchestrator,
        `${field}.container.orchestrator`,
        LIMITS.label,
      );
      limitText(
        kind.value.namespace,
        `${field}.container.namespace`,
        LIMITS.label,
      );
      break;
    case 'meetingRoom':
      requireText(
        kind.value.platform,
        `${field}.meeting_room.platform`,
        LIMITS.label,
      );
      break;
    case 'website':
    case 'apiEndpoint':
    case 'virtualMachine':
    case 'networkDevice':
      break;
  }
  requireText(
    virtual.primaryIdentifier,
    `${field}.primary_identifier`,
    LIMITS.identifier,
  );
  if (virtual.urls.length > LIMITS.urls) {
    invalid(`${field}.urls must hold at most ${LIMITS.urls} URLs`);
  }
  virtual.urls.forEach((url, i) => {
    if (url.length > LIMITS.url || !URL_SHAPE.test(url)) {
      invalid(`${field}.urls[${i}] must be an absolute URL, got ${show(url)}`);
    }
  });
  if (virtual.ipAddresses.length > LIMITS.ipAddresses) {
    invalid(
      `${field}.ip_addresses must hold at most ${LIMITS.ipAddresses} addresses`,
    );
  }
  virtual.ipAddresses.forEach(({ address, ports }, i) => {
    if (canonicalIp(address) === undefined) {
      invalid(
        `${field}.ip_addresses[${i}].address must be an IPv4 or IPv6 address, got ${show(address)}`,
      );
    }
    if (ports.length > LIMITS.ports) {
      invalid(
        `${field}.ip_addresses[${i}].ports must hold at most ${LIMITS.ports} ports`,
      );
    }
    ports.forEach((port, j) => {
      if (port < 1 || port > 65535) {
        invalid(
          `${field}.ip_addresses[${i}].ports[${j}] must be within [1, 65535], got ${port}`,
        );
      }
    });
  });
}

/** Metadata entries: keys not blank and at most 128 characters, values at most 1000, at most 256 entries. */
export function validateMetadata(
  entries: Readonly<Record<string, string>>,
  field: string,
): void {
  const keys = Object.keys(entries);
  if (keys.length > LIMITS.metadataEntries) {
    invalid(
      `${field} must hold at most ${LIMITS.metadataEntries} entries, got ${keys.length}`,
    );
  }
  for (const key of keys) {
    if (key.trim() === '') invalid(`${field} keys must not be blank`);
    if (key.length > LIMITS.metadataKey) {
      invalid(
        `${field} key ${show(key)} must be at most ${LIMITS.metadataKey} characters`,
      );
    }
    limitText(
      entries[key] ?? '',
      `${field}[${show(key)}]`,
      LIMITS.metadataValue,
    );
  }
}

/** Which attributes a location has, for the type rules. */
export interface Attributes {
  readonly address: boolean;
  readonly coordinates: boolean;
  readonly virtual: boolean;
}

/**
 * The first rule of the location type that the attributes break, or
 * undefined: physical needs an address or coordinates and no virtual
 * details; virtual needs virtual details and no address or coordinates;
 * logical takes coordinates only; hybrid needs virtual details and an
 * address or coordinates.
 */
export function typeRuleBroken(
  type: LocationType,
  { address, coordinates, virtual }: Attributes,
): string | undefined {
  const name = typeName(type);
  switch (type) {
    case LocationType.PHYSICAL:
      if (virtual) return `a ${name} location cannot have virtual details`;
      if (!address && !coordinates)
        return `a ${name} location needs an address or coordinates`;
      return undefined;
    case LocationType.VIRTUAL:
      if (address) return `a ${name} location cannot have an address`;
      if (coordinates) return `a ${name} location cannot have coordinates`;
      if (!virtual) return `a ${name} location needs virtual details`;
      return undefined;
    case LocationType.LOGICAL:
      if (address) return `a ${name} location cannot have an address`;
      if (virtual) return `a ${name} location cannot have virtual details`;
      return undefined;
    case LocationType.HYBRID:
      if (!virtual) return `a ${name} location needs virtual details`;
      if (!address && !coordinates)
        return `a ${name} location needs an address or coordinates`;
      return undefined;
    default:
      return `location type ${type} is not a known type`;
  }
}
