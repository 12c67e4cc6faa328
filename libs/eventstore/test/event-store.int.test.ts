import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppendError,
  AppendFailure,
  EventStore,
  type Ack,
} from '@cim/eventstore';
import { uuidv7 } from '@cim/kernel';
import {
  natsServerBinary,
  startNatsServer,
  type NatsServerHandle,
} from '@cim/testing';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';

const SYSTEM_SERVER = '/usr/sbin/nats-server';
const binaries: Array<[string, string]> = [
  ['the current nats-server', natsServerBinary()],
];
// Issue 9: the store must keep working on Debian stable's 2.9.x, without the features it lacks.
if (existsSync(SYSTEM_SERVER) && SYSTEM_SERVER !== natsServerBinary())
  binaries.push(['nats-server 2.9 (system)', SYSTEM_SERVER]);

const bytes = (text: string) => new TextEncoder().encode(text);

describe.each(binaries)('event store on %s', (_label, binary) => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;

  beforeAll(async () => {
    server = await startNatsServer({ binary });
    nc = await connect({ servers: server.url });
    store = await EventStore.open(nc, { domain: 'estest' });
  });

  afterAll(async () => {
    store.close();
    await nc.close();
    await server.stop();
  });

  it('reports which server features it found', () => {
    expect(store.features.version).toBe(server.version);
    expect(store.features.atomicBatch).toBe(!server.version.startsWith('2.9.'));
  });

  it('pipelines appends to many aggregates and acks each with its own sequence', async () => {
    const ids = Array.from({ length: 500 }, () => uuidv7());
    const acks = await Promise.all(
      ids.map((id) => store.appendAsync(id, 0, uuidv7(), bytes(id))),
    );
    const seqs = acks.map((a) => a.seq);
    expect(new Set(seqs).size).toBe(ids.length);
    expect(acks.every((a) => !a.duplicate)).toBe(true);
    expect(store.inFlight).toBe(0);
  });

  describe('when two appends expect the same last sequence', () => {
    it('accepts exactly one and refuses the other with a wrong last sequence', async () => {
      const id = uuidv7();
      const outcomes = await Promise.allSettled([
        store.appendAsync(id, 0, uuidv7(), bytes('a')),
        store.appendAsync(id, 0, uuidv7(), bytes('b')),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter(
        (o): o is PromiseRejectedResult => o.status === 'rejected',
      );
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(AppendError.is(lost[0]!.reason)).toBe(true);
      expect((lost[0]!.reason as AppendError).failure).toBe(
        AppendFailure.wrongLastSequence,
      );
      expect(await store.read(id)).toHaveLength(1);
    });
  });

  describe('when a message id repeats inside the duplicate window', () => {
    it('stores it once and acks the repeat as a duplicate of the first', async () => {
      const id = uuidv7();
      const msgId = uuidv7();
      const first = await store.appendAsync(id, 0, msgId, bytes('once'));
      const again: Ack = await store.appendAsync(
        id,
        first.seq,
        msgId,
        bytes('once'),
      );
      expect(again).toEqual({ seq: first.seq, duplicate: true });
      expect(await store.read(id)).toHaveLength(1);
    });

    it('never stores a repeat that expects a stale sequence', async () => {
      const id = uuidv7();
      const msgId = uuidv7();
      const first = await store.appendAsync(id, 0, msgId, bytes('once'));
      // 2.9 answers with the duplicate; newer servers check the expectation first and refuse.
      const again = await store
        .appendAsync(id, 0, msgId, bytes('once'))
        .catch((e: unknown) => e);
      if (AppendError.is(again))
        expect(again.failure).toBe(AppendFailure.wrongLastSequence);
      else expect(again).toEqual({ seq: first.seq, duplicate: true });
      expect(await store.read(id)).toHaveLength(1);
    });
  });

  it('reads an aggregate in order, and from a sequence onwards', async () => {
    const id = uuidv7();
    let last = 0;
    for (let i = 0; i < 5; i++)
      last = (await store.appendAsync(id, last, uuidv7(), bytes(`c${i}`))).seq;
    const all = await store.read(id);
    expect(all.map((c) => new TextDecoder().decode(c.data))).toEqual([
      'c0',
      'c1',
      'c2',
      'c3',
      'c4',
    ]);
    const tail = await store.read(id, all[3]!.seq);
    expect(tail.map((c) => c.seq)).toEqual([all[3]!.seq, all[4]!.seq]);
    expect(await store.read(uuidv7())).toEqual([]);
  });

  it('reads what an aggregate stored since a moment (its whole history where the server cannot tell)', async () => {
    const id = uuidv7();
    const old = await store.appendAsync(id, 0, uuidv7(), bytes('old'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const since = Date.now();
    const a = await store.appendAsync(id, old.seq, uuidv7(), bytes('a'));
    const b = await store.appendAsync(id, a.seq, uuidv7(), bytes('b'));
    const seqs = async (aggregateId: string, at: number) =>
      (await store.readSince(aggregateId, at)).map((c) => c.seq);
    expect(await seqs(uuidv7(), since)).toEqual([]);
    if (store.features.directBatch) {
      expect(await seqs(id, since)).toEqual([a.seq, b.seq]);
      expect(await seqs(id, Date.now() + 60_000)).toEqual([]);
    } else {
      expect(await seqs(id, since)).toEqual([old.seq, a.seq, b.seq]);
    }
  });

  it('follows the whole stream in sequence order from any point', async () => {
    const last = await store.lastSequence();
    const seen: number[] = [];
    let reachedLast!: () => void;
    const reached = new Promise<void>((resolve) => (reachedLast = resolve));
    const follower = await store.follow(1, (m) => {
      seen.push(m.seq);
      if (m.seq === last) reachedLast();
    });
    await reached;
    await follower.stop();
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });

  it('refuses deletes and purges of the stream', async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.deleteMessage(store.stream, 1)).rejects.toThrow();
    await expect(jsm.streams.purge(store.stream)).rejects.toThrow();
  });

  it('saves and loads snapshots larger than one message, replacing the previous one', async () => {
    const big = new Uint8Array(2_500_000).map((_, i) => i % 251);
    await store.snapshots.save('agg/x', bytes('small'));
    await store.snapshots.save('agg/x', big);
    expect(await store.snapshots.load('agg/x')).toEqual(big);
    await store.snapshots.save('agg/x', bytes('small again'));
    expect(new TextDecoder().decode(await store.snapshots.load('agg/x'))).toBe(
      'small again',
    );
    expect(await store.snapshots.load('agg/none')).toBeUndefined();
  });
});
