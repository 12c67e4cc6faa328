import { eventSubject, streamName } from '@cim/kernel';
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { AppendHeaders } from './append-headers.js';
import type { Ack } from './ack.js';
import { BatchAppender, type BatchOptions } from './batch-appender.js';
import { type AppendError } from './errors.js';
import {
  PipelinedAppender,
  type AppendCallback,
} from './pipelined-appender.js';
import {
  follow,
  readSubject,
  type Follower,
  type StoredCommit,
} from './reader.js';
import { serverFeatures, type ServerFeatures } from './server-features.js';
import { SnapshotStore } from './snapshot-store.js';
import { ensureStream, type StreamOptions } from './stream.js';

/** Options of a domain's event store. */
export interface EventStoreOptions extends StreamOptions {
  /** Milliseconds an append waits for its ack before failing as unavailable; default 5000. */
  readonly ackTimeoutMs?: number;
  /**
   * strict (default): concurrent commits go out as atomic batches, so one
   * fsync of a `sync_interval: always` server covers many (needs nats-server
   * 2.12+; older servers fall back to single appends). fast: single pipelined
   * appends, for servers that sync lazily.
   */
  readonly durability?: 'strict' | 'fast';
  readonly batch?: BatchOptions;
}

/** How appends leave: one message at a time, or grouped into atomic batches. */
interface Appender {
  readonly inFlight: number;
  append(
    subject: string,
    payload: Uint8Array,
    headers: AppendHeaders,
    callback: AppendCallback,
  ): void;
  close(): void;
}

/**
 * A domain's commits in its JetStream stream: one message per commit on
 * `cim.<domain>.evt.<aggregateId>`, appended with optimistic concurrency
 * (`Nats-Expected-Last-Subject-Sequence`) and de-duplicated by command id
 * (`Nats-Msg-Id`). Appends are pipelined; reads and replays use ordered
 * consumers; snapshots live in a KV bucket.
 */
export class EventStore {
  private readonly appender: Appender;
  private readonly single: PipelinedAppender;
  /** How long the stream remembers a msg id: a repeat within it is not stored again. */
  readonly duplicateWindowMs: number;

  private constructor(
    readonly domain: string,
    readonly stream: string,
    readonly features: ServerFeatures,
    readonly snapshots: SnapshotStore,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    nc: NatsConnection,
    options: EventStoreOptions,
  ) {
    this.duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
    this.single = new PipelinedAppender(nc, options.ackTimeoutMs);
    this.appender =
      (options.durability ?? 'strict') === 'strict' && features.atomicBatch
        ? new BatchAppender(nc, this.single, {
            ackTimeoutMs: options.ackTimeoutMs ?? 5000,
            ...options.batch,
          })
        : this.single;
  }

  /** Whether appends are grouped into atomic batches (strict durability on a 2.12+ server). */
  get batching(): boolean {
    return this.appender !== this.single;
  }

  /** Creates or updates the domain's stream and snapshot bucket, and opens the store. */
  static async open(
    nc: NatsConnection,
    options: EventStoreOptions,
  ): Promise<EventStore> {
    const features = serverFeatures(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, options, features);
    const snapshots = await SnapshotStore.open(
      nc,
      options.domain,
      options.replicas,
    );
    return new EventStore(
      options.domain,
      streamName(options.domain),
      features,
      snapshots,
      jetstream(nc),
      jsm,
      nc,
      options,
    );
  }

  /** Appends still waiting for their ack. */
  get inFlight(): number {
    return this.appender.inFlight;
  }

  /**
   * Appends one commit to an aggregate. `expectedSeq` is the stream sequence
   * of the aggregate's last commit (0 for a new aggregate); `msgId` is the
   * command id. `callback` runs once with the ack (`duplicate` when the
   * command id was already stored) or an AppendError.
   */
  append(
    aggregateId: string,
    expectedSeq: number,
    msgId: string,
    commit: Uint8Array,
    callback: AppendCallback,
  ): void {
    this.appender.append(
      eventSubject(this.domain, aggregateId),
      commit,
      new AppendHeaders(msgId, expectedSeq),
      callback,
    );
  }

  /** Appends to any subject of the domain's stream (checkpoints), with the same guarantees as `append`. */
  appendTo(
    subject: string,
    expectedSeq: number,
    msgId: string,
    data: Uint8Array,
    callback: AppendCallback,
  ): void {
    this.single.append(
      subject,
      data,
      new AppendHeaders(msgId, expectedSeq),
      callback,
    );
  }

