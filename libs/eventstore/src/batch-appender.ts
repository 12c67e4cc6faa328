import {
  createInbox,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { parseAck } from './ack.js';
import type { AppendHeaders } from './append-headers.js';
import { AppendError, AppendFailure } from './errors.js';
import {
  HEADER_ROOM,
  type AppendCallback,
  type PipelinedAppender,
} from './pipelined-appender.js';

/** How commits are grouped into atomic batches. */
export interface BatchOptions {
  /**
   * Most commits in one batch; default 256 (nats-server takes up to 1000). A
   * batch takes whatever waits when a slot frees, so batches only grow this
   * large when commands queue up behind the fsyncs.
   */
  readonly maxCount?: number;
  /** Most payload bytes in one batch; default 1 MiB. */
  readonly maxBytes?: number;
  /**
   * Batches (or single commits) awaiting their ack at once; default 4: under
   * load more batches overlap the server's fsyncs (strict AddNode 9.2–10.5k
   * commands/s against 8.4–9.2k with 2, on a noisy 2-core VM).
   */
  readonly maxInFlight?: number;
  /** Milliseconds after which an unanswered batch fails as unavailable; default 5000. */
  readonly ackTimeoutMs?: number;
  /** Told the size of every batch (and lone commit, as 1) as it leaves; for metrics and tests. */
  readonly onBatch?: (size: number) => void;
}

interface Member {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: AppendHeaders;
  readonly callback: AppendCallback;
}

interface Batch {
  readonly id: number;
  readonly members: readonly Member[];
  readonly deadline: number;
}

/** nats-server's largest atomic batch. */
const MAX_BATCH = 1000;

const BATCH_HEADERS = [
  'Nats-Batch-Id',
  'Nats-Batch-Sequence',
  'Nats-Batch-Commit',
] as const;

/**
 * Group commit for strict durability: commits of different aggregates that
 * wait together go out as one JetStream atomic batch (nats-server 2.12+), so
 * one fsync covers them all. Each member is still its own message with its
 * own `Nats-Expected-Last-Subject-Sequence` and `Nats-Msg-Id`, set as raw
 * headers (the client's batch API drops `expect` on `add()` and costs a round
 * trip before it). Only the commit message asks for a reply, under one shared
 * inbox. Nothing waits out a time window: whatever queued while earlier
 * batches were in flight goes out as soon as one is acknowledged, and a lone
 * commit is a plain publish. When a batch is refused as a whole (one member's
 * expectation or a repeated id), every member is resubmitted on its own at
 * once, so only the conflicting one fails and re-decides.
 */
export class BatchAppender {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly onBatch: ((size: number) => void) | undefined;
  private queue: Member[] = [];
  private batches: Batch[] = [];
  private singles = 0;
  private nextId = 0;
  private scheduled = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly single: PipelinedAppender,
    options: BatchOptions = {},
  ) {
    this.maxCount = Math.min(options.maxCount ?? 256, MAX_BATCH);
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.onBatch = options.onBatch;
    this.prefix = createInbox();
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error !== null) return; // the subscription closed: sweep fails whatever is left
        this.settle(Number(msg.subject.slice(this.prefix.length + 1)), msg);
      },
    });
    this.sweeper = setInterval(
      () => this.sweep(Date.now()),
      Math.min(250, this.ackTimeoutMs),
    ).unref();
  }

  /** Commits queued or awaiting their ack. */
  get inFlight(): number {
    return (
      this.queue.length +
      this.batches.reduce((n, b) => n + b.members.length, 0) +
      this.singles
    );
  }

  /** Queues one commit; it leaves with the next batch. `callback` runs once. */
  append(
    subject: string,
    payload: Uint8Array,
    headers: AppendHeaders,
    callback: AppendCallback,
  ): void {
    const member = { subject, payload, headers, callback };
    const maxPayload = this.nc.info?.max_payload ?? Infinity;
    if (payload.length >= maxPayload - HEADER_ROOM) {
      // It may not fit in one message: on its own, its refusal is its own, not its batch's.
      this.sendSingle(member);
      return;
    }
    this.queue.push(member);
    this.schedule();
  }

  /** Fails everything queued or in flight as unavailable. */
  close(): void {
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    const closed = new AppendError(
      AppendFailure.unavailable,
      'event store closed',
    );
    for (const m of [...this.queue, ...this.batches.flatMap((b) => b.members)])
      m.callback(closed, undefined);
    this.queue = [];
    this.batches = [];
  }

  private schedule(): void {
    if (this.scheduled || this.busy()) return;
    this.scheduled = true;
    // After this turn's I/O callbacks: every commit decided in the same turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private busy(): boolean {
    return this.batches.length + this.singles >= this.maxInFlight;
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.busy()) {
      const members = this.take();
      this.onBatch?.(members.length);
      if (members.length === 1) this.sendSingle(members[0]!);
      else this.sendBatch(members);
    }
  }

  /** The next batch: queue order, bounded by count and bytes, one commit per subject. */
  private take(): Member[] {
    const members: Member[] = [];
    const rest: Member[] = [];
    const subjects = new Set<string>();
    let bytes = 0;
    for (const m of this.queue) {
      const fits =
        members.length < this.maxCount &&
        (members.length === 0 || bytes + m.payload.length <= this.maxBytes) &&
        !subjects.has(m.subject);
      if (fits) {
        members.push(m);
        subjects.add(m.subject);
        bytes += m.payload.length;
      } else {
        rest.push(m);
      }
    }
    this.queue = rest;
    return members;
  }

  private sendSingle(member: Member): void {
    this.singles++;
    this.single.append(
      member.subject,
      member.payload,
      member.headers,
      (error, ack) => {
        this.singles--;
        member.callback(error, ack);
        this.schedule();
      },
    );
  }

  private sendBatch(members: Member[]): void {
    const id = ++this.nextId;
    const batchId = `${this.prefix.slice(-8)}${id}`;
    this.batches.push({
      id,
      members,
      deadline: Date.now() + this.ackTimeoutMs,
    });
    try {
      // A member goes out in a batch once (a refused batch's members go on their own), so its
      // headers hold no batch header yet.
      members.forEach((m, i) => {
        m.headers.append('Nats-Batch-Id', batchId);
        m.headers.append('Nats-Batch-Sequence', String(i + 1));
        if (i < members.length - 1) {
          this.nc.publish(m.subject, m.payload, {
            headers: m.headers.forPublish(),
          });
        } else {
          m.headers.append('Nats-Batch-Commit', '1');
          this.nc.publish(m.subject, m.payload, {
            headers: m.headers.forPublish(),
            reply: `${this.prefix}.${id}`,
          });
        }
      });
    } catch (cause) {
      this.fail(
        id,
        new AppendError(
          AppendFailure.unavailable,
          'cannot publish: connection closed',
          0,
          { cause },
        ),
      );
    }
  }

  private settle(id: number, msg: Parameters<typeof parseAck>[0]): void {
    const at = this.batches.findIndex((b) => b.id === id);
    if (at < 0) return; // timed out earlier: reported as unknown
    const [batch] = this.batches.splice(at, 1);
    const outcome = parseAck(msg);
    if (outcome instanceof AppendError) {
      if (
        outcome.failure === AppendFailure.unavailable ||
        outcome.failure === AppendFailure.full
      ) {
        for (const m of batch!.members) m.callback(outcome, undefined);
      } else {
        // Refused as a whole, nothing stored: each member on its own tells whose expectation failed.
        for (const m of batch!.members) {
          for (const name of BATCH_HEADERS) m.headers.delete(name);
          this.sendSingle(m);
        }
      }
    } else {
      // An atomic batch is stored contiguously, its commit message last.
      const first = outcome.seq - batch!.members.length + 1;
      batch!.members.forEach((m, i) =>
        m.callback(undefined, { seq: first + i, duplicate: false }),
      );
    }
    this.schedule();
  }

  private fail(id: number, error: AppendError): void {
    const at = this.batches.findIndex((b) => b.id === id);
    if (at < 0) return;
    const [batch] = this.batches.splice(at, 1);
    for (const m of batch!.members) m.callback(error, undefined);
    this.schedule();
  }

  private sweep(now: number): void {
    for (const batch of this.batches.filter((b) => b.deadline <= now)) {
      this.fail(
        batch.id,
        new AppendError(
          AppendFailure.unavailable,
          `no batch ack within ${this.ackTimeoutMs} ms; outcome unknown`,
        ),
      );
    }
  }
}
