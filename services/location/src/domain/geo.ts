/** Mean Earth radius used for every distance, metres (a sphere, as haversine assumes). */
export const EARTH_RADIUS_M = 6_371_000;

/** The largest distance between two points on that sphere: half its circumference, metres. */
export const MAX_DISTANCE_M = Math.PI * EARTH_RADIUS_M;

/** A position in degrees: latitude in [-90, 90], longitude in [-180, 180]. */
export interface LatLon {
  readonly latitude: number;
  readonly longitude: number;
}

const RAD = Math.PI / 180;

/**
 * Great-circle distance in metres by the haversine formula on a sphere of
 * radius EARTH_RADIUS_M. Symmetric, 0 for the same point, and at most
 * MAX_DISTANCE_M; the haversine term is clamped to 1 so that rounding near
 * antipodes cannot produce NaN.
 */
export function haversineDistance(a: LatLon, b: LatLon): number {
  return haversineMetres(a.latitude, a.longitude, b.latitude, b.longitude);
}

/** haversineDistance on bare degrees, for loops over many points without allocating. */
export function haversineMetres(
  lat1: number,
  lon1: number,
  lat2: number,
  lon2: number,
): number {
  const phi1 = lat1 * RAD;
  const phi2 = lat2 * RAD;
  // Longitudes 360° apart (180 and -180) are one meridian: fold the difference
  // into [-180, 180] so their distance comes out exactly 0, not sin(π) ≈ 1e-16.
  let dLon = lon2 - lon1;
  if (dLon > 180) dLon -= 360;
  else if (dLon < -180) dLon += 360;
  const sinDphi = Math.sin((phi2 - phi1) / 2);
  const sinDlambda = Math.sin((dLon * RAD) / 2);
  // cos(90°) rounds to 6e-17, not 0: at a pole every longitude is one point.
  const cos1 = Math.abs(lat1) === 90 ? 0 : Math.cos(phi1);
  const cos2 = Math.abs(lat2) === 90 ? 0 : Math.cos(phi2);
  const h = sinDphi * sinDphi + cos1 * cos2 * sinDlambda * sinDlambda;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(Math.min(1, h)));
}

/**
 * The initial great-circle bearing from `from` towards `to`, degrees
 * clockwise from north in [0, 360) (the atan2 form); 0 when the points
 * coincide.
 */
export function initialBearing(from: LatLon, to: LatLon): number {
  const phi1 = from.latitude * RAD;
  const phi2 = to.latitude * RAD;
  const dLambda = (to.longitude - from.longitude) * RAD;
  const y = Math.sin(dLambda) * Math.cos(phi2);
  const x =
    Math.cos(phi1) * Math.sin(phi2) -
    Math.sin(phi1) * Math.cos(phi2) * Math.cos(dLambda);
  const degrees = Math.atan2(y, x) / RAD;
  // A tiny negative angle plus 360 can round to exactly 360: fold it back to 0.
  const normalised = (degrees + 360) % 360;
  return normalised === 360 ? 0 : normalised;
}

/** True when latitude and longitude are finite and within their ranges. */
export function isValidPosition({ latitude, longitude }: LatLon): boolean {
  return (
    Number.isFinite(latitude) &&
    Number.isFinite(longitude) &&
    latitude >= -90 &&
    latitude <= 90 &&
    longitude >= -180 &&
    longitude <= 180
  );
}
