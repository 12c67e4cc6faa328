import { performance } from 'node:perf_hooks';
import { serverFeatures, streamConfig } from '@cim/eventstore';
import { eventSubject, streamName, uuidv7 } from '@cim/kernel';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
} from '@nats-io/nats-core';
import { checkAck, type AppendLimit } from './jetstream-append.js';
import { cpuMeter } from './processes.js';
import { rate } from './stats.js';

/** How many raw atomic batches to time, and with what. */
export interface BatchLimitOptions {
  /** Messages timed, rounded up to whole batches. */
  readonly messages: number;
  /** Messages sent first, untimed, rounded up to whole batches. */
  readonly warmUp: number;
  /** Messages per atomic batch. */
  readonly batchSize: number;
  /** Batches waiting for their ack at once. */
  readonly inFlight: number;
  /** The commit bytes every message carries. */
  readonly payload: Uint8Array;
  /** The nats-server's process id, to measure its CPU time per message. */
  readonly serverPid: number;
  /** Milliseconds one run may take before it fails; default 120 000. */
  readonly timeoutMs?: number;
}

/**
 * The most a single Node client gets out of strict storage: JetStream atomic
 * batches (nats-server 2.12+) into the `graph` domain's stream, created with
 * the event store's own config, exactly as the event store's group commit
 * sends them. Every message is on its own subject and carries a unique
 * `Nats-Msg-Id`, `Nats-Expected-Last-Subject-Sequence: 0`, `Nats-Batch-Id`
 * and `Nats-Batch-Sequence`; the last one also `Nats-Batch-Commit: 1` and the
 * only reply subject, under one shared subscription, with `inFlight` batches
 * pipelined. Its worth depends on the server: run it against one with
 * `sync_interval: always`, where each batch costs one fsync. A single-replica
 * file stream also stages every batch in a temporary file store of its own
 * (nats-server's newBatchStore), a fixed cost per batch that this includes,
 * as the event store pays it too. Resolves with
 * messages per second and their CPU cost; throws when a batch was refused or
 * the stream does not hold every message.
 */
export async function measureBatchLimit(
  nc: NatsConnection,
  options: BatchLimitOptions,
): Promise<AppendLimit> {
  const features = serverFeatures(nc);
  if (!features.atomicBatch) {
    throw new Error(
      `nats-server ${features.version} has no atomic batches (2.12+ has)`,
    );
  }
  const jsm = await jetstreamManager(nc);
  const stream = streamName('graph');
  await jsm.streams.add(
    streamConfig({ domain: 'graph', replicas: 1 }, features),
  );
  // Earlier runs on the same server are counted out.
  const before = (await jsm.streams.info(stream)).state.messages;
  const publisher = new BatchPublisher(nc, options);
  try {
    const batches = (messages: number): number =>
      Math.max(1, Math.ceil(messages / options.batchSize));
    if (options.warmUp > 0) await publisher.run(batches(options.warmUp));
    const timed = batches(options.messages) * options.batchSize;
    const cpu = cpuMeter([options.serverPid, process.pid]);
    const seconds = await publisher.run(batches(options.messages));
    const [serverCpuUs, clientCpuUs] = cpu(timed);
    const stored = (await jsm.streams.info(stream)).state.messages;
    if (stored - before !== publisher.sent) {
      throw new Error(
        `the stream took ${stored - before} messages for ${publisher.sent} acknowledged batch members`,
      );
    }
    return { perSecond: rate(timed, seconds), serverCpuUs, clientCpuUs };
  } finally {
    publisher.close();
  }
}

interface ActiveRun {
  readonly total: number;
  /** Global number of this run's batch 0. */
  readonly base: number;
  readonly answered: Uint8Array;
  readonly started: number;
  sent: number;
  acked: number;
  readonly resolve: (seconds: number) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Keeps a fixed number of atomic batches in flight with no promise or timer
 * per batch: each ack publishes the next batch. One run at a time.
 */
class BatchPublisher {
  readonly #nc: NatsConnection;
  readonly #options: BatchLimitOptions;
  readonly #prefix: string;
  /** Batch ids must be unique per stream while open; this tags ours apart from any other publisher's. */
  readonly #tag = uuidv7().slice(-12);
  readonly #unsubscribe: () => void;
  #nextBatch = 0;
  #run: ActiveRun | undefined;
  /** Messages published in all runs; also names each message's own subject. */
  sent = 0;

  constructor(nc: NatsConnection, options: BatchLimitOptions) {
    this.#nc = nc;
    this.#options = options;
    this.#prefix = `${createInbox()}.`;
    const subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        // A subscription error ends the run through its time-out.
        if (error === null) this.#onAck(msg);
      },
    });
    this.#unsubscribe = () => subscription.unsubscribe();
  }

  /** Sends `total` batches keeping `inFlight` unacknowledged; resolves with the seconds from first publish to last ack. */
  run(total: number): Promise<number> {
    if (this.#run !== undefined)
      return Promise.reject(new Error('a run is already in progress'));
    return new Promise<number>((resolve, reject) => {
      const timeoutMs = this.#options.timeoutMs ?? 120_000;
      const run: ActiveRun = {
        total,
        base: this.#nextBatch,
        answered: new Uint8Array(total),
        started: performance.now(),
        sent: 0,
        acked: 0,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#run = undefined;
          reject(
            new Error(
              `${total - run.acked} of ${total} batch acks missing after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.#nextBatch += total;
      this.#run = run;
      try {
        for (let i = Math.min(this.#options.inFlight, total); i > 0; i--)
          this.#send(run);
      } catch (error) {
        this.#end(run, error);
      }
    });
  }

  /** Stops listening for acks; a run in progress fails by its time-out. */
  close(): void {
    this.#unsubscribe();
  }

  #send(run: ActiveRun): void {
    const batch = run.base + run.sent++;
    const batchId = `${this.#tag}-${batch}`;
    const size = this.#options.batchSize;
    for (let i = 1; i <= size; i++) {
      const h = headers();
      h.set('Nats-Msg-Id', uuidv7());
      h.set('Nats-Expected-Last-Subject-Sequence', '0');
      h.set('Nats-Batch-Id', batchId);
      h.set('Nats-Batch-Sequence', String(i));
      const subject = eventSubject(
        'graph',
        `batch-${this.#tag}-${this.sent++}`,
      );
      if (i < size) {
        this.#nc.publish(subject, this.#options.payload, { headers: h });
      } else {
        h.set('Nats-Batch-Commit', '1');
        this.#nc.publish(subject, this.#options.payload, {
          headers: h,
          reply: `${this.#prefix}${batch}`,
        });
      }
    }
  }

  #onAck(msg: Msg): void {
    const run = this.#run;
    if (run === undefined) return; // an ack to a run that already timed out
    const index = Number(msg.subject.slice(this.#prefix.length)) - run.base;
    if (!(index >= 0 && index < run.total) || run.answered[index] === 1) return;
    run.answered[index] = 1;
    const failure = checkAck(msg);
    if (failure !== undefined) {
      this.#end(run, new Error(`an atomic batch was refused: ${failure}`));
      return;
    }
    run.acked++;
    try {
      if (run.sent < run.total) this.#send(run);
    } catch (error) {
      this.#end(run, error);
      return;
    }
    if (run.acked === run.total) {
      clearTimeout(run.timer);
      this.#run = undefined;
      run.resolve((performance.now() - run.started) / 1000);
    }
  }

  #end(run: ActiveRun, error: unknown): void {
    clearTimeout(run.timer);
    this.#run = undefined;
    run.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
