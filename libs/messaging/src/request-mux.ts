import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { errorFromReply, isErrorReply, UnavailableError } from './errors.js';

/** Receives the outcome of one request: the error, or the reply's bytes. */
export type ReplyCallback = (
  error: Error | undefined,
  data: Uint8Array | undefined,
) => void;

interface Pending {
  readonly subject: string;
  readonly deadline: number;
  readonly callback: ReplyCallback;
}

/**
 * Request/reply for a process that forwards many requests (the gateway):
 * one shared reply subscription, a map of pending requests and one sweeper
 * for time-outs, instead of the client's per-request timer and the error
 * objects it builds up front. Replies and failures are reported exactly like
 * `request()`: an error reply rejects with the error it carries, no responder
 * or a time-out with UnavailableError.
 */
export class RequestMux {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** Default milliseconds a request waits; default 5000. */
    private readonly timeoutMs = 5000,
  ) {
    this.prefix = createInbox();
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error === null) this.settle(msg);
      },
    });
    this.sweeper = setInterval(() => this.sweep(Date.now()), 100).unref();
  }

  /** Sends a request and resolves with the reply's bytes. */
  request(
    subject: string,
    payload: Uint8Array,
    headers?: MsgHdrs,
    timeoutMs = this.timeoutMs,
  ): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.send(
        subject,
        payload,
        headers,
        (error, data) => {
          if (error === undefined) resolve(data!);
          else reject(error);
        },
        timeoutMs,
      );
    });
  }

  /** `request` without a promise: `callback` runs once, with the reply's bytes or the error. */
  send(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    callback: ReplyCallback,
    timeoutMs = this.timeoutMs,
  ): void {
    const id = ++this.nextId;
    this.pending.set(id, {
      subject,
      deadline: Date.now() + timeoutMs,
      callback,
    });
    try {
      const reply = `${this.prefix}.${id}`;
      this.nc.publish(
        subject,
        payload,
        headers === undefined ? { reply } : { reply, headers },
      );
    } catch (cause) {
      this.pending.delete(id);
      callback(
        new UnavailableError(`${subject}: the message bus is unreachable`, {
          cause,
        }),
        undefined,
      );
    }
  }

  /** Fails every pending request and stops listening. */
  close(): void {
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    for (const p of this.pending.values())
      p.callback(new UnavailableError(`${p.subject}: closed`), undefined);
    this.pending.clear();
  }

  private settle(msg: Msg): void {
    const id = Number(msg.subject.slice(this.prefix.length + 1));
    const p = this.pending.get(id);
    if (p === undefined) return; // timed out already
    this.pending.delete(id);
    if (msg.headers?.code === 503)
      p.callback(
        new UnavailableError(`${p.subject}: no service is answering`),
        undefined,
      );
    else if (isErrorReply(msg)) p.callback(errorFromReply(msg), undefined);
    else p.callback(undefined, msg.data);
  }

  private sweep(now: number): void {
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.callback(
        new UnavailableError(
          `${p.subject}: the service did not answer in time`,
        ),
        undefined,
      );
    }
  }
}