  /** `append` as a promise, for callers off the hot path. */
  appendAsync(
    aggregateId: string,
    expectedSeq: number,
    msgId: string,
    commit: Uint8Array,
  ): Promise<Ack> {
    return new Promise((resolve, reject) => {
      this.append(
        aggregateId,
        expectedSeq,
        msgId,
        commit,
        (error: AppendError | undefined, ack) => {
          if (error !== undefined) reject(error);
          else resolve(ack!);
        },
      );
    });
  }

  /**
   * The aggregate's commits with stream sequence >= `fromSeq`, in order. `last`:
   * its last commit as just read with `lastOf` (null: it has none), which bounds
   * the read without asking again.
   */
  read(
    aggregateId: string,
    fromSeq = 1,
    last?: StoredCommit | null,
  ): Promise<StoredCommit[]> {
    return readSubject(
      this.js,
      this.jsm,
      this.stream,
      eventSubject(this.domain, aggregateId),
      fromSeq,
      this.features.directBatch,
      last,
    );
  }

  /**
   * The aggregate's commits stored at or after `sinceMs` (ms since the
   * epoch, by the server's clock), in order. Where the server serves direct
   * gets by time (2.11+) only those are read; elsewhere the whole history.
   */
  async readSince(
    aggregateId: string,
    sinceMs: number,
  ): Promise<StoredCommit[]> {
    if (!this.features.directBatch) return this.read(aggregateId);
    // The first message of the stream stored since then, whatever its subject, bounds the read.
    const first = await this.jsm.direct.getMessage(this.stream, {
      start_time: new Date(sinceMs),
    });
    return first === null ? [] : this.read(aggregateId, first.seq);
  }

  /** The aggregate's last commit, or null when it has none. */
  async lastOf(aggregateId: string): Promise<StoredCommit | null> {
    return (await this.lastOn(eventSubject(this.domain, aggregateId))) ?? null;
  }

  /** The stored message at one stream sequence, or undefined. */
  async get(seq: number): Promise<StoredCommit | undefined> {
    const msg = await this.jsm.direct.getMessage(this.stream, { seq });
    return msg === null
      ? undefined
      : { seq: msg.seq, subject: msg.subject, data: msg.data };
  }

  /** Follows every message of the domain's stream (commits and checkpoints) from `fromSeq`, in order, until stopped. */
  follow(fromSeq: number, onMessage: (msg: JsMsg) => void): Promise<Follower> {
    return follow(
      this.js,
      this.stream,
      `cim.${this.domain}.>`,
      fromSeq,
      onMessage,
    );
  }

  /** The last message on one subject of the stream, or undefined. */
  async lastOn(subject: string): Promise<StoredCommit | undefined> {
    const msg = await this.jsm.direct.getMessage(this.stream, {
      last_by_subj: subject,
    });
    return msg === null
      ? undefined
      : { seq: msg.seq, subject: msg.subject, data: msg.data };
  }

  /** Every message of the stream from `fromSeq` to `toSeq` (both included), in order. */
  async readRange(
    fromSeq: number,
    toSeq: number,
    onMessage: (msg: StoredCommit) => void,
  ): Promise<void> {
    if (toSeq < fromSeq) return;
    let reached!: () => void;
    const done = new Promise<void>((resolve) => (reached = resolve));
    const follower = await follow(
      this.js,
      this.stream,
      `cim.${this.domain}.>`,
      fromSeq,
      (m) => {
        if (m.seq > toSeq) return;
        onMessage({ seq: m.seq, subject: m.subject, data: m.data });
        if (m.seq === toSeq) reached();
      },
    );
    try {
      await done;
    } finally {
      await follower.stop();
    }
  }

  /** The stream's last sequence (0 when empty). */
  async lastSequence(): Promise<number> {
    return (await this.state()).lastSequence;
  }

  /** The stream's last sequence, and the messages and bytes it stores. */
  async state(): Promise<{
    lastSequence: number;
    messages: number;
    bytes: number;
  }> {
    const { state } = await this.jsm.streams.info(this.stream);
    return {
      lastSequence: state.last_seq,
      messages: state.messages,
      bytes: state.bytes,
    };
  }

  /** Fails appends still waiting for an ack and stops listening for acks. */
  close(): void {
    this.appender.close();
    if (this.batching) this.single.close();
  }
}
