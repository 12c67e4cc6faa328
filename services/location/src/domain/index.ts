import type { Decider } from '@cim/kernel';
import type {
  LocationCommand,
  LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type LocationState } from './state.js';

/** The location aggregate: one place, its attributes and its parent link (domains.md §2.11). */
export const locationDecider: Decider<
  LocationState,
  LocationCommand,
  LocationEvent
> = {
  initialState,
  decide,
  evolve,
};

export { DEFAULT_TOLERANCE_M } from './decide.js';
export { updated } from './evolve.js';
export {
  EARTH_RADIUS_M,
  MAX_DISTANCE_M,
  haversineDistance,
  haversineMetres,
  initialBearing,
  isValidPosition,
} from './geo.js';
export type { LatLon } from './geo.js';
export { canonicalIp } from './ip.js';
export { LIMITS, addressProblems, isKnownType } from './rules.js';
export type { LocationData, LocationState, PresentLocation } from './state.js';
