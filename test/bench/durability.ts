import { serverFeatures } from '@cim/eventstore';
import { connect } from '@nats-io/transport-node';
import {
  Cleanup,
  compared,
  cpuLines,
  informational,
  type Benchmark,
} from './benchmark.js';
import {
  withGraphLoad,
  type AddNodeResult,
  type GraphLoad,
} from './graph-service-load.js';
import { measureBatchLimit } from './jetstream-batch-append.js';
import { startNatsServer } from './nats-harness.js';
import { measureThin } from './thin-command.js';
import type { AppendLimit } from './jetstream-append.js';
import { medianRound } from './stats.js';

/** Commands in flight under load. */
const WINDOW = 256;
/** Messages per raw atomic batch: the event store's default largest batch. */
const BATCH_SIZE = 64;
/** Raw batches in flight: enough to keep the server's fsyncs back to back. */
const BATCHES_IN_FLIGHT = 4;

// Sized for a shared two-core machine, where strict mode runs at a few
// thousand commands per second: about 50 s in all.
const FULL = {
  /** Strict commands and raw batches alternate this many times; the medians are compared. */
  rounds: 3,
  graphs: 2_000,
  warmUp: 3_000,
  strictCommands: 15_000,
  fastCommands: 25_000,
  oneWarmUp: 200,
  oneCommands: 2_000,
  batchWarmUp: 1_280,
  batchMessages: 25_600,
};

const QUICK = {
  rounds: 1,
  graphs: 500,
  warmUp: 500,
  strictCommands: 3_000,
  fastCommands: 5_000,
  oneWarmUp: 20,
  oneCommands: 200,
  batchWarmUp: 640,
  batchMessages: 6_400,
};

type Counts = typeof FULL;

/** What one durability mode measured. */
interface ModeResult {
  /** 256 in flight (strict: the median round). */
  readonly loaded: AddNodeResult;
  /** One command at a time. */
  readonly single: AddNodeResult;
}

/** Strict mode against its limit, measured in alternating rounds. */
interface StrictResult extends ModeResult {
  /** The median round of raw atomic batches. */
  readonly limit: AppendLimit;
  /** A stored AddNode commit, byte for byte: the raw batches carry it. */
  readonly commit: Uint8Array;
}

/**
 * Issue 9, what strict durability costs. AddNode over NATS to the graph
 * service in its own process, 256 in flight round-robin over graphs created
 * first (untimed), then one at a time: (a) strict, a `sync_interval: always`
 * server and CIM_DURABILITY=strict, so concurrent commits leave as atomic
 * batches, one fsync each; (b) fast, the server's lazy sync and single
 * pipelined appends. (c) The raw limit of strict storage: pipelined atomic
 * batches of 64 on a `sync_interval: always` server, with the bytes of an
 * AddNode commit that (a) stored and the headers the event store sends.
 * Every part has its own nats-server; a and c alternate in rounds, and their
 * median rounds are compared. Reports a's rate against c and against
 * b, and a's latency at concurrency 1 against b's (the price of one fsync per
 * lone command). For information, (a)'s load on a thin responder that only
 * appends the same bytes in strict mode: the floor of (a) against c.
 */
