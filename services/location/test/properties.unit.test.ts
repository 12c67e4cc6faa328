import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  EARTH_RADIUS_M,
  MAX_DISTANCE_M,
  canonicalIp,
  haversineDistance,
  haversineMetres,
  initialBearing,
} from '../src/domain/index.js';
import { SortedIds } from '../src/sorted-ids.js';
import { SpatialIndex, capBoxes } from '../src/spatial-index.js';

/** Positions on a 1e-6° grid, so distinct positions are never closer than rounding can tell apart. */
const MICRO = 1_000_000;
const micro = (max: number) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.integer({ min: -max * MICRO, max: max * MICRO }),
    },
    // The edges, where one place has several spellings.
    { weight: 1, arbitrary: fc.constantFrom(-max * MICRO, max * MICRO) },
    { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
  );
const position = fc
  .record({ lat: micro(90), lon: micro(180) })
  .map(({ lat, lon }) => ({ latitude: lat / MICRO, longitude: lon / MICRO }));

/** The same place: a pole at any longitude, or the antimeridian from either side. */
function samePlace(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
): boolean {
  if (a.latitude !== b.latitude) return false;
  if (Math.abs(a.latitude) === 90) return true;
  return (
    a.longitude === b.longitude ||
    (Math.abs(a.longitude) === 180 && Math.abs(b.longitude) === 180)
  );
}

