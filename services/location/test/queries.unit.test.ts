import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  ByTypeRequestSchema,
  FindNearbyRequestSchema,
  GetLocationRequestSchema,
  HierarchyRequestSchema,
  LocationType,
  ValidateAddressRequestSchema,
  ValidationResult,
  WithinBoundingBoxRequestSchema,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import { locationQueries } from '../src/queries.js';
import { LocationReadModel } from '../src/read-model.js';
import { Stream, address, coords, evt, virtualSite } from './fixtures.js';

const context = { position: 0n };

function codeOf(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (DomainError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

const CITIES: ReadonlyArray<[string, number, number]> = [
  ['berlin', 52.52, 13.405],
  ['potsdam', 52.3906, 13.0645],
  ['hamburg', 53.5511, 9.9937],
  ['paris', 48.8566, 2.3522],
  ['london', 51.5074, -0.1278],
  ['new-york', 40.7128, -74.006],
  ['suva', -18.1248, 178.4501],
  ['apia', -13.8333, -171.7667],
];

function cities(): Stream {
  const stream = new Stream();
  for (const [id, lat, lon] of CITIES)
    stream.define(id, { name: id, coordinates: coords(lat, lon) });
  return stream;
}

const queriesOf = (stream: Stream) => locationQueries(stream.model);

describe('location queries', () => {
  describe('GetLocation', () => {
    it('answers the row as a Location', () => {
      const stream = cities().append(
        'berlin',
        evt.metadataAdded({ k: 'v' }),
        evt.validated({
          locationId: 'berlin',
          result: ValidationResult.SUSPICIOUS,
        }),
      );
      const { location } = queriesOf(stream).getLocation(
        create(GetLocationRequestSchema, { locationId: 'berlin' }),
        context,
      ) as { location: Record<string, unknown> };
      expect(location).toMatchObject({
        locationId: 'berlin',
        name: 'berlin',
        locationType: LocationType.PHYSICAL,
        metadata: { k: 'v' },
        archived: false,
        version: 3n,
        lastValidationResult: ValidationResult.SUSPICIOUS,
      });
    });

    it('answers an unknown id with NOT_FOUND and a malformed one with VALIDATION_FAILED', () => {
      const queries = queriesOf(cities());
      expect(
        codeOf(() =>
          queries.getLocation(
            create(GetLocationRequestSchema, { locationId: 'nope' }),
            context,
          ),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        codeOf(() =>
          queries.getLocation(
            create(GetLocationRequestSchema, { locationId: 'a b' }),
            context,
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('FindNearby', () => {
    const nearby = (
      stream: Stream,
      f: Parameters<typeof create<typeof FindNearbyRequestSchema>>[1],
    ) =>
      queriesOf(stream).findNearby(
        create(FindNearbyRequestSchema, f),
        context,
      ) as {
        results: Array<{
          location: { locationId: string };
          distanceM: number;
          bearingDeg: number;
        }>;
        page: { nextPageToken: string; totalSize: bigint };
      };

    it('answers the locations within the radius, nearest first, with distance and bearing', () => {
      const answer = nearby(cities(), {
        latitude: 52.52,
        longitude: 13.405,
        radiusM: 300_000,
      });
      expect(answer.results.map((r) => r.location.locationId)).toEqual([
        'berlin',
        'potsdam',
        'hamburg',
      ]);
      const [berlin, potsdam, hamburg] = answer.results;
      expect(berlin!.distanceM).toBe(0);
      expect(potsdam!.distanceM / 1000).toBeCloseTo(27.19, 1);
      expect(potsdam!.bearingDeg).toBeGreaterThan(225);
      expect(potsdam!.bearingDeg).toBeLessThan(270);
      expect(hamburg!.distanceM / 1000).toBeCloseTo(255, -1);
      expect(answer.page).toEqual({ nextPageToken: '', totalSize: 3n });
    });

    it('finds across the antimeridian', () => {
      const answer = nearby(cities(), {
        latitude: -16,
        longitude: 179.9,
        radiusM: 1_500_000,
      });
      expect(answer.results.map((r) => r.location.locationId)).toEqual([
        'suva',
        'apia',
      ]);
    });

    it('filters by type and leaves archived locations out unless asked', () => {
      const stream = cities()
        .define('berlin-dc', {
          locationType: LocationType.HYBRID,
          coordinates: coords(52.5, 13.4),
          virtual: virtualSite(),
        })
        .append('potsdam', evt.archived('', 'potsdam'));
      const centre = { latitude: 52.52, longitude: 13.405, radiusM: 100_000 };
      expect(
        nearby(stream, {
          ...centre,
          locationType: LocationType.HYBRID,
        }).results.map((r) => r.location.locationId),
      ).toEqual(['berlin-dc']);
      expect(
        nearby(stream, centre).results.map((r) => r.location.locationId),
      ).toEqual(['berlin', 'berlin-dc']);
      expect(
        nearby(stream, { ...centre, includeArchived: true }).results.map(
          (r) => r.location.locationId,
        ),
      ).toEqual(['berlin', 'berlin-dc', 'potsdam']);
    });

    it('follows moves and removed coordinates', () => {
      const stream = cities()
        .append(
          'paris',
          evt.updated({
            locationId: 'paris',
            coordinates: coords(52.53, 13.41),
          }),
        )
        .append(
          'potsdam',
          evt.updated({ locationId: 'potsdam', coordinatesCleared: true }),
        );
      expect(
        nearby(stream, {
          latitude: 52.52,
          longitude: 13.405,
          radiusM: 50_000,
        }).results.map((r) => r.location.locationId),
      ).toEqual(['berlin', 'paris']);
    });

    it('pages by distance with tokens that resume where the page ended', () => {
      const stream = new Stream();
      for (let i = 0; i < 120; i++)
        stream.define(`p${String(i).padStart(3, '0')}`, {
          coordinates: coords(
            10 + (i % 7) * 0.001,
            20 + Math.floor(i / 7) * 0.001,
          ),
        });
      const everything = nearby(stream, {
        latitude: 10,
        longitude: 20,
        radiusM: 100_000,
        page: { pageSize: 500 },
      }).results.map((r) => r.location.locationId);
      const paged: string[] = [];
      let pageToken = '';
      do {
        const answer = nearby(stream, {
          latitude: 10,
          longitude: 20,
          radiusM: 100_000,
          page: { pageSize: 17, pageToken },
        });
        expect(answer.page.totalSize).toBe(120n);
        paged.push(...answer.results.map((r) => r.location.locationId));
        pageToken = answer.page.nextPageToken;
      } while (pageToken !== '');
      expect(paged).toEqual(everything);
      expect(everything).toHaveLength(120);
    });

    it.each([
      ['a latitude of 91', { latitude: 91, radiusM: 1 }],
      ['a NaN longitude', { longitude: Number.NaN, radiusM: 1 }],
      ['a radius of 0', { radiusM: 0 }],
      ['a radius beyond half the circumference', { radiusM: 2.1e7 }],
      ['an unknown type', { radiusM: 1, locationType: 9 as LocationType }],
      ['a forged page token', { radiusM: 1, page: { pageToken: 'bm9wZQ' } }],
    ])('answers %s with VALIDATION_FAILED', (_, f) => {
      expect(codeOf(() => nearby(cities(), f))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('WithinBoundingBox', () => {
    const within = (
      stream: Stream,
      f: Parameters<typeof create<typeof WithinBoundingBoxRequestSchema>>[1],
    ) =>
      queriesOf(stream).withinBoundingBox(
        create(WithinBoundingBoxRequestSchema, f),
        context,
      ) as {
        locations: Array<{ locationId: string }>;
        page: { nextPageToken: string; totalSize: bigint };
      };

    it('answers the locations inside the box, ordered by id', () => {
      const answer = within(cities(), {
        box: { south: 45, west: -5, north: 55, east: 15 },
      });
      expect(answer.locations.map((l) => l.locationId)).toEqual([
        'berlin',
        'hamburg',
        'london',
        'paris',
        'potsdam',
      ]);
    });

    it('reads west > east as a box across the antimeridian', () => {
      const answer = within(cities(), {
        box: { south: -20, west: 170, north: -10, east: -170 },
      });
      expect(answer.locations.map((l) => l.locationId)).toEqual([
        'apia',
        'suva',
      ]);
    });

    it('pages by id', () => {
      const first = within(cities(), {
        box: { south: -90, west: -180, north: 90, east: 180 },
        page: { pageSize: 5 },
      });
      const second = within(cities(), {
        box: { south: -90, west: -180, north: 90, east: 180 },
        page: { pageSize: 5, pageToken: first.page.nextPageToken },
      });
      expect(
        [...first.locations, ...second.locations].map((l) => l.locationId),
      ).toEqual(CITIES.map(([id]) => id).sort());
      expect(second.page).toEqual({ nextPageToken: '', totalSize: 8n });
    });

    it.each([
      ['no box', {}],
      ['south above north', { box: { south: 10, north: 0, west: 0, east: 1 } }],
      [
        'a longitude of 190',
        { box: { south: 0, north: 1, west: 0, east: 190 } },
      ],
    ])('answers %s with VALIDATION_FAILED', (_, f) => {
      expect(codeOf(() => within(cities(), f))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('Hierarchy', () => {
    const hierarchy = (
      stream: Stream,
      locationId: string,
      pageSize = 0,
      pageToken = '',
    ) =>
      queriesOf(stream).hierarchy(
        create(HierarchyRequestSchema, {
          locationId,
          page: { pageSize, pageToken },
        }),
        context,
      ) as {
        ancestors: Array<{ locationId: string }>;
        children: Array<{ locationId: string; archived: boolean }>;
        page: { nextPageToken: string; totalSize: bigint };
        descendantCount: bigint;
        cycleDetected: boolean;
        cycle: string[];
      };

    function campus(): Stream {
      const stream = new Stream()
        .define('campus')
        .define('hall', { parentId: 'campus' });
      for (const room of ['r3', 'r1', 'r2'])
        stream.define(room, { parentId: 'hall' });
      return stream.define('desk', { parentId: 'r1' });
    }

    it('answers ancestors nearest first, children by id, and every descendant', () => {
      const stream = campus();
      expect(
        hierarchy(stream, 'desk').ancestors.map((a) => a.locationId),
      ).toEqual(['r1', 'hall', 'campus']);
      const hall = hierarchy(stream, 'hall', 2);
      expect(hall.children.map((c) => c.locationId)).toEqual(['r1', 'r2']);
      expect(hall.page.totalSize).toBe(3n);
      expect(
        hierarchy(stream, 'hall', 2, hall.page.nextPageToken).children.map(
          (c) => c.locationId,
        ),
      ).toEqual(['r3']);
      expect(hierarchy(stream, 'campus').descendantCount).toBe(5n);
      expect(hierarchy(stream, 'campus').cycleDetected).toBe(false);
    });

    it('follows re-parenting, removal and archiving', () => {
      const stream = campus()
        .append('r2', evt.parentSet('campus', 'hall', 'r2'))
        .append('r3', evt.parentRemoved('hall', { locationId: 'r3' }))
        .append('desk', evt.archived('', 'desk'));
      expect(
        hierarchy(stream, 'hall').children.map((c) => c.locationId),
      ).toEqual(['r1']);
      expect(
        hierarchy(stream, 'campus').children.map((c) => c.locationId),
      ).toEqual(['hall', 'r2']);
      expect(hierarchy(stream, 'r1').children).toEqual([
        expect.objectContaining({ locationId: 'desk', archived: true }),
      ]);
      expect(stream.model.childFacts('r1').liveCount).toBe(0n);
      expect(stream.model.childFacts('hall')).toMatchObject({
        liveCount: 1n,
        sampleIds: ['r1'],
      });
    });

    it('reports a cycle and stops following it', () => {
      // Two re-parentings that each passed their check: hall → r1 and r1 → hall.
      const stream = campus().append(
        'hall',
        evt.parentSet('r1', 'campus', 'hall'),
      );
      const answer = hierarchy(stream, 'desk');
      expect(answer.ancestors.map((a) => a.locationId)).toEqual(['r1', 'hall']);
      expect(answer).toMatchObject({
        cycleDetected: true,
        cycle: ['r1', 'hall'],
      });
      expect(hierarchy(stream, 'r1').descendantCount).toBe(4n);
      expect(
        stream.model.parentFacts('r1').ancestry.map((l) => l.locationId),
      ).toEqual(['r1', 'hall']);
    });

    it('answers an unknown location with NOT_FOUND', () => {
      expect(codeOf(() => hierarchy(campus(), 'ghost'))).toBe(
        ErrorCode.NOT_FOUND,
      );
    });
  });

  describe('ByType', () => {
    const byType = (
      stream: Stream,
      f: Parameters<typeof create<typeof ByTypeRequestSchema>>[1],
    ) =>
      queriesOf(stream).byType(create(ByTypeRequestSchema, f), context) as {
        locations: Array<{ locationId: string }>;
        page: { nextPageToken: string; totalSize: bigint };
      };

    it('answers the locations of one type by id, archived ones when asked', () => {
      const stream = cities()
        .define('web', {
          locationType: LocationType.VIRTUAL,
          address: undefined,
          coordinates: undefined,
          virtual: virtualSite(),
        })
        .define('api', {
          locationType: LocationType.VIRTUAL,
          address: undefined,
          coordinates: undefined,
          virtual: virtualSite(),
        })
        .append('api', evt.archived('', 'api'))
        .append(
          'paris',
          evt.updated({
            locationId: 'paris',
            locationType: LocationType.LOGICAL,
            addressCleared: true,
          }),
        );
      const ids = (f: Parameters<typeof byType>[1]) =>
        byType(stream, f).locations.map((l) => l.locationId);
      expect(ids({ locationType: LocationType.VIRTUAL })).toEqual(['web']);
      expect(
        ids({ locationType: LocationType.VIRTUAL, includeArchived: true }),
      ).toEqual(['api', 'web']);
      expect(ids({ locationType: LocationType.LOGICAL })).toEqual(['paris']);
      expect(
        byType(stream, {
          locationType: LocationType.PHYSICAL,
          page: { pageSize: 3 },
        }).page.totalSize,
      ).toBe(7n);
    });

    it('answers an unspecified type with VALIDATION_FAILED', () => {
      expect(codeOf(() => byType(cities(), {}))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('ValidateAddress', () => {
    it('lists every problem of an address', () => {
      const queries = queriesOf(new Stream());
      expect(
        queries.validateAddress(
          create(ValidateAddressRequestSchema, { address: address() }),
          context,
        ),
      ).toEqual({ valid: true, problems: [] });
      expect(
        queries.validateAddress(
          create(ValidateAddressRequestSchema, {
            address: address({ street1: ' ', postalCode: '1'.repeat(40) }),
          }),
          context,
        ),
      ).toEqual({
        valid: false,
        problems: [
          'address.street1 must not be blank',
          'address.postal_code must be at most 32 characters, got 40',
        ],
      });
      expect(
        codeOf(() =>
          queries.validateAddress(
            create(ValidateAddressRequestSchema, {}),
            context,
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });
});

describe('location read model', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const step = fc.oneof(
    fc.record({
      kind: fc.constant('define' as const),
      id: fc.constantFrom(...ids),
      lat: fc.integer({ min: -89, max: 89 }),
      lon: fc.integer({ min: -179, max: 179 }),
      parent: fc.constantFrom('', ...ids),
    }),
    fc.record({
      kind: fc.constant('move' as const),
      id: fc.constantFrom(...ids),
      lat: fc.integer({ min: -89, max: 89 }),
      lon: fc.integer({ min: -179, max: 179 }),
    }),
    fc.record({
      kind: fc.constant('clear' as const),
      id: fc.constantFrom(...ids),
    }),
    fc.record({
      kind: fc.constant('parent' as const),
      id: fc.constantFrom(...ids),
      parent: fc.constantFrom(...ids),
    }),
    fc.record({
      kind: fc.constant('orphan' as const),
      id: fc.constantFrom(...ids),
    }),
    fc.record({
      kind: fc.constant('archive' as const),
      id: fc.constantFrom(...ids),
    }),
    fc.record({
      kind: fc.constant('retype' as const),
      id: fc.constantFrom(...ids),
    }),
  );

  function eventOf(
    s: Readonly<Record<string, unknown>>,
    id: string,
  ): LocationEvent {
    switch (s['kind']) {
      case 'define':
        return evt.defined({
          locationId: id,
          coordinates: coords(s['lat'] as number, s['lon'] as number),
          parentId: s['parent'] === id ? '' : (s['parent'] as string),
        });
      case 'move':
        return evt.updated({
          locationId: id,
          coordinates: coords(s['lat'] as number, s['lon'] as number),
        });
      case 'clear':
        return evt.updated({ locationId: id, coordinatesCleared: true });
      case 'parent':
        return evt.parentSet(s['parent'] as string, '', id);
      case 'orphan':
        return evt.parentRemoved('', { locationId: id });
      case 'archive':
        return evt.archived('', id);
      default:
        return evt.updated({
          locationId: id,
          locationType: LocationType.LOGICAL,
        });
    }
  }

  it('answers the same from indexes kept event by event as from indexes rebuilt from the rows', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const live = new Stream();
        for (const s of steps) live.append(s.id, eventOf(s, s.id));
        // A restart: the same rows from a snapshot, indexed by bind alone.
        const restarted = new LocationReadModel().bind(live.rows);
        const a = locationQueries(live.model);
        const b = locationQueries(restarted);
        const everywhere = create(WithinBoundingBoxRequestSchema, {
          box: { south: -90, west: -180, north: 90, east: 180 },
          includeArchived: true,
        });
        expect(a.withinBoundingBox(everywhere, context)).toEqual(
          b.withinBoundingBox(everywhere, context),
        );
        const near = create(FindNearbyRequestSchema, {
          latitude: 0,
          longitude: 0,
          radiusM: 1e7,
        });
        expect(a.findNearby(near, context)).toEqual(
          b.findNearby(near, context),
        );
        for (const type of [LocationType.PHYSICAL, LocationType.LOGICAL]) {
          const request = create(ByTypeRequestSchema, { locationType: type });
          expect(a.byType(request, context)).toEqual(
            b.byType(request, context),
          );
        }
        for (const id of live.rows.keys()) {
          const request = create(HierarchyRequestSchema, { locationId: id });
          expect(a.hierarchy(request, context)).toEqual(
            b.hierarchy(request, context),
          );
          expect(live.model.childFacts(id)).toEqual(restarted.childFacts(id));
        }
      }),
      { numRuns: 300 },
    );
  });
});
