import { Gauge, Histogram, type Registry } from 'prom-client';

/** Where the gauges read their values from, at scrape time. */
export interface StateSources {
  /** Client requests taken and not yet answered, and their summed payload bytes. */
  readonly requests: () => {
    readonly requests: number;
    readonly bytes: number;
  };
  /** The stream sequence the read model has folded up to. */
  readonly position: () => number;
  /** The domain stream's last sequence, stored messages and bytes (a request to the server). */
  readonly stream: () => Promise<StreamState>;
  /** Seconds since appends began to fail for want of room or of an ack; 0 while commits are stored. */
  readonly failingAppends: () => number;
  /** Aggregates the command handler keeps in memory, and their summed snapshot bytes. */
  readonly cache: () => { readonly entries: number; readonly bytes: number };
  /** Per reaction, the source events not yet acknowledged (undefined while it is not consuming). */
  readonly reactions: () => Promise<
    ReadonlyArray<{
      readonly name: string;
      readonly pending: number | undefined;
    }>
  >;
}

/** What the server reports of a stream. */
export interface StreamState {
  readonly lastSequence: number;
  readonly messages: number;
  readonly bytes: number;
}

/** Sizes of strict mode's atomic batches: 1 is a commit that went out alone. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000];

/**
 * The state of a running service as gauges a dashboard or alert can watch:
 * how far the read model trails its stream (`cim_read_model_lag`), what the
 * aggregate cache holds, how many foreign events each reaction has left, and
 * how large strict mode's group commits are. Gauges are read when scraped;
 * a value that cannot be read then (the server unreachable) keeps its last.
 */
export function stateMetrics(
  registry: Registry,
  sources: StateSources,
): { readonly batchSize: (size: number) => void } {
  const registers = [registry];
  // The stream's gauges share one request per scrape.
  const stream = shared(() => sources.stream().catch(() => undefined));
  new Gauge({
    name: 'cim_requests_in_flight',
    help: 'Client requests taken and not yet answered (past CIM_MAX_IN_FLIGHT more are refused)',
    registers,
    collect() {
      this.set(sources.requests().requests);
    },
  });
  new Gauge({
    name: 'cim_request_bytes_in_flight',
    help: 'Summed payload bytes of the client requests in flight',
    registers,
    collect() {
      this.set(sources.requests().bytes);
    },
  });
  new Gauge({
    name: 'cim_read_model_position',
    help: 'Stream sequence the read model has folded up to',
    registers,
    collect() {
      this.set(sources.position());
    },
  });
  new Gauge({
    name: 'cim_read_model_lag',
    help: 'Messages stored in the domain stream that the read model has not folded yet',
    registers,
    async collect() {
      const state = await stream();
      if (state !== undefined)
        this.set(Math.max(0, state.lastSequence - sources.position()));
    },
  });
  new Gauge({
    name: 'cim_stream_messages',
    help: 'Messages stored in the domain stream (commits and checkpoints)',
    registers,
    async collect() {
      const state = await stream();
      if (state !== undefined) this.set(state.messages);
    },
  });
  new Gauge({
    name: 'cim_stream_bytes',
    help: 'Bytes the domain stream holds on the server',
    registers,
    async collect() {
      const state = await stream();
      if (state !== undefined) this.set(state.bytes);
    },
  });
  new Gauge({
    name: 'cim_appends_failing_seconds',
    help: 'Seconds since commits began to be refused for want of room or to go unacknowledged; 0 while they are stored',
    registers,
    collect() {
      this.set(sources.failingAppends());
    },
  });
  new Gauge({
    name: 'cim_aggregate_cache_entries',
    help: 'Aggregates the command handler keeps in memory',
    registers,
    collect() {
      this.set(sources.cache().entries);
    },
  });
  new Gauge({
    name: 'cim_aggregate_cache_bytes',
    help: 'Summed snapshot size of the aggregates kept in memory',
    registers,
    collect() {
      this.set(sources.cache().bytes);
    },
  });
  new Gauge({
    name: 'cim_reaction_pending',
    help: 'Foreign events a reaction has not acknowledged yet (not delivered or in progress)',
    labelNames: ['reaction'],
    registers,
    async collect() {
      for (const { name, pending } of await sources.reactions())
        if (pending !== undefined) this.set({ reaction: name }, pending);
    },
  });
  const batches = new Histogram({
    name: 'cim_append_batch_size',
    help: 'Commits per atomic batch in strict durability (1: a commit sent alone)',
    buckets: BATCH_BUCKETS,
    registers,
  });
  return { batchSize: (size) => batches.observe(size) };
}

/**
 * `read`, shared by the callers that come while it is under way: a scrape
 * collects every gauge at once, so the gauges of one scrape share one answer
 * and the next scrape asks again.
 */
function shared<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= read().finally(() => {
      pending = undefined;
    }));
}
