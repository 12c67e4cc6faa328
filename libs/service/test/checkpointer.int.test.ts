import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventStore, type StoredCommit } from '@cim/eventstore';
import {
  checkpointSubject,
  eventSubject,
  openCheckpoint,
  uuidv7,
} from '@cim/kernel';
import {
  eventually,
  recordingLogger,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Checkpointer } from '../src/checkpointer.js';
import { ephemeralKeyring } from '../src/keyring.js';

const DOMAIN = 'sealing';

describe('checkpointer', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    store = await EventStore.open(nc, { domain: DOMAIN });
  });

  afterAll(async () => {
    store.close();
    await nc.close();
    await server.stop();
  });

  /** The last checkpoint stored after stream sequence `after`, once there is one. */
  const checkpointAfter = (after: number): Promise<StoredCommit> =>
    eventually(async () => {
      const last = await store.lastOn(checkpointSubject(DOMAIN));
      return last !== undefined && last.seq > after ? last : undefined;
    }, `a checkpoint after sequence ${after}`);

  it('seals the commits it saw while a checkpoint was on its way, though nothing follows them', async () => {
    const checkpointer = new Checkpointer(
      store,
      ephemeralKeyring(),
      testLogger(),
      { checkpointEveryCommits: 3, checkpointEveryMs: 20 },
    );
    await checkpointer.start(0);
    try {
      const commits: Array<{ seq: number; subject: string; data: Uint8Array }> =
        [];
      for (let i = 0; i < 5; i++) {
        const aggregateId = uuidv7();
        const data = randomBytes(64);
        const { seq } = await store.appendAsync(aggregateId, 0, uuidv7(), data);
        commits.push({ seq, subject: eventSubject(DOMAIN, aggregateId), data });
      }
      // All five are seen in one turn, as a follower catching up delivers
      // them: the third starts a checkpoint, the last two come while it is
      // on its way.
      for (const { seq, subject, data } of commits)
        checkpointer.observe(seq, subject, data, randomBytes(32));
      const first = await checkpointAfter(0);
      expect(openCheckpoint(first.data)?.checkpoint.lastSeq).toBe(
        BigInt(commits[2]!.seq),
      );
      // The checkpoint comes back through the stream, and nothing after it.
      checkpointer.observe(first.seq, first.subject, first.data);
      const second = await checkpointAfter(first.seq);
      expect(openCheckpoint(second.data)?.checkpoint).toMatchObject({
        firstSeq: BigInt(commits[3]!.seq),
        lastSeq: BigInt(first.seq), // the range ends with the last message seen
        commitCount: 2n,
      });
    } finally {
      checkpointer.stop();
    }
  });

  it('retries a checkpoint through an outage, warning once, and says when it is written again', async () => {
    const own = await startNatsServer();
    const ownNc = await connect({
      servers: own.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 50,
    });
    const ownStore = await EventStore.open(ownNc, {
      domain: DOMAIN,
      ackTimeoutMs: 100,
    });
    const { log, lines } = recordingLogger();
    const checkpointer = new Checkpointer(ownStore, ephemeralKeyring(), log, {
      checkpointEveryCommits: 1000,
      checkpointEveryMs: 20,
    });
    try {
      await checkpointer.start(0);
      const aggregateId = uuidv7();
      const data = randomBytes(64);
      const { seq } = await ownStore.appendAsync(
        aggregateId,
        0,
        uuidv7(),
        data,
      );
      await own.kill();
      checkpointer.observe(
        seq,
        eventSubject(DOMAIN, aggregateId),
        data,
        randomBytes(32),
      );
      // A dozen or so attempts fail while the server is down.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await own.restart();
      await eventually(
        () =>
          ownNc.flush().then(
            () => true,
            () => undefined,
          ),
        'the client reconnected',
      );
      // Asked until JetStream answers again.
      const written = await eventually(
        () => ownStore.lastOn(checkpointSubject(DOMAIN)).catch(() => undefined),
        'the checkpoint, once the server is back',
      );
      expect(openCheckpoint(written.data)?.checkpoint.lastSeq).toBe(
        BigInt(seq),
      );
      const said = (msg: string) => lines.filter((l) => l['msg'] === msg);
      expect(said('checkpoint not written; will retry')).toHaveLength(1);
      const [again] = await eventually(
        () =>
          said('checkpoint written again').length > 0
            ? said('checkpoint written again')
            : undefined,
        'the line saying the checkpoint was written again',
      );
      expect(again!['attempts']).toBeGreaterThan(1);
      expect(again!['failedMs']).toBeGreaterThan(1000);
    } finally {
      checkpointer.stop();
      ownStore.close();
      await ownNc.close();
      await own.stop();
    }
  });
});
