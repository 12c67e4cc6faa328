import { create } from '@bufbuild/protobuf';
import {
  NetworkType,
  RiskIndicatorSchema,
  RiskSeverity,
  ValidationResult,
  type Coordinates,
  type RiskIndicator,
} from '@cim/proto/cim/location/v1/location_pb';
import { haversineDistance } from './geo.js';
import { canonicalIp } from './ip.js';
import type { LocationData } from './state.js';

/** The access context ValidateLocationContext checks, already validated. */
export interface AccessContext {
  /** Canonical (canonicalIp), or empty. */
  readonly ip: string;
  readonly coordinates: Coordinates | undefined;
  readonly country: string;
  readonly networkType: NetworkType;
  readonly deviceId: string;
  readonly toleranceM: number;
}

/** The verdict on one context. */
export interface Assessment {
  readonly result: ValidationResult;
  readonly indicators: RiskIndicator[];
  readonly distanceM: number | undefined;
}

const indicator = (
  code: string,
  severity: RiskSeverity,
  detail: string,
): RiskIndicator => create(RiskIndicatorSchema, { code, severity, detail });

const kilometres = (m: number): string => `${(m / 1000).toFixed(3)} km`;

/**
 * Compares a context with what the location records. High: coordinates
 * farther than the tolerance, a country other than the address's, Tor.
 * Medium: an IP the location does not list, a VPN or proxy. Low: what
 * cannot be checked (no coordinates, address or IP list on the location)
 * and a missing device id. Any high makes the result INVALID, any medium
 * SUSPICIOUS, otherwise VALID.
 */
export function assessContext(
  location: LocationData,
  context: AccessContext,
): Assessment {
  const found: RiskIndicator[] = [];
  let distanceM: number | undefined;
  if (context.coordinates !== undefined) {
    if (location.coordinates === undefined) {
      found.push(
        indicator(
          'coordinates_unverifiable',
          RiskSeverity.LOW,
          'the location has no coordinates',
        ),
      );
    } else {
      distanceM = haversineDistance(location.coordinates, context.coordinates);
      if (distanceM > context.toleranceM) {
        found.push(
          indicator(
            'coordinates_far',
            RiskSeverity.HIGH,
            `${kilometres(distanceM)} from the location, tolerance ${kilometres(context.toleranceM)}`,
          ),
        );
      }
    }
  }
  if (context.country !== '') {
    const recorded = location.address?.country ?? '';
    if (recorded === '') {
      found.push(
        indicator(
          'country_unverifiable',
          RiskSeverity.LOW,
          'the location has no address',
        ),
      );
    } else if (
      recorded.trim().toLowerCase() !== context.country.trim().toLowerCase()
    ) {
      found.push(
        indicator(
          'country_mismatch',
          RiskSeverity.HIGH,
          `context country ${JSON.stringify(context.country)}, location country ${JSON.stringify(recorded)}`,
        ),
      );
    }
  }
  if (context.ip !== '') {
    const listed = (location.virtual?.ipAddresses ?? []).map(({ address }) =>
      canonicalIp(address),
    );
    if (listed.length === 0) {
      found.push(
        indicator(
          'ip_unverifiable',
          RiskSeverity.LOW,
          'the location lists no IP addresses',
        ),
      );
    } else if (!listed.includes(context.ip)) {
      found.push(
        indicator(
          'ip_not_listed',
          RiskSeverity.MEDIUM,
          `${context.ip} is not one of the location's ${listed.length} address(es)`,
        ),
      );
    }
  }
  switch (context.networkType) {
    case NetworkType.TOR:
      found.push(
        indicator('anonymizing_network', RiskSeverity.HIGH, 'seen through Tor'),
      );
      break;
    case NetworkType.VPN:
    case NetworkType.PROXY:
      found.push(
        indicator(
          'anonymizing_network',
          RiskSeverity.MEDIUM,
          `seen through a ${context.networkType === NetworkType.VPN ? 'VPN' : 'proxy'}`,
        ),
      );
      break;
    default:
      break;
  }
  if (context.deviceId === '') {
    found.push(
      indicator('unknown_device', RiskSeverity.LOW, 'no device id given'),
    );
  }
  const has = (severity: RiskSeverity): boolean =>
    found.some((i) => i.severity === severity);
  return {
    result: has(RiskSeverity.HIGH)
      ? ValidationResult.INVALID
      : has(RiskSeverity.MEDIUM)
        ? ValidationResult.SUSPICIOUS
        : ValidationResult.VALID,
    indicators: found,
    distanceM,
  };
}
