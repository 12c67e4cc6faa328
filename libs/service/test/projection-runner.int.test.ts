import { DefaultDeserializer, serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { GENESIS_HASH, eventRecord, sealCommit, uuidv7 } from '@cim/kernel';
import { CommandMetaSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  LocationEventSchema,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import {
  eventually,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  ProjectionRunner,
  type ProjectionOptions,
} from '../src/projection-runner.js';

/** Every version folded into the row, in order, changed in place: a commit folded twice shows. */
interface Row {
  readonly folded: bigint[];
}

const project = (
  row: Row | undefined,
  _event: LocationEvent,
  meta: { readonly version: bigint },
): Row => {
  const next = row ?? { folded: [] };
  next.folded.push(meta.version);
  return next;
};

const SNAPSHOT_VERSION = 1;
const EVENT = toBinary(LocationEventSchema, create(LocationEventSchema, {}));

describe('projection runner', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;
  /** Per aggregate: its version, last sequence and hash, for the next append. */
  const heads = new Map<
    string,
    { version: bigint; seq: number; hash: Uint8Array }
  >();
  /** Per stream sequence: which aggregate reached which version. */
  const appended = new Map<number, { aggregateId: string; version: bigint }>();
  const aggregates = Array.from({ length: 24 }, () => uuidv7());

  const runner = (options: ProjectionOptions) =>
    new ProjectionRunner<LocationEvent, Row>(
      store,
      project,
      LocationEventSchema,
      SNAPSHOT_VERSION,
      testLogger(),
      () => {},
      options,
    );

  /** Appends the next commit of `aggregateId`. */
  async function append(aggregateId: string): Promise<void> {
    const head = heads.get(aggregateId) ?? {
      version: 0n,
      seq: 0,
      hash: GENESIS_HASH,
    };
    const version = head.version + 1n;
    const commandId = uuidv7();
    const sealed = sealCommit({
      commitId: uuidv7(),
      domain: 'snapshots',
      aggregateType: 'Thing',
      aggregateId,
      version,
      events: [eventRecord(uuidv7(), 'Thing', EVENT)],
      meta: create(CommandMetaSchema, { commandId, actor: 'test' }),
      occurredAtMs: Date.now(),
      prevHash: head.hash,
    });
    const ack = await store.appendAsync(
      aggregateId,
      head.seq,
      commandId,
      sealed.bytes,
    );
    heads.set(aggregateId, { version, seq: ack.seq, hash: sealed.hash });
    appended.set(ack.seq, { aggregateId, version });
  }

  /** Each aggregate's version as of stream sequence `position`. */
  function versionsAt(position: number): Map<string, bigint> {
    const versions = new Map<string, bigint>();
    for (const [seq, { aggregateId, version }] of appended)
      if (seq <= position) versions.set(aggregateId, version);
    return versions;
  }

  /** A snapshot's head and entries, as the runner writes them. */
  function decode(bytes: Uint8Array): {
    position: number;
    entries: Array<[string, bigint, Row | undefined]>;
  } {
    const deserializer = new DefaultDeserializer(bytes);
    deserializer.readHeader();
    const head = deserializer.readValue() as {
      position: number;
      entries: number;
    };
    const entries = Array.from(
      { length: head.entries },
      () => deserializer.readValue() as [string, bigint, Row | undefined],
    );
    return { position: head.position, entries };
  }

  /** The rows a runner holds, as plain data. */
  const rowsOf = (r: ProjectionRunner<LocationEvent, Row>) =>
    Object.fromEntries(
      [...r.entries()].map(([id, row]) => [id, [...row.folded]]),
    );

  /** What every row must be: each version of its aggregate, once, in order. */
  const expected = () =>
    Object.fromEntries(
      [...heads].map(([id, { version }]) => [
        id,
        Array.from({ length: Number(version) }, (_, i) => BigInt(i + 1)),
      ]),
    );

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    store = await EventStore.open(nc, {
      domain: 'snapshots',
      durability: 'fast',
    });
    for (const id of aggregates) await append(id);
  });

  afterAll(async () => {
    store.close();
    await nc.close();
    await server.stop();
  });

  it('writes snapshots over many turns while folds go on, and a restart from one folds every commit once', async () => {
    // A snapshot every 2 ms, one row per turn: commits land between the rows of every snapshot.
    const first = runner({ snapshotEveryMs: 2, snapshotSliceMs: 0 });
    await first.start();
    let interleaved:
      { bytes: Uint8Array; position: number; ahead: number } | undefined;
    const watch = (async () => {
      while (interleaved === undefined) {
        const bytes = await store.snapshots.load('projection');
        if (bytes !== undefined) {
          const { position, entries } = decode(bytes);
          const at = versionsAt(position);
          // Rows written after later folds: newer than the snapshot's position.
          const ahead = entries.filter(
            ([id, version]) => version > (at.get(id) ?? 0n),
          ).length;
          if (ahead > 0) interleaved = { bytes, position, ahead };
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let round = 0; round < 40 && interleaved === undefined; round++)
      await Promise.all(aggregates.map((id) => append(id)));
    await watch;
    const last = Math.max(...appended.keys());
    await eventually(
      () => (first.position === last ? true : undefined),
      'the first runner caught up',
    );
    expect(rowsOf(first)).toEqual(expected());
    await first.stop();
    expect(interleaved!.position).toBeLessThan(last);

    // Restart from the interleaved snapshot rather than the final one.
    await store.snapshots.save('projection', interleaved!.bytes);
    const second = runner({ snapshotEveryMs: 60_000 });
    await second.start();
    try {
      expect(second.position).toBe(last);
      expect(rowsOf(second)).toEqual(expected());
      for (const [id, { version }] of heads)
        expect(second.versionOf(id)).toBe(version);
    } finally {
      await second.stop();
    }
  });

  it('still loads a snapshot written whole, in the format of earlier releases', async () => {
    const position = Math.max(...appended.keys());
    const rows = expected();
    await store.snapshots.save(
      'projection',
      serialize({
        snapshotVersion: SNAPSHOT_VERSION,
        position,
        rows: Object.entries(rows).map(([id, folded]) => [id, { folded }]),
        versions: [...heads].map(([id, { version }]) => [id, version]),
      }),
    );
    await append(aggregates[0]!);
    const runnerFromWhole = runner({ snapshotEveryMs: 60_000 });
    await runnerFromWhole.start();
    try {
      // Only the tail after the snapshot was folded: the row goes on from it.
      expect(rowsOf(runnerFromWhole)).toEqual(expected());
      expect(runnerFromWhole.position).toBe(position + 1);
    } finally {
      await runnerFromWhole.stop();
    }
  });
  it('starts when the stream ends in a message it does not fold', async () => {
    // Unreadable bytes on a commit subject: logged and skipped, and still read.
    const ack = await store.appendAsync(
      uuidv7(),
      0,
      uuidv7(),
      Uint8Array.of(0xff, 0xff, 0xff),
    );
    const starting = runner({ snapshotEveryMs: 60_000 });
    await starting.start();
    try {
      expect(starting.position).toBe(ack.seq);
    } finally {
      await starting.stop();
    }
  });

  it('waits for a stream position, until the message there is folded whatever its aggregate, and for an aggregate version', async () => {
    const following = runner({ snapshotEveryMs: 60_000 });
    await following.start();
    try {
      const start = following.position;
      await following.waitForPosition(start, 1000);
      let atResolve: ReturnType<typeof rowsOf> | undefined;
      const waiting = following
        .waitForPosition(start + 2, 5000)
        .then(() => (atResolve = rowsOf(following)));
      await append(aggregates[1]!);
      await eventually(
        () => (following.position === start + 1 ? true : undefined),
        'the runner folded the first commit',
      );
      expect(atResolve).toBeUndefined();
      await append(aggregates[2]!);
      await waiting;
      expect(atResolve).toEqual(expected());
      await expect(following.waitForPosition(start + 3, 50)).rejects.toThrow(
        `did not reach stream position ${start + 3}`,
      );
      // By aggregate version likewise.
      const id = aggregates[3]!;
      const next = heads.get(id)!.version + 1n;
      const byVersion = following.waitFor(id, next, 5000);
      await append(id);
      await byVersion;
      expect(following.versionOf(id)).toBe(next);
      await expect(following.waitFor(id, next + 1n, 50)).rejects.toThrow(
        `did not reach version ${next + 1n}`,
      );
    } finally {
      await following.stop();
    }
  });
});
