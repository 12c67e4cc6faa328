import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startGateway, type Gateway } from '@cim/gateway';
import { createClient, createRawClient, type GrpcClient } from '@cim/grpc';
import { uuidv7 } from '@cim/kernel';
import {
  LocationCommandService,
  LocationQueryService,
  LocationType,
  file_cim_location_v1_location,
} from '@cim/proto/cim/location/v1/location_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { locationService } from '../src/service.js';
import { coords } from './fixtures.js';

async function grpcCode(promise: Promise<unknown>): Promise<status> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error.code;
}

describe('location through the gRPC gateway', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let location: RunningService;
  let gateway: Gateway;
  let commands: GrpcClient<typeof LocationCommandService>;
  let queries: GrpcClient<typeof LocationQueryService>;
  let address: string;

  const storedCommits = () => countCommits(nc, 'location');

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    location = await locationService.start({ nc, log: testLogger() });
    gateway = await startGateway({
      nc,
      host: '127.0.0.1',
      port: 0,
      services: file_cim_location_v1_location.services,
      files: [file_cim_location_v1_location],
      log: testLogger(),
      maxMessageBytes: 64 * 1024,
    });
    address = `127.0.0.1:${gateway.port}`;
    commands = createClient(LocationCommandService, address);
    queries = createClient(LocationQueryService, address);
  });

  afterAll(async () => {
    commands.close();
    queries.close();
    await gateway.stop();
    await location.stop();
    await nc.close();
    await server.stop();
  });

  it('defines a small hierarchy and finds it by place, type and parent', async () => {
    const city = await commands.defineLocation({
      name: 'Reykjavík',
      locationType: LocationType.LOGICAL,
      coordinates: coords(64.1466, -21.9426),
    });
    const harbour = await commands.defineLocation({
      name: 'Old harbour',
      locationType: LocationType.PHYSICAL,
      coordinates: coords(64.1525, -21.9512),
      parentId: city.aggregateId,
      parentMinVersion: city.version,
    });
    const church = await commands.defineLocation({
      name: 'Hallgrímskirkja',
      locationType: LocationType.PHYSICAL,
      coordinates: coords(64.1417, -21.9266),
    });
    const moved = await commands.setParentLocation({
      locationId: church.aggregateId,
      parentId: city.aggregateId,
      parentMinVersion: city.version,
    });
    expect(moved.version).toBe(2n);

    await queries.getLocation({
      locationId: church.aggregateId,
      minVersion: 2n,
    });
    const nearby = await queries.findNearby({
      latitude: 64.1525,
      longitude: -21.9512,
      radiusM: 2000,
      locationType: LocationType.PHYSICAL,
    });
    expect(nearby.results.map((r) => r.location?.name)).toEqual([
      'Old harbour',
      'Hallgrímskirkja',
    ]);
    expect(nearby.results[1]!.distanceM).toBeGreaterThan(1000);
    expect(nearby.results[1]!.bearingDeg).toBeGreaterThan(90);
    expect(nearby.results[1]!.bearingDeg).toBeLessThan(180);

    const tree = await queries.hierarchy({ locationId: city.aggregateId });
    expect(tree.children.map((c) => c.locationId).sort()).toEqual(
      [harbour.aggregateId, church.aggregateId].sort(),
    );
    const boxed = await queries.withinBoundingBox({
      box: { south: 64, west: -22, north: 64.2, east: -21.9 },
    });
    expect(boxed.page?.totalSize).toBe(3n);
    const logical = await queries.byType({
      locationType: LocationType.LOGICAL,
    });
    expect(logical.locations.map((l) => l.locationId)).toEqual([
      city.aggregateId,
    ]);
    const history = await queries.history({ aggregateId: church.aggregateId });
    expect(history.entries.map((e) => e.events[0]?.eventType)).toEqual([
      'LocationDefined',
      'ParentLocationSet',
    ]);
  });

  describe('when the input is bad', () => {
    it.each([
      [
        'garbage bytes',
        () =>
          createRawClient(address).unary(
            LocationCommandService.method.defineLocation,
            Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'a latitude out of range',
        () =>
          commands.defineLocation({
            name: 'x',
            locationType: LocationType.PHYSICAL,
            coordinates: coords(-91, 0),
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an unknown location',
        () => commands.archiveLocation({ locationId: uuidv7() }),
        status.NOT_FOUND,
      ],
      [
        'an unknown parent',
        () =>
          commands.defineLocation({
            name: 'x',
            locationType: LocationType.LOGICAL,
            parentId: uuidv7(),
          }),
        status.NOT_FOUND,
      ],
      [
        'a payload over the size limit',
        () =>
          commands.defineLocation({
            name: 'x',
            locationType: LocationType.LOGICAL,
            metadata: { big: 'x'.repeat(100 * 1024) },
          }),
        status.RESOURCE_EXHAUSTED,
      ],
    ])(
      'answers %s with the mapped status and appends nothing',
      async (_, call, expected) => {
        const before = await storedCommits();
        expect(await grpcCode(call())).toBe(expected);
        expect(await storedCommits()).toBe(before);
      },
    );

    it('answers a cycle with FAILED_PRECONDITION and appends nothing', async () => {
      const top = await commands.defineLocation({
        name: 'top',
        locationType: LocationType.LOGICAL,
      });
      const below = await commands.defineLocation({
        name: 'below',
        locationType: LocationType.LOGICAL,
        parentId: top.aggregateId,
        parentMinVersion: 1n,
      });
      const before = await storedCommits();
      expect(
        await grpcCode(
          commands.setParentLocation({
            locationId: top.aggregateId,
            parentId: below.aggregateId,
            parentMinVersion: below.version,
          }),
        ),
      ).toBe(status.FAILED_PRECONDITION);
      expect(await storedCommits()).toBe(before);
    });

    it('answers a bad search with INVALID_ARGUMENT and an unknown location with NOT_FOUND', async () => {
      expect(
        await grpcCode(
          queries.findNearby({ latitude: 0, longitude: 0, radiusM: 0 }),
        ),
      ).toBe(status.INVALID_ARGUMENT);
      expect(await grpcCode(queries.hierarchy({ locationId: uuidv7() }))).toBe(
        status.NOT_FOUND,
      );
    });
  });
});
