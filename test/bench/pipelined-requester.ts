import { performance } from 'node:perf_hooks';
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { whileRunning, type ChildHandle } from './processes.js';

/** One request to publish: where, what, and with which headers. */
export interface PipelinedRequest {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers?: MsgHdrs;
}

/** One run of requests through a {@link PipelinedRequester}. */
export interface PipelinedRunOptions {
  /** How many requests to send. */
  readonly count: number;
  /** How many may wait for their reply at once. */
  readonly window: number;
  /** Builds request `index` (0-based, in send order); called just before it is published. */
  readonly request: (index: number) => PipelinedRequest;
  /** Describes what is wrong with a reply, or returns undefined for a good one. */
  readonly check: (reply: Msg) => string | undefined;
  /** Keep each request's round-trip time; default false. */
  readonly latencies?: boolean;
  /** Milliseconds the whole run may take before it fails with the count of missing replies; default 120 000. */
  readonly timeoutMs?: number;
}

/** What a run measured. */
export interface PipelinedRunResult {
  /** Replies received (all requests, when the run resolved). */
  readonly replies: number;
  /** Replies that `check` found wrong. */
  readonly failures: number;
  /** The first of those, described by `check`. */
  readonly firstFailure: string | undefined;
  /** From the first publish to the last reply. */
  readonly seconds: number;
  /** Round-trip milliseconds per request, in send order; empty unless asked for. */
  readonly latenciesMs: Float64Array;
}

interface ActiveRun {
  readonly options: PipelinedRunOptions;
  /** Global id of this run's request 0. */
  readonly base: number;
  readonly answered: Uint8Array;
  readonly sentAt: Float64Array;
  readonly latencies: Float64Array;
  readonly started: number;
  sent: number;
  replies: number;
  failures: number;
  firstFailure: string | undefined;
  readonly resolve: (result: PipelinedRunResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A load generator that keeps a fixed number of NATS requests in flight
 * without a round trip, promise or timer per request: every request is a
 * plain publish whose reply subject is `<inbox>.<id>` under ONE shared
 * subscription, and each reply publishes the next request. One run at a time.
 */
export class PipelinedRequester {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #subscription: Subscription;
  #nextId = 0;
  #run: ActiveRun | undefined;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        // A subscription error ends the run through its time-out, which names the missing replies.
        if (error === null) this.#onReply(msg);
      },
    });
  }

  /** Sends `count` requests keeping `window` in flight; resolves when every reply arrived. */
  run(options: PipelinedRunOptions): Promise<PipelinedRunResult> {
    if (this.#run !== undefined)
      return Promise.reject(new Error('a run is already in progress'));
    const { count, window } = options;
    if (count <= 0 || window <= 0)
      return Promise.reject(new Error('count and window must be positive'));
    return new Promise<PipelinedRunResult>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 120_000;
      const run: ActiveRun = {
        options,
        base: this.#nextId,
        answered: new Uint8Array(count),
        sentAt: new Float64Array(count),
        latencies: new Float64Array(options.latencies === true ? count : 0),
        started: performance.now(),
        sent: 0,
        replies: 0,
        failures: 0,
        firstFailure: undefined,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#run = undefined;
          reject(
            new Error(
              `${count - run.replies} of ${count} replies missing after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.#nextId += count;
      this.#run = run;
      try {
        for (let i = Math.min(window, count); i > 0; i--) this.#send(run);
      } catch (error) {
        clearTimeout(run.timer);
        this.#run = undefined;
        reject(asError(error));
      }
    });
  }

  /** Stops listening for replies; a run in progress fails by its time-out. */
  close(): void {
    this.#subscription.unsubscribe();
  }

  #send(run: ActiveRun): void {
    const index = run.sent++;
    const { subject, payload, headers } = run.options.request(index);
    run.sentAt[index] = performance.now();
    this.#nc.publish(subject, payload, {
      reply: `${this.#prefix}${run.base + index}`,
      ...(headers === undefined ? {} : { headers }),
    });
  }

  #onReply(msg: Msg): void {
    const run = this.#run;
    if (run === undefined) return; // a reply to a run that already timed out
    const index = Number(msg.subject.slice(this.#prefix.length)) - run.base;
    const { count } = run.options;
    if (!(index >= 0 && index < count) || run.answered[index] === 1) return;
    run.answered[index] = 1;
    const now = performance.now();
    if (run.latencies.length > 0)
      run.latencies[index] = now - run.sentAt[index]!;
    const failure = run.options.check(msg);
    if (failure !== undefined) {
      run.failures++;
      run.firstFailure ??= failure;
    }
    run.replies++;
    try {
      if (run.sent < count) this.#send(run);
    } catch (error) {
      clearTimeout(run.timer);
      this.#run = undefined;
      run.reject(asError(error));
      return;
    }
    if (run.replies === count) {
      clearTimeout(run.timer);
      this.#run = undefined;
      run.resolve({
        replies: run.replies,
        failures: run.failures,
        firstFailure: run.firstFailure,
        seconds: (now - run.started) / 1000,
        latenciesMs: run.latencies,
      });
    }
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Runs the requests while `children` run; throws when any reply was refused
 * (`what` names the commands in the message) or a child exits meanwhile.
 */
export async function mustSucceed(
  requester: PipelinedRequester,
  what: string,
  options: PipelinedRunOptions,
  children: readonly ChildHandle[] = [],
): Promise<PipelinedRunResult> {
  const result = await whileRunning(children, requester.run(options));
  if (result.failures > 0) {
    throw new Error(
      `${result.failures} of ${options.count} ${what} commands failed; first: ${result.firstFailure}`,
    );
  }
  return result;
}
