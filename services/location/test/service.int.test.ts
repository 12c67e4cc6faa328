import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  eventRecord,
  eventSubject,
  sealCommit,
  uuidv7,
} from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import { CommandMetaSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  LocationCommandService,
  LocationEventSchema,
  LocationQueryService,
  LocationType,
  NetworkType,
  ParentRemovalCause,
  ValidationResult,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import {
  ephemeralKeyring,
  type RunningService,
  type StartOptions,
} from '@cim/service';
import { AggregateLoader } from '@cim/service/internal';
import {
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
  rejection,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { locationDecider } from '../src/domain/index.js';
import { locationService } from '../src/service.js';
import { address, coords, facts, link } from './fixtures.js';

const cmd = LocationCommandService.method;
const qry = LocationQueryService.method;
const CONSUMER = 'cim-location-verify-hierarchy';

describe('location service over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  const keyring = ephemeralKeyring();
  const start = (options: Partial<StartOptions> = {}) =>
    locationService.start({ nc, log: testLogger(), keyring, ...options });

  async function commitsOf(locationId: string): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const subject = eventSubject('location', locationId);
    const info = await jsm.streams.info('CIM_LOCATION', {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  }

  async function eventCommits(): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_LOCATION', {
      subjects_filter: 'cim.location.evt.>',
    });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  }

  /** The events of a location's last commit. */
  async function lastEvents(locationId: string): Promise<LocationEvent[]> {
    const jsm = await jetstreamManager(nc);
    const msg = await jsm.streams.getMessage('CIM_LOCATION', {
      last_by_subj: eventSubject('location', locationId),
    });
    return decodeCommit(msg!.data).events.map((e) =>
      fromBinary(LocationEventSchema, e.payload),
    );
  }

  /** Waits until the hierarchy reaction has handled every event so far. */
  const reactionSettled = () => consumerSettled(nc, 'location', CONSUMER);

  /** Defines a physical location at the given point (Berlin by default). */
  async function define(
    fields: Record<string, unknown> = {},
    at = coords(),
  ): Promise<{ id: string; version: bigint }> {
    const id = uuidv7();
    const result = await sendCommand(nc, cmd.defineLocation, {
      locationId: id,
      name: `place ${id}`,
      locationType: LocationType.PHYSICAL,
      coordinates: at,
      ...fields,
    });
    return { id, version: result.version };
  }

  /** Appends a ParentLocationSet the way a racing instance would, past this instance's checks. */
  async function appendParentSetBehind(
    locationId: string,
    parentId: string,
  ): Promise<void> {
    const store = await EventStore.open(nc, { domain: 'location' });
    const loader = new AggregateLoader(
      store,
      locationDecider,
      LocationEventSchema,
      -1,
    );
    // Signed with the service's own key: a racing instance, not a forger.
    const current = await loader.load(locationId, () => undefined);
    const meta = create(CommandMetaSchema, {
      commandId: uuidv7(),
      actor: 'user:other',
    });
    const event = create(LocationEventSchema, {
      body: { case: 'parentSet', value: { locationId, parentId } },
    });
    const sealed = sealCommit({
      commitId: uuidv7(),
      domain: 'location',
      aggregateType: 'Location',
      aggregateId: locationId,
      version: current.version + 1n,
      events: [
        eventRecord(
          uuidv7(),
          'ParentLocationSet',
          toBinary(LocationEventSchema, event),
        ),
      ],
      meta,
      occurredAtMs: Date.now(),
      prevHash: current.lastHash,
      macKey: keyring.active.macKey,
    });
    await store.appendAsync(
      locationId,
      current.lastSeq,
      meta.commandId,
      sealed.bytes,
    );
    store.close();
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await start();
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  describe('when a command is accepted', () => {
    it('stores one commit on the location subject and answers queries with it', async () => {
      const { id, version } = await define({
        address: address(),
        metadata: { floor: '2' },
      });
      expect(version).toBe(1n);
      expect(await commitsOf(id)).toBe(1);
      const { location } = await sendQuery(nc, qry.getLocation, {
        locationId: id,
        minVersion: 1n,
      });
      expect(location).toMatchObject({
        locationId: id,
        locationType: LocationType.PHYSICAL,
        coordinates: { latitude: 52.52, longitude: 13.405, system: 'WGS84' },
        address: { locality: 'Berlin' },
        metadata: { floor: '2' },
        version: 1n,
      });
      expect((await lastEvents(id))[0]?.body.case).toBe('defined');
    });

    it('assigns a new location id when Define names none', async () => {
      const result = await sendCommand(nc, cmd.defineLocation, {
        name: 'unnamed',
        locationType: LocationType.LOGICAL,
      });
      expect(result.aggregateId).toBe(result.commandId);
      expect(await commitsOf(result.aggregateId)).toBe(1);
    });

    it('records a validated context with its verdict', async () => {
      const { id } = await define({ address: address() });
      const result = await sendCommand(nc, cmd.validateLocationContext, {
        locationId: id,
        coordinates: coords(48.8566, 2.3522),
        country: 'DE',
        networkType: NetworkType.WIFI,
        deviceId: 'phone-1',
      });
      expect(result.version).toBe(2n);
      const [event] = await lastEvents(id);
      expect(event?.body.case).toBe('validated');
      expect(event?.body.value).toMatchObject({
        result: ValidationResult.INVALID,
        riskIndicators: [expect.objectContaining({ code: 'coordinates_far' })],
      });
      const { location } = await sendQuery(nc, qry.getLocation, {
        locationId: id,
        minVersion: 2n,
      });
      expect(location?.lastValidationResult).toBe(ValidationResult.INVALID);
    });
  });

  describe('when locations form a hierarchy', () => {
    it('checks parents against the read model and answers Hierarchy', async () => {
      const campus = await define();
      const hall = await define({
        parentId: campus.id,
        parentMinVersion: campus.version,
      });
      const room = await define({
        parentId: hall.id,
        parentMinVersion: hall.version,
      });
      const answer = await sendQuery(nc, qry.hierarchy, {
        locationId: room.id,
        minVersion: 1n,
      });
      expect(answer.ancestors.map((a) => a.locationId)).toEqual([
        hall.id,
        campus.id,
      ]);
      const top = await sendQuery(nc, qry.hierarchy, { locationId: campus.id });
      expect(top.children.map((c) => c.locationId)).toEqual([hall.id]);
      expect(top.descendantCount).toBe(2n);

      const before = await eventCommits();
      // campus under room would close campus → room → hall → campus.
      expect(
        await rejection(
          sendCommand(nc, cmd.setParentLocation, {
            locationId: campus.id,
            parentId: room.id,
          }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      expect(
        await rejection(
          sendCommand(nc, cmd.setParentLocation, {
            locationId: hall.id,
            parentId: uuidv7(),
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(
          sendCommand(nc, cmd.setParentLocation, {
            locationId: hall.id,
            parentId: hall.id,
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        await rejection(
          sendCommand(nc, cmd.archiveLocation, { locationId: campus.id }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      expect(await eventCommits()).toBe(before);

      // Once the room leaves, the hall has no live child and can be archived.
      const moved = await sendCommand(nc, cmd.setParentLocation, {
        locationId: room.id,
        parentId: campus.id,
      });
      await sendQuery(nc, qry.getLocation, {
        locationId: room.id,
        minVersion: moved.version,
      });
      const archived = await sendCommand(nc, cmd.archiveLocation, {
        locationId: hall.id,
        reason: 'demolished',
      });
      expect(
        await rejection(
          sendCommand(nc, cmd.setParentLocation, {
            locationId: room.id,
            parentId: hall.id,
            parentMinVersion: archived.version,
          }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
    });

    it('replaces facts a client sends with the read model’s', async () => {
      const parent = await define();
      const child = await define({ parentId: parent.id, parentMinVersion: 1n });
      await sendQuery(nc, qry.getLocation, {
        locationId: child.id,
        minVersion: 1n,
      });
      const before = await eventCommits();
      const ghost = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.setParentLocation, {
            locationId: child.id,
            parentId: ghost,
            parentFacts: facts(link(ghost)),
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(
          sendCommand(nc, cmd.archiveLocation, {
            locationId: parent.id,
            children: { liveCount: 0n },
          }),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
      expect(await eventCommits()).toBe(before);
    });

    it('waits for parent_min_version no longer than its caller does', async () => {
      const parent = await define();
      const before = await eventCommits();
      // The read model waits up to 4 s for a version; this caller waits 300 ms
      // and the client 2 s: an answer at all shows the wait ended at the caller's time.
      const error = await sendCommand(
        nc,
        cmd.defineLocation,
        {
          locationId: uuidv7(),
          name: 'impatient',
          locationType: LocationType.PHYSICAL,
          coordinates: coords(),
          parentId: parent.id,
          parentMinVersion: 1000n,
        },
        { timeout: '300', waitMs: 2000 },
      ).catch((e: unknown) => e as Error);
      expect(error).toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        message: `read model has not reached version 1000 of ${parent.id}`,
      });
      expect(await eventCommits()).toBe(before);
    });
  });

  describe('when locations are searched by place and type', () => {
    it('answers FindNearby, WithinBoundingBox and ByType from the spatial index', async () => {
      // Far from every other test's locations: around the South Georgia islands.
      const at = (lat: number, lon: number) => coords(lat, lon);
      const a = await define({}, at(-54.28, -36.51));
      const b = await define({}, at(-54.3, -36.6));
      const far = await define({}, at(-54.9, -36.0));
      const web = await sendCommand(nc, cmd.defineLocation, {
        name: 'station site',
        locationType: LocationType.LOGICAL,
        coordinates: at(-54.281, -36.511),
      });
      await sendQuery(nc, qry.getLocation, {
        locationId: web.aggregateId,
        minVersion: 1n,
      });
      const nearby = await sendQuery(nc, qry.findNearby, {
        latitude: -54.28,
        longitude: -36.51,
        radiusM: 20_000,
      });
      expect(nearby.results.map((r) => r.location?.locationId)).toEqual([
        a.id,
        web.aggregateId,
        b.id,
      ]);
      expect(nearby.results[0]?.distanceM).toBe(0);
      const physical = await sendQuery(nc, qry.findNearby, {
        latitude: -54.28,
        longitude: -36.51,
        radiusM: 200_000,
        locationType: LocationType.PHYSICAL,
      });
      expect(physical.results.map((r) => r.location?.locationId)).toEqual([
        a.id,
        b.id,
        far.id,
      ]);
      const boxed = await sendQuery(nc, qry.withinBoundingBox, {
        box: { south: -54.5, west: -37, north: -54, east: -36.5 },
      });
      expect(boxed.locations.map((l) => l.locationId)).toEqual(
        [a.id, b.id, web.aggregateId].sort(),
      );
      const logical = await sendQuery(nc, qry.byType, {
        locationType: LocationType.LOGICAL,
      });
      expect(logical.locations.map((l) => l.locationId)).toContain(
        web.aggregateId,
      );
    });
  });

  describe('when the input is bad', () => {
    it('answers garbage bytes with VALIDATION_FAILED and appends nothing', async () => {
      const before = await eventCommits();
      const error = await request(
        nc,
        'cim.location.cmd.DefineLocation',
        Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0x01),
        { headers: { [Header.commandId]: uuidv7() } },
      ).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await eventCommits()).toBe(before);
    });

    it.each([
      ['a missing location type', { name: 'x', coordinates: coords() }],
      ['a missing name', { locationType: LocationType.LOGICAL }],
      [
        'a latitude of 100',
        {
          name: 'x',
          locationType: LocationType.PHYSICAL,
          coordinates: coords(100, 0),
        },
      ],
      [
        'an oversize name',
        { name: 'n'.repeat(10_000), locationType: LocationType.LOGICAL },
      ],
      [
        'too many metadata entries',
        {
          name: 'x',
          locationType: LocationType.LOGICAL,
          metadata: Object.fromEntries(
            Array.from({ length: 300 }, (_, i) => [`k${i}`, 'v']),
          ),
        },
      ],
      [
        'an id that is not a subject token',
        { locationId: 'a.b', name: 'x', locationType: LocationType.LOGICAL },
      ],
    ])(
      'answers Define with %s with VALIDATION_FAILED and appends nothing',
      async (_, fields) => {
        const before = await eventCommits();
        expect(
          await rejection(sendCommand(nc, cmd.defineLocation, fields)),
        ).toBe(ErrorCode.VALIDATION_FAILED);
        expect(await eventCommits()).toBe(before);
      },
    );

    it('answers an unknown location with NOT_FOUND and appends nothing', async () => {
      const id = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.updateLocation, { locationId: id, name: 'x' }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(sendQuery(nc, qry.getLocation, { locationId: id })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(id)).toBe(0);
    });

    it('answers a bad query with VALIDATION_FAILED', async () => {
      expect(
        await rejection(
          sendQuery(nc, qry.findNearby, {
            latitude: 0,
            longitude: 0,
            radiusM: -1,
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('when concurrent re-parentings close a cycle', () => {
    it('breaks it once, at the link that closed it, and a redelivery changes nothing', async () => {
      const a = await define();
      const b = await define();
      await appendParentSetBehind(a.id, b.id);
      await appendParentSetBehind(b.id, a.id);
      // b's link closed the cycle: the reaction removes it (b's version 3).
      const { location } = await sendQuery(nc, qry.getLocation, {
        locationId: b.id,
        minVersion: 3n,
      });
      expect(location?.parentId).toBe('');
      const [removed] = await lastEvents(b.id);
      expect(removed?.body).toEqual({
        case: 'parentRemoved',
        value: expect.objectContaining({
          formerParentId: a.id,
          cause: ParentRemovalCause.CYCLE,
          cycle: [b.id, a.id],
        }),
      });
      await reactionSettled();
      expect(await commitsOf(a.id)).toBe(2);
      expect(await commitsOf(b.id)).toBe(3);
      const answer = await sendQuery(nc, qry.hierarchy, { locationId: a.id });
      expect(answer).toMatchObject({
        cycleDetected: false,
        ancestors: [expect.objectContaining({ locationId: b.id })],
      });

      // Every ParentLocationSet is delivered again to a fresh consumer.
      const before = await eventCommits();
      await running.stop();
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.delete('CIM_LOCATION', CONSUMER);
      running = await start();
      await reactionSettled();
      expect(await eventCommits()).toBe(before);
      expect(await commitsOf(b.id)).toBe(3);
    });

    it('leaves exactly one link of each pair when two instances re-parent both ways at once', async () => {
      const second = await start();
      try {
        const pairs = await Promise.all(
          Array.from(
            { length: 12 },
            async () => [await define(), await define()] as const,
          ),
        );
        await Promise.all(
          pairs.flatMap(([x, y]) => [
            sendCommand(nc, cmd.setParentLocation, {
              locationId: x.id,
              parentId: y.id,
              parentMinVersion: 1n,
            }).catch((e: unknown) => e),
            sendCommand(nc, cmd.setParentLocation, {
              locationId: y.id,
              parentId: x.id,
              parentMinVersion: 1n,
            }).catch((e: unknown) => e),
          ]),
        );
        await reactionSettled();
        for (const [x, y] of pairs) {
          const parents = [];
          for (const id of [x.id, y.id]) {
            const version = BigInt(await commitsOf(id));
            const { location } = await sendQuery(nc, qry.getLocation, {
              locationId: id,
              minVersion: version,
            });
            parents.push(location?.parentId ?? '');
          }
          expect(parents.filter((p) => p !== '')).toHaveLength(1);
        }
      } finally {
        await second.stop();
      }
    });
  });

  describe('when the service restarts', () => {
    it('rebuilds the same read model and indexes from the projection snapshot', async () => {
      await running.stop();
      running = await start({ snapshotEveryCommits: 1 });
      const campus = await define({}, coords(-70.1, 80.2));
      const hall = await define(
        { parentId: campus.id, parentMinVersion: 1n },
        coords(-70.11, 80.21),
      );
      await sendQuery(nc, qry.getLocation, {
        locationId: hall.id,
        minVersion: 1n,
      });
      const queries = async () => ({
        nearby: await sendQuery(nc, qry.findNearby, {
          latitude: -70.1,
          longitude: 80.2,
          radiusM: 5000,
        }),
        hierarchy: await sendQuery(nc, qry.hierarchy, {
          locationId: campus.id,
        }),
        byType: await sendQuery(nc, qry.byType, {
          locationType: LocationType.PHYSICAL,
          page: { pageSize: 500 },
        }),
      });
      const before = await queries();
      expect(before.nearby.results.map((r) => r.location?.locationId)).toEqual([
        campus.id,
        hall.id,
      ]);
      await running.stop();
      running = await start();
      expect(await queries()).toEqual(before);
    });
  });
});