export const benchmark: Benchmark = {
  name: 'durability',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;

    // 1 and 2. Strict, and the raw limit of strict storage with the bytes of
    // a commit strict stored, in alternating rounds on two servers: a shared
    // machine's drift then weighs on both alike. Strict writes are on disk
    // when acknowledged, so neither leaves dirty pages to weigh on the other.
    const strict = await withGraphLoad(
      {
        server: { syncAlways: true },
        service: { durability: 'strict', nodeArgs: childNodeArgs },
        graphs: counts.graphs,
        window: WINDOW,
      },
      async (load) => {
        const features = serverFeatures(load.nc);
        // Without atomic batches strict mode is one fsync per commit, not the design under test.
        if (!features.atomicBatch) {
          throw new Error(
            `nats-server ${features.version} has no atomic batches (2.12+ has); strict mode cannot group commits`,
          );
        }
        return strictRounds(load, counts, note);
      },
    );
    report(note, 'strict', strict);
    const { limit } = strict;

    // 3. The floor of strict commands: the same load on a responder that only appends.
    const thin = await measureThin({
      graphs: counts.graphs,
      warmUp: counts.warmUp,
      commands: counts.strictCommands,
      window: WINDOW,
      commit: strict.commit,
      durability: 'strict',
      childNodeArgs,
    });
    note(
      `strict, a responder that only appends: ${thin.perSecond.toFixed(0)} cmd/s = ${(thin.perSecond / limit.perSecond).toFixed(2)} of the limit`,
    );

    // 4. Fast, last: its lazily synced writes would otherwise weigh on the others.
    const fast = await withGraphLoad(
      {
        service: { durability: 'fast', nodeArgs: childNodeArgs },
        graphs: counts.graphs,
        window: WINDOW,
      },
      (load) => measureMode(load, counts.fastCommands, counts),
    );
    report(note, 'fast', fast);

    return [
      compared(
        'durability-strict-add-node',
        strict.loaded.perSecond,
        'cmd/s',
        limit.perSecond,
        '>=0.6',
      ),
      // No target: what strict commands with no domain work reach against the same limit.
      compared(
        'durability-strict-thin',
        thin.perSecond,
        'cmd/s',
        limit.perSecond,
        '',
      ),
      informational('durability-strict-p50', strict.loaded.latency.p50, 'ms'),
      informational('durability-strict-p99', strict.loaded.latency.p99, 'ms'),
      informational('durability-fast-p50', fast.loaded.latency.p50, 'ms'),
      informational('durability-fast-p99', fast.loaded.latency.p99, 'ms'),
      compared(
        'durability-strict-p50-c1',
        strict.single.latency.p50,
        'ms',
        fast.single.latency.p50,
        '<=2.5',
      ),
      compared(
        'durability-strict-vs-fast',
        strict.loaded.perSecond,
        'cmd/s',
        fast.loaded.perSecond,
        '',
      ),
      informational('durability-strict-batch-limit', limit.perSecond, 'msg/s'),
      ...cpuLines('durability-strict', 'cmd', {
        'service-cpu': strict.loaded.serviceCpuUs,
        'server-cpu': strict.loaded.serverCpuUs,
      }),
      ...cpuLines('durability-fast', 'cmd', {
        'service-cpu': fast.loaded.serviceCpuUs,
        'server-cpu': fast.loaded.serverCpuUs,
      }),
      ...cpuLines('durability-strict-batch', 'msg', {
        'server-cpu': limit.serverCpuUs,
      }),
    ];
  },
};

/**
 * Strict AddNode 256 in flight and raw atomic batches of 64, alternating for
 * `counts.rounds` rounds (the raw batches on a `sync_interval: always` server
 * of their own), then strict one at a time. The median round of each is kept.
 */
async function strictRounds(
  load: GraphLoad,
  counts: Counts,
  note: (text: string) => void,
): Promise<StrictResult> {
  const cleanup = new Cleanup();
  try {
    const server = cleanup.add(
      await startNatsServer({ syncAlways: true }),
      (s) => s.stop(),
    );
    const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
      c.close(),
    );
    const loaded: AddNodeResult[] = [];
    const limits: AppendLimit[] = [];
    let commit: Uint8Array | undefined;
    for (let round = 0; round < counts.rounds; round++) {
      loaded.push(
        await load.addNodes({
          warmUp: round === 0 ? counts.warmUp : 0,
          count: counts.strictCommands,
          window: WINDOW,
        }),
      );
      commit ??= await load.lastCommit();
      limits.push(
        await measureBatchLimit(nc, {
          messages: counts.batchMessages,
          warmUp: round === 0 ? counts.batchWarmUp : 0,
          batchSize: BATCH_SIZE,
          inFlight: BATCHES_IN_FLIGHT,
          payload: commit,
          serverPid: server.pid,
        }),
      );
      note(
        `round ${round + 1}: strict ${loaded[round]!.perSecond.toFixed(0)} cmd/s, raw atomic batches of ${BATCH_SIZE} × ${commit.length} B, ${BATCHES_IN_FLIGHT} in flight: ${limits[round]!.perSecond.toFixed(0)} msg/s`,
      );
    }
    const single = await load.addNodes({
      warmUp: counts.oneWarmUp,
      count: counts.oneCommands,
      window: 1,
    });
    return {
      loaded: medianRound(loaded),
      single,
      limit: medianRound(limits),
      commit: commit!,
    };
  } finally {
    await cleanup.run();
  }
}

/** AddNode 256 in flight, then one at a time, on the same service and graphs. */
async function measureMode(
  load: GraphLoad,
  commands: number,
  counts: Counts,
): Promise<ModeResult> {
  const loaded = await load.addNodes({
    warmUp: counts.warmUp,
    count: commands,
    window: WINDOW,
  });
  const single = await load.addNodes({
    warmUp: counts.oneWarmUp,
    count: counts.oneCommands,
    window: 1,
  });
  return { loaded, single };
}

function report(
  note: (text: string) => void,
  mode: string,
  { loaded, single }: ModeResult,
): void {
  note(
    `${mode}: ${loaded.perSecond.toFixed(0)} cmd/s, p50 ${loaded.latency.p50.toFixed(2)} ms, p99 ${loaded.latency.p99.toFixed(2)} ms at ${WINDOW} in flight; p50 ${single.latency.p50.toFixed(2)} ms one at a time`,
  );
}
