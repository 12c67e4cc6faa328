import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppendError,
  AppendFailure,
  EventStore,
  type Ack,
} from '@cim/eventstore';
import { streamName, uuidv7 } from '@cim/kernel';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const bytes = (size: number, fill = 0x61) => new Uint8Array(size).fill(fill);

/** The append's error, or undefined when it was stored. */
const failure = (answer: Promise<Ack>) =>
  answer.then(
    () => undefined,
    (error: unknown) => error as AppendError,
  );

const durabilities = ['fast', 'strict'] as const;

describe.each(durabilities)(
  'appends to a stream without room (%s)',
  (durability) => {
    let server: NatsServerHandle;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let store: EventStore;
    const domain = `room${durability}`;
    const stream = streamName(domain);

    beforeAll(async () => {
      // 64 KiB messages at most, so that a commit can be larger than the server takes.
      server = await startNatsServer({
        syncAlways: durability === 'strict',
        config: 'max_payload: 65536',
      });
      nc = await connect({ servers: server.url });
      jsm = await jetstreamManager(nc);
      store = await EventStore.open(nc, { domain, durability });
    });

    afterAll(async () => {
      store.close();
      await nc.close();
      await server.stop();
    });

    /** Changes one limit of the domain's stream, as an operator would with `nats stream edit`. */
    async function limit(
      change: Partial<{
        max_bytes: number;
        max_msgs: number;
        max_msg_size: number;
      }>,
    ): Promise<void> {
      const { config } = await jsm.streams.info(stream);
      await jsm.streams.update(stream, { ...config, ...change });
    }

    const stored = async () => (await jsm.streams.info(stream)).state.messages;

    /**
     * Appends six small commits and one of `size` bytes at once (in strict mode,
     * in one batch); expects the small ones stored and answers the large one's error.
     */
    async function largeBesideSmall(
      size: number,
    ): Promise<AppendError | undefined> {
      const before = await stored();
      const small = Array.from({ length: 6 }, () => uuidv7());
      const large = uuidv7();
      const answers = await Promise.all([
        ...small.map((id) => failure(store.appendAsync(id, 0, id, bytes(10)))),
        failure(store.appendAsync(large, 0, large, bytes(size))),
      ]);
      const error = answers.pop();
      expect(answers).toEqual(small.map(() => undefined));
      expect(await stored()).toBe(before + small.length);
      return error;
    }

    it('answers `full` at the stream’s max bytes, stores nothing, and stores the same message once there is room', async () => {
      await store.appendAsync(uuidv7(), 0, uuidv7(), bytes(100));
      const { state } = await jsm.streams.info(stream);
      await limit({ max_bytes: state.bytes + 50 });

      const ids = Array.from({ length: 8 }, () => uuidv7());
      const refused = await Promise.all(
        ids.map((id) => failure(store.appendAsync(id, 0, id, bytes(200)))),
      );
      for (const error of refused) {
        expect(AppendError.is(error)).toBe(true);
        expect(error!.failure).toBe(AppendFailure.full);
        expect(error!.retryable).toBe(true);
        expect(error!.message).toBe('maximum bytes exceeded');
      }
      expect(await stored()).toBe(state.messages);

      await limit({ max_bytes: -1 });
      const acks = await Promise.all(
        ids.map((id) => store.appendAsync(id, 0, id, bytes(200))),
      );
      expect(acks.every((ack) => !ack.duplicate)).toBe(true);
      expect(await stored()).toBe(state.messages + ids.length);
    });

    it('answers `full` at the stream’s max messages', async () => {
      const before = await stored();
      await limit({ max_msgs: before });
      const error = await failure(
        store.appendAsync(uuidv7(), 0, uuidv7(), bytes(10)),
      );
      expect(error?.failure).toBe(AppendFailure.full);
      expect(error?.message).toBe('maximum messages exceeded');
      await limit({ max_msgs: -1 });
      expect(await stored()).toBe(before);
    });

    it('answers `too-large`, not retryable, for a commit over the stream’s max message size, and stores the commits beside it', async () => {
      await limit({ max_msg_size: 1000 });
      const error = await largeBesideSmall(2000);
      expect(error?.failure).toBe(AppendFailure.tooLarge);
      expect(error?.retryable).toBe(false);
      await limit({ max_msg_size: -1 });
    });

    it('answers `too-large` for a commit over the server’s max_payload without sending it, and stores the commits beside it', async () => {
      const error = await largeBesideSmall(70_000);
      expect(error?.failure).toBe(AppendFailure.tooLarge);
      expect(error?.message).toContain(
        "over the server's max_payload of 65536",
      );
      // The connection is still open and appends go on.
      const before = await stored();
      await store.appendAsync(uuidv7(), 0, uuidv7(), bytes(10));
      expect(await stored()).toBe(before + 1);
    });

    it('writes a snapshot larger than the server’s max_payload in chunks that fit', async () => {
      const snapshot = Uint8Array.from({ length: 300_000 }, (_, i) => i % 251);
      await store.snapshots.save('agg/large', snapshot);
      expect(await store.snapshots.load('agg/large')).toEqual(snapshot);
    });
  },
);

describe('appends to a server out of JetStream storage', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;

  beforeAll(async () => {
    server = await startNatsServer({ maxFileStore: '256KB' });
    nc = await connect({ servers: server.url });
    store = await EventStore.open(nc, { domain: 'roomserver' });
  });

  afterAll(async () => {
    store.close();
    await nc.close();
    await server.stop();
  });

  it('answers `full` with insufficient resources once the server’s max_file_store is used up', async () => {
    let error: AppendError | undefined;
    let appended = 0;
    while (error === undefined && appended < 100) {
      error = await failure(
        store.appendAsync(uuidv7(), 0, uuidv7(), bytes(16 * 1024)),
      );
      if (error === undefined) appended++;
    }
    expect(appended).toBeGreaterThan(0);
    expect(error?.failure).toBe(AppendFailure.full);
    expect(error?.apiCode).toBe(10023);
    expect(error?.message).toBe('insufficient resources');
  });
});
