import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';

/** One commit as stored: its stream sequence, subject and bytes. */
export interface StoredCommit {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** A running subscription to a stream; `stop()` ends it. */
export interface Follower {
  stop(): Promise<void>;
}

/**
 * Reads every message on one subject with sequence >= `fromSeq`, in order.
 * A direct get of the subject's last message bounds the read, so an empty or
 * unchanged subject costs one round trip; a caller that has just read that
 * message passes it as `known` (null: the subject is empty) and spares it.
 * The rest comes in direct batches where the server has them (2.11+), else
 * through an ordered consumer.
 */
export async function readSubject(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  fromSeq: number,
  directBatch: boolean,
  known?: StoredCommit | null,
  readTimeoutMs = 10_000,
): Promise<StoredCommit[]> {
  const last =
    known !== undefined
      ? known
      : await jsm.direct.getMessage(stream, { last_by_subj: subject });
  if (last === null || last.seq < fromSeq) return [];
  if (last.seq === fromSeq)
    return [{ seq: last.seq, subject, data: last.data }];
  return directBatch
    ? readInBatches(jsm, stream, subject, fromSeq, last.seq)
    : readWithConsumer(js, stream, subject, fromSeq, last.seq, readTimeoutMs);
}

async function readInBatches(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  fromSeq: number,
  lastSeq: number,
): Promise<StoredCommit[]> {
  const out: StoredCommit[] = [];
  let next = fromSeq;
  while (next <= lastSeq) {
    const before = out.length;
    for await (const m of await jsm.direct.getBatch(stream, {
      seq: next,
      next_by_subj: subject,
      batch: 1024,
    })) {
      if (m.seq > lastSeq) break;
      out.push({ seq: m.seq, subject, data: m.data });
      next = m.seq + 1;
    }
    if (out.length === before) break; // nothing more is stored, whatever the bound said
  }
  return out;
}

async function readWithConsumer(
  js: JetStreamClient,
  stream: string,
  subject: string,
  fromSeq: number,
  lastSeq: number,
  readTimeoutMs: number,
): Promise<StoredCommit[]> {
  const out: StoredCommit[] = [];
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const done = new Promise<void>(
    (resolve, reject) => (settle = { resolve, reject }),
  );
  const timer = setTimeout(
    () =>
      settle?.reject(
        new Error(`reading ${subject} timed out after ${readTimeoutMs} ms`),
      ),
    readTimeoutMs,
  );
  const following = follow(js, stream, subject, fromSeq, (m) => {
    if (m.seq > lastSeq) return;
    out.push({ seq: m.seq, subject: m.subject, data: m.data });
    if (m.seq === lastSeq) settle?.resolve();
  });
  try {
    await Promise.all([following, done]);
  } finally {
    clearTimeout(timer);
    // The consumer is stopped whether the read completed or failed.
    await following.then(
      (f) => f.stop(),
      () => undefined,
    );
  }
  return out;
}

/**
 * How long one pull of a consumer waits, ms (the heartbeat is half of it):
 * short, so a pull lost in a server or leaf-node restart is noticed within
 * seconds rather than after the client's default 30 s. Every consumer that
 * follows a stream for long uses it.
 */
export const PULL_EXPIRES_MS = 5000;

/**
 * Follows a stream with an ordered consumer from `fromSeq` (1 = everything),
 * calling `onMessage` for each message in stream order, until stopped. The
 * consumer is recreated by the client after a gap or a reconnect.
 */
export async function follow(
  js: JetStreamClient,
  stream: string,
  filterSubject: string,
  fromSeq: number,
  onMessage: (msg: JsMsg) => void,
): Promise<Follower> {
  const consumer = await js.consumers.get(stream, {
    filter_subjects: filterSubject,
    ...(fromSeq > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }
      : {}),
  });
  const messages = await consumer.consume({
    callback: onMessage,
    max_messages: 4096,
    expires: PULL_EXPIRES_MS,
  });
  return {
    stop: async () => {
      await messages.close();
    },
  };
}
