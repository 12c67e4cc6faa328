import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startGateway, type Gateway } from '@cim/gateway';
import { createClient, createRawClient, type GrpcClient } from '@cim/grpc';
import { uuidv7 } from '@cim/kernel';
import {
  ConceptualspacesCommandService,
  ConceptualspacesQueryService,
  DistanceMethod,
  file_cim_conceptualspaces_v1_conceptualspaces,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import type { RunningService } from '@cim/service';
import {
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { conceptualspacesService } from '../src/service.js';
import { XY } from './fixtures.js';

async function grpcCode(promise: Promise<unknown>): Promise<status> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error.code;
}

const point = (coordinates: number[]) => ({
  kind: { case: 'point' as const, value: { coordinates } },
});

describe('conceptual spaces through the gRPC gateway', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let service: RunningService;
  let gateway: Gateway;
  let commands: GrpcClient<typeof ConceptualspacesCommandService>;
  let queries: GrpcClient<typeof ConceptualspacesQueryService>;
  let address: string;

  async function storedCommits(): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_CONCEPTUALSPACES', {
      subjects_filter: 'cim.conceptualspaces.evt.>',
    });
    return Object.values(info.state.subjects ?? {}).reduce(
      (sum, n) => sum + n,
      0,
    );
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    service = await conceptualspacesService.start({ nc, log: testLogger() });
    const file = file_cim_conceptualspaces_v1_conceptualspaces;
    gateway = await startGateway({
      nc,
      host: '127.0.0.1',
      port: 0,
      services: file.services,
      files: [file],
      log: testLogger(),
      maxMessageBytes: 64 * 1024,
    });
    address = `127.0.0.1:${gateway.port}`;
    commands = createClient(ConceptualspacesCommandService, address);
    queries = createClient(ConceptualspacesQueryService, address);
  });

  afterAll(async () => {
    commands.close();
    queries.close();
    await gateway.stop();
    await service.stop();
    await nc.close();
    await server.stop();
  });

  it('creates a space, adds concepts and a region, and answers the geometric queries', async () => {
    const created = await commands.createConceptualSpace({
      name: 'fruit',
      dimensions: XY,
      metric: { minkowskiP: 2 },
    });
    const conceptualspacesId = created.aggregateId;
    for (const [conceptId, coordinates] of [
      ['apple', [1, 1]],
      ['pear', [1.5, 1]],
      ['lemon', [8, 9]],
    ] as const) {
      await commands.addConcept({
        conceptualspacesId,
        conceptId,
        coordinates: [...coordinates],
        label: conceptId,
      });
    }
    const region = await commands.addRegion({
      conceptualspacesId,
      regionId: 'pome',
      prototype: [1.2, 1],
      boundaries: [{ normal: [-1, 0], offset: -5 }],
      members: ['apple', 'pear'],
    });
    expect(region.version).toBe(5n);

    const similar = await queries.findSimilar({
      conceptualspacesId,
      target: { kind: { case: 'conceptId', value: 'apple' } },
      k: 2,
      minVersion: region.version,
    });
    expect(similar.matches.map((m) => [m.conceptId, m.label])).toEqual([
      ['pear', 'pear'],
      ['lemon', 'lemon'],
    ]);
    const distance = await queries.distance({
      conceptualspacesId,
      a: point([0, 0]),
      b: point([3, 4]),
      method: DistanceMethod.EUCLIDEAN,
    });
    expect(distance.distance).toBeCloseTo(0.5, 12);
    const category = await queries.categorize({
      conceptualspacesId,
      point: point([2, 2]),
    });
    expect(category).toMatchObject({ found: true, regionId: 'pome' });
    const containing = await queries.regionsContaining({
      conceptualspacesId,
      point: point([9, 9]),
    });
    expect(containing.regionIds).toEqual([]);
    const position = await queries.conceptPosition({
      conceptualspacesId,
      conceptId: 'pear',
    });
    expect(position.concept).toMatchObject({
      coordinates: [1.5, 1],
      regions: ['pome'],
    });
  });

  describe('when the input is bad', () => {
    it.each([
      [
        'garbage bytes',
        () =>
          createRawClient(address).unary(
            ConceptualspacesCommandService.method.addConcept,
            Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'a space without dimensions',
        () =>
          commands.createConceptualSpace({
            name: 'x',
            metric: { minkowskiP: 2 },
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'p below 1',
        () =>
          commands.createConceptualSpace({
            name: 'x',
            dimensions: XY,
            metric: { minkowskiP: 0.5 },
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an unknown space',
        () =>
          commands.addConcept({
            conceptualspacesId: uuidv7(),
            coordinates: [1, 1],
          }),
        status.NOT_FOUND,
      ],
      [
        'a payload over the size limit',
        () =>
          commands.addConcept({
            conceptualspacesId: uuidv7(),
            coordinates: Array.from({ length: 20_000 }, () => 1),
          }),
        status.RESOURCE_EXHAUSTED,
      ],
    ])(
      'answers %s with the mapped status and appends nothing',
      async (_case, call, expected) => {
        const before = await storedCommits();
        expect(await grpcCode(call())).toBe(expected);
        expect(await storedCommits()).toBe(before);
      },
    );

    it('maps refusals of existing spaces to ALREADY_EXISTS and FAILED_PRECONDITION', async () => {
      const { aggregateId: conceptualspacesId } =
        await commands.createConceptualSpace({
          name: 'x',
          dimensions: XY,
          metric: { minkowskiP: 2 },
        });
      expect(
        await grpcCode(
          commands.createConceptualSpace({
            conceptualspacesId,
            name: 'x',
            dimensions: XY,
            metric: { minkowskiP: 2 },
          }),
        ),
      ).toBe(status.ALREADY_EXISTS);
      await commands.deleteSpace({ conceptualspacesId });
      const before = await storedCommits();
      expect(
        await grpcCode(
          commands.addConcept({ conceptualspacesId, coordinates: [1, 1] }),
        ),
      ).toBe(status.FAILED_PRECONDITION);
      expect(await storedCommits()).toBe(before);
    });

    it('answers queries about unknown things with NOT_FOUND and bad ones with INVALID_ARGUMENT', async () => {
      expect(
        await grpcCode(queries.spaceInfo({ conceptualspacesId: uuidv7() })),
      ).toBe(status.NOT_FOUND);
      const { aggregateId: conceptualspacesId } =
        await commands.createConceptualSpace({
          name: 'x',
          dimensions: XY,
          metric: { minkowskiP: 2 },
        });
      // Waits for the new space, so the request is refused for itself, not as an unknown space.
      expect(
        await grpcCode(
          queries.findSimilar({
            conceptualspacesId,
            target: point([1, 1]),
            minVersion: 1n,
          }),
        ),
      ).toBe(status.INVALID_ARGUMENT);
      expect(
        await grpcCode(
          queries.voronoiCell({ conceptualspacesId, regionId: 'none' }),
        ),
      ).toBe(status.NOT_FOUND);
    });
  });
});
