import {
  createInbox,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { parseAck, type Ack } from './ack.js';
import type { AppendHeaders } from './append-headers.js';
import { AppendError, AppendFailure } from './errors.js';

/** Receives the outcome of one append: an error, or the ack. */
export type AppendCallback = (
  error: AppendError | undefined,
  ack: Ack | undefined,
) => void;

interface Pending {
  readonly id: number;
  readonly deadline: number;
  readonly callback: AppendCallback;
  done: boolean;
}

/**
 * Why a publish threw: the client refuses a message over the server's max_payload before
 * sending it (no retry can help), and any publish on a closed connection.
 */
export function publishFailure(
  nc: NatsConnection,
  bytes: number,
  cause: unknown,
): AppendError {
  const maxPayload = nc.info?.max_payload;
  if (
    !nc.isClosed() &&
    maxPayload !== undefined &&
    bytes >= maxPayload - HEADER_ROOM
  )
    return new AppendError(
      AppendFailure.tooLarge,
      `commit of ${bytes} bytes (and its headers) is over the server's max_payload of ${maxPayload} bytes`,
      0,
      { cause },
    );
  return new AppendError(
    AppendFailure.unavailable,
    nc.isClosed()
      ? 'cannot publish: connection closed'
      : `cannot publish: ${cause instanceof Error ? cause.message : String(cause)}`,
    0,
    { cause },
  );
}

/** Room kept for an append's headers when comparing its payload with max_payload. */
export const HEADER_ROOM = 1024;

/**
 * Publishes to JetStream without a round trip per message: every publish
 * names a reply subject under one shared inbox subscription, and pending
 * appends wait in a FIFO. Acks come back in publish order on one connection,
 * so matching one is O(1); an ack that overtakes others (a leader change in a
 * cluster) is found by a short forward scan, and the ones it passed keep
 * waiting for their own ack or their deadline. No promise, timer or map entry
 * is created per message.
 */
export class PipelinedAppender {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private queue: Pending[] = [];
  private head = 0;
  private nextId = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** Milliseconds after which an unanswered append fails as `unavailable` (outcome unknown). */
    private readonly ackTimeoutMs = 5000,
  ) {
    this.prefix = createInbox();
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error !== null) return; // the subscription closed: sweep fails whatever is left
        this.settle(
          Number(msg.subject.slice(this.prefix.length + 1)),
          parseAck(msg),
        );
      },
    });
    this.sweeper = setInterval(
      () => this.sweep(Date.now()),
      Math.min(250, ackTimeoutMs),
    ).unref();
  }

  /** Appends waiting for their ack. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /** Publishes one message; `callback` runs once, with the ack or the reason it failed. */
  append(
    subject: string,
    payload: Uint8Array,
    headers: AppendHeaders,
    callback: AppendCallback,
  ): void {
    const id = ++this.nextId;
    this.queue.push({
      id,
      deadline: Date.now() + this.ackTimeoutMs,
      callback,
      done: false,
    });
    try {
      this.nc.publish(subject, payload, {
        reply: `${this.prefix}.${id}`,
        headers: headers.forPublish(),
      });
    } catch (cause) {
      this.settle(id, publishFailure(this.nc, payload.length, cause));
    }
  }

  /** Fails every pending append as unavailable and stops listening for acks. */
  close(): void {
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    const left = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const p of left) {
      if (!p.done)
        p.callback(
          new AppendError(AppendFailure.unavailable, 'event store closed'),
          undefined,
        );
    }
  }

  private settle(id: number, outcome: Ack | AppendError): void {
    const { queue } = this;
    for (let i = this.head; i < queue.length; i++) {
      const p = queue[i]!;
      if (p.id > id) return; // already timed out and dropped: its outcome was reported as unknown
      if (p.id === id) {
        if (p.done) return;
        p.done = true;
        this.advance();
        if (outcome instanceof AppendError) p.callback(outcome, undefined);
        else p.callback(undefined, outcome);
        return;
      }
    }
  }

  private sweep(now: number): void {
    const { queue } = this;
    while (this.head < queue.length) {
      const p = queue[this.head]!;
      if (!p.done) {
        if (p.deadline > now) break;
        p.done = true;
        p.callback(
          new AppendError(
            AppendFailure.unavailable,
            `no ack within ${this.ackTimeoutMs} ms; outcome unknown`,
          ),
          undefined,
        );
      }
      this.head++;
    }
    this.compact();
  }

  /** Drops settled entries from the front. */
  private advance(): void {
    const { queue } = this;
    while (this.head < queue.length && queue[this.head]!.done) this.head++;
    this.compact();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