/** Positions clustered where search boxes are hardest: poles, the antimeridian, the equator, and anywhere. */
const hardPosition = fc.oneof(
  position,
  fc.record({
    latitude: fc.double({ min: 85, max: 90, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
  }),
  fc.record({
    latitude: fc.double({ min: -90, max: -85, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
  }),
  fc.record({
    latitude: fc.double({ min: -60, max: 60, noNaN: true }),
    longitude: fc.oneof(
      fc.double({ min: 175, max: 180, noNaN: true }),
      fc.double({ min: -180, max: -175, noNaN: true }),
    ),
  }),
  fc.record({
    latitude: fc.double({ min: -1, max: 1, noNaN: true }),
    longitude: fc.double({ min: -1, max: 1, noNaN: true }),
  }),
);

const radius = fc.oneof(
  fc.double({ min: 1, max: 1000, noNaN: true }),
  fc.double({ min: 1000, max: 1_000_000, noNaN: true }),
  fc.double({ min: 1_000_000, max: MAX_DISTANCE_M, noNaN: true }),
);

type Point = { id: string; latitude: number; longitude: number };

function scanNearby(points: readonly Point[], c: Point, r: number): string[] {
  return points
    .map((p) => ({
      id: p.id,
      d: haversineMetres(c.latitude, c.longitude, p.latitude, p.longitude),
    }))
    .filter((p) => p.d <= r)
    .sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((p) => p.id);
}

function scanBox(
  points: readonly Point[],
  south: number,
  west: number,
  north: number,
  east: number,
): string[] {
  return points
    .filter(
      (p) =>
        p.latitude >= south &&
        p.latitude <= north &&
        (west <= east
          ? p.longitude >= west && p.longitude <= east
          : p.longitude >= west || p.longitude <= east),
    )
    .map((p) => p.id)
    .sort();
}

const pointsArb = fc
  .array(hardPosition, { maxLength: 300 })
  .map((ps) => ps.map((p, i) => ({ id: `p${i}`, ...p })));

function indexOf(points: readonly Point[]): SpatialIndex {
  const index = new SpatialIndex();
  for (const p of points) index.set(p.id, p.latitude, p.longitude);
  return index;
}

describe('geometry', () => {
  it('measures the same distance both ways', () => {
    fc.assert(
      fc.property(position, position, (a, b) => {
        expect(haversineDistance(a, b)).toBe(haversineDistance(b, a));
      }),
    );
  });

  it('measures 0 exactly for the same place and more than 0 otherwise', () => {
    fc.assert(
      fc.property(position, position, (a, b) => {
        expect(haversineDistance(a, a)).toBe(0);
        expect(haversineDistance(a, b) === 0).toBe(samePlace(a, b));
      }),
      { numRuns: 2000 },
    );
    expect(
      haversineDistance(
        { latitude: 90, longitude: 10 },
        { latitude: 90, longitude: -170 },
      ),
    ).toBe(0);
  });

  it('keeps the triangle inequality within rounding', () => {
    // Haversine is ill-conditioned near antipodes: asin(√h) with h ≈ 1 turns
    // a rounding of 1e-16 in h into about 0.2 m, so allow 1 m.
    fc.assert(
      fc.property(position, position, position, (a, b, c) => {
        expect(haversineDistance(a, c)).toBeLessThanOrEqual(
          haversineDistance(a, b) + haversineDistance(b, c) + 1,
        );
      }),
      { numRuns: 5000 },
    );
    // The counterexample that needs it: b lies on the meridian between a and c.
    const a = { latitude: 89.973806, longitude: 0 };
    const b = { latitude: 0, longitude: 0 };
    const c = { latitude: -90, longitude: 0 };
    expect(
      Math.abs(
        haversineDistance(a, c) -
          haversineDistance(a, b) -
          haversineDistance(b, c),
      ),
    ).toBeLessThan(1);
  });

  it('never exceeds half the circumference', () => {
    fc.assert(
      fc.property(position, position, (a, b) => {
        const d = haversineDistance(a, b);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(MAX_DISTANCE_M);
      }),
    );
    expect(
      haversineDistance(
        { latitude: 0, longitude: 0 },
        { latitude: 0, longitude: 180 },
      ),
    ).toBeCloseTo(Math.PI * EARTH_RADIUS_M, 3);
  });

  it('gives bearings in [0, 360)', () => {
    fc.assert(
      fc.property(hardPosition, hardPosition, (a, b) => {
        const bearing = initialBearing(a, b);
        expect(bearing).toBeGreaterThanOrEqual(0);
        expect(bearing).toBeLessThan(360);
      }),
    );
  });

  it('knows the compass and a famous distance', () => {
    const origin = { latitude: 0, longitude: 0 };
    expect(initialBearing(origin, { latitude: 1, longitude: 0 })).toBeCloseTo(
      0,
      9,
    );
    expect(initialBearing(origin, { latitude: 0, longitude: 1 })).toBeCloseTo(
      90,
      9,
    );
    expect(initialBearing(origin, { latitude: -1, longitude: 0 })).toBeCloseTo(
      180,
      9,
    );
    expect(initialBearing(origin, { latitude: 0, longitude: -1 })).toBeCloseTo(
      270,
      9,
    );
    const london = { latitude: 51.5074, longitude: -0.1278 };
    const paris = { latitude: 48.8566, longitude: 2.3522 };
    expect(haversineDistance(london, paris) / 1000).toBeCloseTo(343.56, 1);
    expect(initialBearing(london, paris)).toBeCloseTo(148.1, 1);
  });
});

describe('spatial index', () => {
  it('finds exactly what a scan finds within a radius, in the same order', () => {
    fc.assert(
      fc.property(pointsArb, hardPosition, radius, (points, centre, r) => {
        const found = indexOf(points)
          .nearby(centre.latitude, centre.longitude, r)
          .map((p) => p.id);
        expect(found).toEqual(scanNearby(points, { id: 'c', ...centre }, r));
      }),
      { numRuns: 300 },
    );
  });

  it('finds points just inside and just outside the radius as a scan does', () => {
    // Points placed on the search circle itself, where rounding decides.
    fc.assert(
      fc.property(
        hardPosition,
        fc.oneof(
          fc.double({ min: 1, max: 5_000_000, noNaN: true }),
          fc.double({ min: 5_000_000, max: MAX_DISTANCE_M - 1, noNaN: true }),
        ),
        (centre, r) => {
          const points: Point[] = [];
          for (let i = 0; i < 72; i++) {
            const delta = r / EARTH_RADIUS_M;
            const theta = (i * 5 * Math.PI) / 180;
            const phi1 = (centre.latitude * Math.PI) / 180;
            const lambda1 = (centre.longitude * Math.PI) / 180;
            const phi2 = Math.asin(
              Math.sin(phi1) * Math.cos(delta) +
                Math.cos(phi1) * Math.sin(delta) * Math.cos(theta),
            );
            const lambda2 =
              lambda1 +
              Math.atan2(
                Math.sin(theta) * Math.sin(delta) * Math.cos(phi1),
                Math.cos(delta) - Math.sin(phi1) * Math.sin(phi2),
              );
            const lon = (((lambda2 * 180) / Math.PI + 540) % 360) - 180;
            points.push({
              id: `q${i}`,
              latitude: (phi2 * 180) / Math.PI,
              longitude: lon,
            });
          }
          const found = indexOf(points)
            .nearby(centre.latitude, centre.longitude, r)
            .map((p) => p.id);
          expect(found).toEqual(scanNearby(points, { id: 'c', ...centre }, r));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('finds exactly what a scan finds inside a box, across the antimeridian too', () => {
    const lat = fc.double({ min: -90, max: 90, noNaN: true });
    const lon = fc.double({ min: -180, max: 180, noNaN: true });
    fc.assert(
      fc.property(pointsArb, lat, lat, lon, lon, (points, s, n, w, e) => {
        const [south, north] = s <= n ? [s, n] : [n, s];
        const found: string[] = [];
        indexOf(points).searchBox(south, w, north, e, (id) => found.push(id));
        expect(found.sort()).toEqual(scanBox(points, south, w, north, e));
      }),
      { numRuns: 300 },
    );
  });

  it('stays equal to a scan through moves and removals', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        id: fc.nat(40),
        at: hardPosition,
      }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.nat(40) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 400 }),
        hardPosition,
        radius,
        (ops, centre, r) => {
          const index = new SpatialIndex();
          const model = new Map<string, Point>();
          for (const o of ops) {
            const id = `p${o.id}`;
            if (o.kind === 'set') {
              index.set(id, o.at.latitude, o.at.longitude);
              model.set(id, { id, ...o.at });
            } else {
              expect(index.delete(id)).toBe(model.delete(id));
            }
          }
          expect(index.size).toBe(model.size);
          const points = [...model.values()];
          expect(
            index.nearby(centre.latitude, centre.longitude, r).map((p) => p.id),
          ).toEqual(scanNearby(points, { id: 'c', ...centre }, r));
          const all: string[] = [];
          index.searchBox(-90, -180, 90, 180, (id) => all.push(id));
          expect(all.sort()).toEqual(points.map((p) => p.id).sort());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds many coincident points without splitting forever', () => {
    const index = new SpatialIndex();
    for (let i = 0; i < 500; i++) index.set(`same${i}`, 10, 20);
    expect(index.nearby(10, 20, 1)).toHaveLength(500);
    for (let i = 0; i < 500; i += 2) index.delete(`same${i}`);
    expect(index.nearby(10, 20, 1)).toHaveLength(250);
  });

  it('widens the search box to every longitude when the cap holds a pole', () => {
    expect(capBoxes(89.9, 0, 20_000)).toEqual([
      expect.objectContaining({ west: -180, east: 180, north: 90 }),
    ]);
    expect(capBoxes(0, 179.9, 50_000)).toHaveLength(2);
    expect(capBoxes(10, 20, MAX_DISTANCE_M)[0]).toMatchObject({
      south: -90,
      north: 90,
      west: -180,
      east: 180,
    });
  });
});

describe('sorted ids', () => {
  it('keeps the order and membership of a sorted set through adds and deletes', () => {
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 }));
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        (ops, from) => {
          const ids = new SortedIds();
          const model = new Set<string>();
          for (const [add, n] of ops) {
            const id = `id${n}`;
            if (add)
              expect(ids.add(id)).toBe(
                !model.has(id) && Boolean(model.add(id)),
              );
            else expect(ids.delete(id)).toBe(model.delete(id));
          }
          const sorted = [...model].sort();
          expect(ids.size).toBe(model.size);
          expect([...ids.from()]).toEqual(sorted);
          const after = `id${from}`;
          expect([...ids.from(after)]).toEqual(
            sorted.filter((id) => id > after),
          );
          for (const id of sorted.slice(0, 20)) expect(ids.has(id)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('IP addresses', () => {
  it('reads one canonical form for every spelling of an IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const canonical = canonicalIp(ip);
        expect(canonical).toBeDefined();
        expect(canonical!.split(':')).toHaveLength(8);
        expect(canonicalIp(canonical!)).toBe(canonical);
        expect(canonicalIp(ip.toUpperCase())).toBe(canonical);
      }),
    );
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('0:0:0:0:0:ffff:c000:201');
    expect(canonicalIp('2001:db8::')).toBe('2001:db8:0:0:0:0:0:0');
  });

  it('accepts IPv4 addresses and refuses what is neither', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(canonicalIp(ip)).toBe(ip);
      }),
    );
    for (const bad of [
      '',
      '1.2.3',
      '01.2.3.4',
      '256.1.1.1',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%eth0',
      ':1::',
      'g::1',
      '1.2.3.4::',
    ])
      expect(canonicalIp(bad)).toBeUndefined();
  });
});
