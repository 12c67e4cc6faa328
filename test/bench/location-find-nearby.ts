import { performance } from 'node:perf_hooks';
import { SpatialIndex, haversineMetres, type NearbyPoint } from '@cim/location';
import { compared, informational, type Benchmark } from './benchmark.js';
import { summarize } from './stats.js';

const FULL = { points: 1_000_000, queries: 60, warmUp: 3 };
const QUICK = { points: 100_000, queries: 30, warmUp: 3 };
/** Untimed index searches first: the scan's one long loop is optimised within its first call, the index's short calls need many to get there. */
const INDEX_WARM_UP = 5_000;

/** The search radius of every query, metres: a "what is near me" search. */
const RADIUS_M = 10_000;
/** Towns the clustered points gather around; the rest lie anywhere on Earth. */
const TOWNS = 200;
const CLUSTERED = 0.7;
/** Every how many queries the index's answer is checked against the scan's. */
const CHECK_EVERY = 3;

/** A small deterministic generator (mulberry32), so every run searches the same points. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Points {
  readonly ids: string[];
  readonly lats: Float64Array;
  readonly lons: Float64Array;
}

/** Points uniform on the sphere, or scattered (about 50 km) around towns that are themselves uniform. */
function generate(count: number, next: () => number): Points {
  const uniform = (): [number, number] => [
    (Math.asin(2 * next() - 1) * 180) / Math.PI,
    next() * 360 - 180,
  ];
  const towns = Array.from({ length: TOWNS }, () => {
    const [lat, lon] = uniform();
    return [Math.max(-80, Math.min(80, lat)), lon] as const;
  });
  const ids: string[] = [];
  const lats = new Float64Array(count);
  const lons = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let lat: number;
    let lon: number;
    if (next() < CLUSTERED) {
      const [tLat, tLon] = towns[Math.floor(next() * TOWNS)]!;
      // Roughly normal offsets (sum of three uniforms), σ ≈ 0.45° ≈ 50 km.
      const offset = () => (next() + next() + next() - 1.5) * 0.9;
      lat = Math.max(-90, Math.min(90, tLat + offset()));
      lon = tLon + offset() / Math.cos((tLat * Math.PI) / 180);
      lon = lon > 180 ? lon - 360 : lon < -180 ? lon + 360 : lon;
    } else {
      [lat, lon] = uniform();
    }
    ids.push(`loc-${i}`);
    lats[i] = lat;
    lons[i] = lon;
  }
  return { ids, lats, lons };
}

/** The baseline: every point measured, the same ordering as the index (distance, then id). */
function scan(
  points: Points,
  lat: number,
  lon: number,
  radiusM: number,
): NearbyPoint[] {
  const found: NearbyPoint[] = [];
  const { ids, lats, lons } = points;
  for (let i = 0; i < lats.length; i++) {
    const distanceM = haversineMetres(lat, lon, lats[i]!, lons[i]!);
    if (distanceM <= radiusM)
      found.push({
        id: ids[i]!,
        latitude: lats[i]!,
        longitude: lons[i]!,
        distanceM,
      });
  }
  return found.sort(
    (a, b) =>
      a.distanceM - b.distanceM || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * FindNearby's core over 1,000,000 locations (100,000 quick), in this
 * process: the read model's spatial index against a linear scan with the
 * same haversine, on the same query points (near existing locations, as
 * "near me" searches are) and the same 10 km radius. The two alternate
 * query by query, so drift on the machine hits both alike; every third
 * answer is checked equal. Reports the scan's p50 over the index's as the
 * index's speed-up, target ≥ 50×.
 */
export const locationFindNearby: Benchmark = {
  name: 'location-find-nearby',
  run({ quick, note }) {
    const counts = quick ? QUICK : FULL;
    const next = random(0x10ca7e);

    // 1. The points, and the index built from them as the projection would, one insert each.
    const points = generate(counts.points, next);
    const index = new SpatialIndex();
    const built = performance.now();
    for (let i = 0; i < counts.points; i++)
      index.set(points.ids[i]!, points.lats[i]!, points.lons[i]!);
    const buildSeconds = (performance.now() - built) / 1000;
    note(
      `index of ${counts.points} points built in ${buildSeconds.toFixed(2)} s`,
    );

    // 2. Query points: existing locations, moved up to ~5 km.
    const queries = Array.from(
      { length: counts.warmUp + counts.queries },
      () => {
        const at = Math.floor(next() * counts.points);
        return [
          Math.max(-90, Math.min(90, points.lats[at]! + (next() - 0.5) * 0.09)),
          points.lons[at]!,
        ] as const;
      },
    );

    // 3. Alternate index and scan per query; warm-up queries are not timed.
    for (let i = 0; i < INDEX_WARM_UP; i++) {
      const at = Math.floor(next() * counts.points);
      index.nearby(points.lats[at]!, points.lons[at]!, RADIUS_M);
    }
    const indexMs: number[] = [];
    const scanMs: number[] = [];
    let found = 0;
    queries.forEach(([lat, lon], q) => {
      let started = performance.now();
      const fromIndex = index.nearby(lat, lon, RADIUS_M);
      const indexTook = performance.now() - started;
      started = performance.now();
      const fromScan = scan(points, lat, lon, RADIUS_M);
      const scanTook = performance.now() - started;
      if (q % CHECK_EVERY === 0) {
        const a = fromIndex.map((p) => p.id).join(',');
        const b = fromScan.map((p) => p.id).join(',');
        if (a !== b)
          throw new Error(
            `query ${q} at (${lat}, ${lon}): the index found ${fromIndex.length} points, the scan ${fromScan.length}`,
          );
      }
      if (q < counts.warmUp) return;
      indexMs.push(indexTook);
      scanMs.push(scanTook);
      found += fromIndex.length;
    });
    const byIndex = summarize(indexMs);
    const byScan = summarize(scanMs);
    const speedup = byScan.p50 / byIndex.p50;
    note(
      `p50 index ${(byIndex.p50 * 1000).toFixed(1)} us, scan ${byScan.p50.toFixed(2)} ms: ${speedup.toFixed(0)}x; ${(found / counts.queries).toFixed(1)} results per query`,
    );
    return Promise.resolve([
      compared('location-find-nearby-index-speedup', speedup, 'x', 1, '>=50'),
      informational('location-find-nearby-index-p50', byIndex.p50 * 1000, 'us'),
      informational('location-find-nearby-index-p99', byIndex.p99 * 1000, 'us'),
      informational('location-find-nearby-scan-p50', byScan.p50, 'ms'),
      informational(
        'location-find-nearby-results',
        found / counts.queries,
        'locations/query',
      ),
      informational(
        'location-index-build',
        counts.points / buildSeconds,
        'inserts/s',
      ),
    ]);
  },
};
