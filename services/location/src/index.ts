export { locationService } from './service.js';
export {
  EARTH_RADIUS_M,
  MAX_DISTANCE_M,
  haversineDistance,
  haversineMetres,
  initialBearing,
  locationDecider,
} from './domain/index.js';
export type { LatLon, LocationState } from './domain/index.js';
export { project } from './projection.js';
export type { LocationRow } from './projection.js';
export { LocationReadModel } from './read-model.js';
export { locationQueries } from './queries.js';
export { SpatialIndex, capBoxes } from './spatial-index.js';
export type { NearbyPoint } from './spatial-index.js';
