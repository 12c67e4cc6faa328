import { compared, cpuLines, type Benchmark } from './benchmark.js';
import { withGraphLoad, type AddNodeResult } from './graph-service-load.js';

/** Commands in flight. */
const WINDOW = 256;

// Each run pays a server and service start-up of about two seconds. Four
// short rounds resist the shared machine's bursts better than two long ones;
// quick runs one round, a smoke test rather than a comparison.
const FULL = { rounds: 4, graphs: 2_000, warmUp: 3_000, commands: 15_000 };
const QUICK = { rounds: 1, graphs: 500, warmUp: 500, commands: 4_000 };

/** The best of several runs of one setting. */
interface Best {
  perSecond: number;
  serviceCpuUs: number | undefined;
}

/**
 * Issue 3, what integrity costs on the command path: AddNode over NATS to the
 * graph service in its own process, 256 in flight round-robin over graphs
 * created first (untimed), with CIM_INTEGRITY=on (commit macs, signed
 * checkpoints appended to the stream) against off. Fast durability, so that
 * fsyncs do not hide the CPU cost. Every run has its own nats-server and
 * service; runs alternate on, off, on, off… and each setting keeps its best,
 * so that load from elsewhere on the machine weighs on both alike.
 */
export const benchmark: Benchmark = {
  name: 'integrity-cost',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;
    const best = { on: empty(), off: empty() };
    for (let round = 0; round < counts.rounds; round++) {
      for (const integrity of [true, false]) {
        const result = await withGraphLoad(
          {
            service: { durability: 'fast', integrity, nodeArgs: childNodeArgs },
            graphs: counts.graphs,
            window: WINDOW,
          },
          (load) =>
            load.addNodes({
              warmUp: counts.warmUp,
              count: counts.commands,
              window: WINDOW,
            }),
        );
        const setting = integrity ? 'on' : 'off';
        keepBest(best[setting], result);
        note(
          `integrity ${setting}: ${result.perSecond.toFixed(0)} cmd/s, service ${result.serviceCpuUs?.toFixed(0) ?? '?'} µs CPU/cmd`,
        );
      }
    }
    return [
      compared(
        'integrity-on-vs-off-add-node',
        best.on.perSecond,
        'cmd/s',
        best.off.perSecond,
        '>=0.95',
      ),
      // CPU per command varies less with the machine's load than throughput does.
      ...cpuLines('integrity-on', 'cmd', {
        'service-cpu': best.on.serviceCpuUs,
      }),
      ...cpuLines('integrity-off', 'cmd', {
        'service-cpu': best.off.serviceCpuUs,
      }),
    ];
  },
};

function empty(): Best {
  return { perSecond: 0, serviceCpuUs: undefined };
}

/** The highest rate and, separately, the lowest service CPU per command seen so far. */
function keepBest(best: Best, result: AddNodeResult): void {
  best.perSecond = Math.max(best.perSecond, result.perSecond);
  const cpu = result.serviceCpuUs;
  if (cpu !== undefined)
    best.serviceCpuUs =
      best.serviceCpuUs === undefined ? cpu : Math.min(best.serviceCpuUs, cpu);
}
