import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventStore } from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  eventSubject,
  uuidv7,
} from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import {
  ConceptualspacesCommandService,
  ConceptualspacesEventSchema,
  ConceptualspacesQueryService,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import type { RunningService } from '@cim/service';
import { AggregateLoader } from '@cim/service/internal';
import {
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
  rejection,
  withoutSnapshotMark,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { conceptualspacesDecider } from '../src/domain/index.js';
import { reviveSpaceState } from '../src/domain/state.js';
import { conceptualspacesService } from '../src/service.js';
import { XY } from './fixtures.js';

const cmd = ConceptualspacesCommandService.method;
const qry = ConceptualspacesQueryService.method;
const point = (coordinates: number[]) => ({
  kind: { case: 'point' as const, value: { coordinates } },
});

describe('conceptual spaces service over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  const start = (options: { snapshotEvery?: number } = {}) =>
    conceptualspacesService.start({ nc, log: testLogger(), ...options });

  async function commitsOf(spaceId: string): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const subject = eventSubject('conceptualspaces', spaceId);
    const info = await jsm.streams.info('CIM_CONCEPTUALSPACES', {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  }

  /** Commits on every space's subject (checkpoints on cim.conceptualspaces.chk are not commits). */
  async function totalCommits(): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_CONCEPTUALSPACES', {
      subjects_filter: 'cim.conceptualspaces.evt.>',
    });
    return Object.values(info.state.subjects ?? {}).reduce(
      (sum, n) => sum + n,
      0,
    );
  }

  async function newSpace(): Promise<string> {
    const conceptualspacesId = uuidv7();
    await sendCommand(nc, cmd.createConceptualSpace, {
      conceptualspacesId,
      name: 'tastes',
      dimensions: XY,
      metric: { minkowskiP: 2 },
    });
    return conceptualspacesId;
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

  describe('when commands are accepted', () => {
    it('stores one commit per command and answers queries with it', async () => {
      const conceptualspacesId = await newSpace();
      for (const [conceptId, coordinates] of [
        ['a', [1, 1]],
        ['b', [2, 2]],
        ['c', [9, 9]],
      ] as const) {
        await sendCommand(nc, cmd.addConcept, {
          conceptualspacesId,
          conceptId,
          coordinates: [...coordinates],
        });
      }
      expect(await commitsOf(conceptualspacesId)).toBe(4);
      const similar = await sendQuery(nc, qry.findSimilar, {
        conceptualspacesId,
        target: point([1.2, 1.1]),
        k: 2,
        minVersion: 4n,
      });
      expect(similar.matches.map((m) => m.conceptId)).toEqual(['a', 'b']);
      const info = await sendQuery(nc, qry.spaceInfo, { conceptualspacesId });
      expect(info.space).toMatchObject({
        conceptCount: 3n,
        version: 4n,
        deleted: false,
      });
    });

    it('takes the command id as the space id when a create names none', async () => {
      const result = await sendCommand(nc, cmd.createConceptualSpace, {
        name: 'anon',
        dimensions: XY,
        metric: { minkowskiP: 1 },
      });
      expect(result.aggregateId).toBe(result.commandId);
      expect(await commitsOf(result.aggregateId)).toBe(1);
    });

    it('stores a two-event command as one commit', async () => {
      const conceptualspacesId = await newSpace();
      const replaced = await sendCommand(nc, cmd.replaceDimensionWeights, {
        conceptualspacesId,
        weights: [
          { kind: { case: 'constant', value: 2 } },
          { kind: { case: 'constant', value: 0.5 } },
        ],
        reason: 'sweetness first',
      });
      expect(replaced.eventIds).toHaveLength(2);
      expect(await commitsOf(conceptualspacesId)).toBe(2);
      const commit = decodeCommit(
        (await running.store.get(Number(replaced.streamSequence)))!.data,
      );
      expect(commit.events.map((e) => e.eventType)).toEqual([
        'DimensionWeightsRemoved',
        'DimensionWeightsAdded',
      ]);
      expect(commit.aggregateType).toBe('Conceptualspaces');
    });
  });

  describe('when a command id repeats', () => {
    it('applies it once, also when a fresh instance answers the repeat', async () => {
      const conceptualspacesId = await newSpace();
      const commandId = uuidv7();
      const send = () =>
        sendCommand(
          nc,
          cmd.addConcept,
          { conceptualspacesId, conceptId: 'x', coordinates: [3, 3] },
          { commandId },
        );
      const first = await send();
      expect(await send()).toEqual(first);
      await running.stop();
      running = await start();
      expect(await send()).toEqual(first);
      expect(await commitsOf(conceptualspacesId)).toBe(2);
    });
  });

  describe('when the input is bad', () => {
    it('answers garbage bytes with VALIDATION_FAILED and appends nothing', async () => {
      const before = await totalCommits();
      const error = await request(
        nc,
        'cim.conceptualspaces.cmd.AddConcept',
        Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0x01),
        {
          headers: { [Header.commandId]: uuidv7() },
        },
      ).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await totalCommits()).toBe(before);
    });

    it.each([
      ['missing coordinates', { conceptId: 'm' }],
      ['a NaN coordinate', { conceptId: 'm', coordinates: [NaN, 1] }],
      ['an out-of-range coordinate', { conceptId: 'm', coordinates: [1, 10] }],
      [
        'an oversize point',
        {
          conceptId: 'm',
          coordinates: Array.from({ length: 100_000 }, () => 1),
        },
      ],
      [
        'an oversize label',
        { conceptId: 'm', coordinates: [1, 1], label: 'x'.repeat(100_000) },
      ],
    ])(
      'answers %s with VALIDATION_FAILED and appends nothing',
      async (_, fields) => {
        const conceptualspacesId = await newSpace();
        expect(
          await rejection(
            sendCommand(nc, cmd.addConcept, { conceptualspacesId, ...fields }),
          ),
        ).toBe(ErrorCode.VALIDATION_FAILED);
        expect(await commitsOf(conceptualspacesId)).toBe(1);
      },
    );

    it('answers an unknown space with NOT_FOUND and appends nothing', async () => {
      const conceptualspacesId = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.addConcept, {
            conceptualspacesId,
            coordinates: [1, 1],
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(sendQuery(nc, qry.spaceInfo, { conceptualspacesId })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(conceptualspacesId)).toBe(0);
    });

    it('answers an unknown concept with NOT_FOUND and appends nothing', async () => {
      const conceptualspacesId = await newSpace();
      expect(
        await rejection(
          sendCommand(nc, cmd.removeConcept, {
            conceptualspacesId,
            conceptId: 'ghost',
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(
          sendQuery(nc, qry.findSimilar, {
            conceptualspacesId,
            target: { kind: { case: 'conceptId', value: 'ghost' } },
            k: 1,
            // The space itself is known: NOT_FOUND names the concept.
            minVersion: 1n,
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(conceptualspacesId)).toBe(1);
    });

    it('answers an id that cannot be a subject token with VALIDATION_FAILED', async () => {
      const before = await totalCommits();
      expect(
        await rejection(
          sendCommand(nc, cmd.createConceptualSpace, {
            conceptualspacesId: 'a.b',
            name: 'x',
            dimensions: XY,
          }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await totalCommits()).toBe(before);
    });

    it('refuses every change to a deleted space and appends nothing', async () => {
      const conceptualspacesId = await newSpace();
      await sendCommand(nc, cmd.deleteSpace, { conceptualspacesId });
      expect(
        await rejection(
          sendCommand(nc, cmd.addConcept, {
            conceptualspacesId,
            coordinates: [1, 1],
          }),
        ),
      ).toBe(ErrorCode.INVALID_TRANSITION);
      expect(await commitsOf(conceptualspacesId)).toBe(2);
      const info = await sendQuery(nc, qry.spaceInfo, {
        conceptualspacesId,
        minVersion: 2n,
      });
      expect(info.space?.deleted).toBe(true);
    });
  });

  describe('when the service restarts', () => {
    it('rebuilds the same read model and index, and continues the aggregate where it was', async () => {
      const conceptualspacesId = await newSpace();
      for (let i = 0; i < 150; i++) {
        await sendCommand(nc, cmd.addConcept, {
          conceptualspacesId,
          conceptId: `k${i}`,
          coordinates: [(i * 7) % 10, (i * 3) % 10],
        });
      }
      for (let i = 0; i < 20; i++) {
        await sendCommand(nc, cmd.moveConcept, {
          conceptualspacesId,
          conceptId: `k${i}`,
          coordinates: [5.5, (i % 10) + 0.5],
        });
      }
      const ask = () =>
        sendQuery(nc, qry.findSimilar, {
          conceptualspacesId,
          target: point([5, 5]),
          k: 12,
          minVersion: 171n,
        });
      const before = await ask();
      expect(before.matches).toHaveLength(12);
      await running.stop();
      running = await start();
      expect(await ask()).toEqual(before);
      const next = await sendCommand(nc, cmd.removeConcept, {
        conceptualspacesId,
        conceptId: 'k0',
      });
      expect(next.version).toBe(172n);
    });

    it('loads a space from its snapshot plus the tail to the same state as a full replay', async () => {
      await running.stop();
      running = await start({ snapshotEvery: 5 });
      const conceptualspacesId = await newSpace();
      for (let i = 0; i < 8; i++) {
        await sendCommand(nc, cmd.addConcept, {
          conceptualspacesId,
          conceptId: `k${i}`,
          coordinates: [i, i],
        });
      }
      await sendCommand(nc, cmd.addRegion, {
        conceptualspacesId,
        regionId: 'low',
        prototype: [1, 1],
        boundaries: [{ normal: [-1, -1], offset: -6 }],
        members: ['k0', 'k1', 'k2'],
      });
      const store = await EventStore.open(nc, { domain: 'conceptualspaces' });
      const withSnapshots = new AggregateLoader(
        store,
        conceptualspacesDecider,
        ConceptualspacesEventSchema,
        conceptualspacesService.snapshotVersion,
        reviveSpaceState,
      );
      const fullReplay = new AggregateLoader(
        store,
        conceptualspacesDecider,
        ConceptualspacesEventSchema,
        -1,
      );
      for (
        let tries = 0;
        tries < 50 &&
        (await store.snapshots.load(`agg/${conceptualspacesId}`)) === undefined;
        tries++
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(
        await store.snapshots.load(`agg/${conceptualspacesId}`),
      ).toBeDefined();
      const fromSnapshot = await withSnapshots.load(
        conceptualspacesId,
        () => undefined,
      );
      const replayed = await fullReplay.load(
        conceptualspacesId,
        () => undefined,
      );
      expect(withoutSnapshotMark(fromSnapshot)).toEqual(
        withoutSnapshotMark(replayed),
      );
      expect(fromSnapshot.snapshot.version).toBeGreaterThan(0n);
      expect(replayed.snapshot).toEqual({ version: 0n, bytes: 0 });
      expect(replayed.version).toBe(10n);
      store.close();
    });
  });

  it('keeps every commit of every space on its hash chain', async () => {
    const store = await EventStore.open(nc, { domain: 'conceptualspaces' });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_CONCEPTUALSPACES', {
      subjects_filter: 'cim.conceptualspaces.evt.>',
    });
    const loader = new AggregateLoader(
      store,
      conceptualspacesDecider,
      ConceptualspacesEventSchema,
      -1,
    );
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      // load() verifies every link and throws IntegrityError on a broken one.
      await loader.load(
        subject.slice('cim.conceptualspaces.evt.'.length),
        () => undefined,
      );
    }
    store.close();
  });
});
