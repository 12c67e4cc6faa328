import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  eventSubject,
  uuidv7,
} from '@cim/kernel';
import {
  ArchiveLocationSchema,
  LocationCommandSchema,
  LocationCommandService,
  LocationEventSchema,
  LocationQueryService,
  type LocationCommand,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import {
  countCommits,
  eventually,
  sendCommand,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { defineService, type RunningService } from '../src/define-service.js';
import type { Schedule } from '../src/definition.js';
import { scheduledCommandId } from '../src/schedule-runner.js';
import type { QueryHandlers } from '../src/types.js';

/** A location row: when it expires (metadata `expiresAtMs`) and whether it is archived. */
interface Row {
  readonly expiresAtMs: number;
  readonly archived: boolean;
}

type State = 'absent' | 'defined' | 'archived';

const TICK_MS = 20;

/**
 * A small domain on the location protos: locations expire at the time their
 * metadata names, and a schedule archives them then. `listArchived` makes the
 * schedule list archived locations too, so the decider's refusal is what keeps
 * them archived once.
 */
function expiringLocations(
  options: { listArchived?: boolean; failFirst?: number } = {},
) {
  let calls = 0;
  let failures = options.failFirst ?? 0;
  const expiry: Schedule<LocationCommand, Row> = {
    name: 'expiry',
    everyMs: TICK_MS,
    due: function* (rows, nowMs) {
      calls++;
      if (failures > 0) {
        failures--;
        throw new Error('the schedule failed');
      }
      for (const [locationId, row] of rows.entries()) {
        if (row.expiresAtMs > nowMs) continue;
        if (row.archived && options.listArchived !== true) continue;
        yield {
          key: locationId,
          body: {
            case: 'archive',
            value: create(ArchiveLocationSchema, {
              locationId,
              reason: 'expired',
            }),
          },
        };
      }
    },
  };
  const definition = defineService({
    domain: 'location',
    decider: {
      initialState: (): State => 'absent',
      decide: (command: LocationCommand, state: State): LocationEvent[] => {
        const { body } = command;
        if (body.case === 'define') {
          if (state !== 'absent')
            throw new DomainError(ErrorCode.ALREADY_EXISTS, 'exists');
          const { locationId, name, metadata } = body.value;
          return [
            create(LocationEventSchema, {
              body: { case: 'defined', value: { locationId, name, metadata } },
            }),
          ];
        }
        if (body.case === 'archive') {
          if (state !== 'defined')
            throw new DomainError(ErrorCode.INVALID_TRANSITION, state);
          const { locationId, reason } = body.value;
          return [
            create(LocationEventSchema, {
              body: { case: 'archived', value: { locationId, reason } },
            }),
          ];
        }
        throw new DomainError(ErrorCode.VALIDATION_FAILED, 'not served');
      },
      evolve: (state: State, { body }: LocationEvent): State =>
        body.case === 'defined'
          ? 'defined'
          : body.case === 'archived'
            ? 'archived'
            : state,
    },
    schemas: { command: LocationCommandSchema, event: LocationEventSchema },
    projection: (row: Row | undefined, { body }: LocationEvent) =>
      body.case === 'defined'
        ? {
            expiresAtMs: Number(body.value.metadata['expiresAtMs']),
            archived: false,
          }
        : body.case === 'archived' && row !== undefined
          ? { ...row, archived: true }
          : row,
    queries: {
      service: LocationQueryService,
      handlers: () =>
        Object.fromEntries(
          LocationQueryService.methods.map((method) => [
            method.localName,
            () => {
              throw new DomainError(ErrorCode.NOT_FOUND, 'not served');
            },
          ]),
        ) as unknown as QueryHandlers<typeof LocationQueryService>,
    },
    schedules: [expiry],
  });
  return { definition, calls: () => calls };
}

/** Polls `probe` until it holds. */
describe('schedules over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const running: RunningService[] = [];

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await nc.close();
    await server.stop();
  });

  async function start(
    definition: ReturnType<typeof expiringLocations>['definition'],
  ) {
    // Each instance on its own connection, as separate processes run.
    const service = await definition.start({
      natsUrl: server.url,
      log: testLogger(),
    });
    running.push(service);
    return service;
  }

  /** Defines a location that expires at once. */
  async function expiring(): Promise<string> {
    const locationId = uuidv7();
    await sendCommand(nc, LocationCommandService.method.defineLocation, {
      locationId,
      name: 'pop-up store',
      metadata: { expiresAtMs: String(Date.now()) },
    });
    return locationId;
  }

  /** Waits until the location holds its definition and the archiving the schedule sent. */
  const settled = (locationId: string) =>
    eventually(
      async () =>
        (await countCommits(nc, 'location', locationId)) === 2
          ? true
          : undefined,
      `the archiving of ${locationId}`,
    );

  /** Waits until `calls` has run `ticks` more times. */
  async function ticks(calls: () => number, ticks: number) {
    const from = calls();
    await eventually(
      () => (calls() >= from + ticks ? true : undefined),
      `${ticks} more ticks`,
    );
  }

  it('sends a due command once, as the service, with the derived command id', async () => {
    const { definition, calls } = expiringLocations({ listArchived: true });
    await start(definition);
    const locationId = await expiring();
    await settled(locationId);
    // Later ticks send the same command; the decider refuses it.
    await ticks(calls, 5);
    expect(await countCommits(nc, 'location', locationId)).toBe(2);
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage('CIM_LOCATION', {
      last_by_subj: eventSubject('location', locationId),
    });
    const commit = decodeCommit(stored!.data);
    const commandId = scheduledCommandId('location', 'expiry', locationId);
    expect(commit).toMatchObject({
      commandId,
      correlationId: commandId,
      actor: 'service:location',
    });
    expect(commit.events.map((e) => e.eventType)).toEqual(['LocationArchived']);
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('fires once across several instances of the service', async () => {
    const one = expiringLocations({ listArchived: true });
    const two = expiringLocations({ listArchived: true });
    await start(one.definition);
    await start(two.definition);
    const ids = await Promise.all([expiring(), expiring(), expiring()]);
    await ticks(one.calls, 5);
    await ticks(two.calls, 5);
    for (const id of ids) {
      await settled(id);
    }
    await ticks(one.calls, 5);
    await ticks(two.calls, 5);
    for (const id of ids)
      expect(await countCommits(nc, 'location', id)).toBe(2);
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('keeps ticking after due throws', async () => {
    const { definition } = expiringLocations({ failFirst: 3 });
    await start(definition);
    const locationId = await expiring();
    await settled(locationId);
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('stops ticking when the service stops', async () => {
    const { definition, calls } = expiringLocations();
    const service = await start(definition);
    await ticks(calls, 2);
    await service.stop();
    const after = calls();
    await new Promise((r) => setTimeout(r, TICK_MS * 5));
    expect(calls()).toBe(after);
    running.splice(0);
  });
});
