import { compared, cpuLines, type Benchmark } from './benchmark.js';
import { withGraphLoad, type AddNodeResult } from './graph-service-load.js';
import { medianRound } from './stats.js';

/** Commands in flight. */
const WINDOW = 256;

// Both settings run side by side, each on its own nats-server and service,
// and take turns in short rounds: drift on the shared machine then weighs on
// both alike, and the medians are compared. Quick runs one round, a smoke
// test rather than a comparison.
const FULL = { rounds: 7, graphs: 2_000, warmUp: 5_000, commands: 15_000 };
const QUICK = { rounds: 1, graphs: 500, warmUp: 500, commands: 4_000 };

/**
 * Issue 3, what integrity costs on the command path: AddNode over NATS to the
 * graph service in its own process, 256 in flight round-robin over graphs
 * created first (untimed), with CIM_INTEGRITY=on (commit macs, signed
 * checkpoints appended to the stream) against off. Fast durability, so that
 * fsyncs do not hide the CPU cost. Each setting has its own nats-server and
 * service, both started first; rounds alternate on, off, off, on… and the
 * median round of each setting is compared.
 */
export const benchmark: Benchmark = {
  name: 'integrity-cost',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;
    const setup = (integrity: boolean) => ({
      service: {
        durability: 'fast' as const,
        integrity,
        nodeArgs: childNodeArgs,
      },
      graphs: counts.graphs,
      window: WINDOW,
    });
    const rounds = await withGraphLoad(setup(true), (on) =>
      withGraphLoad(setup(false), async (off) => {
        const loads = { on, off };
        const results: Record<Setting, AddNodeResult[]> = { on: [], off: [] };
        // Warm both services up (the timed part of this is discarded).
        for (const setting of SETTINGS)
          await loads[setting].addNodes({
            warmUp: counts.warmUp,
            count: WINDOW,
            window: WINDOW,
          });
        for (let round = 0; round < counts.rounds; round++) {
          // Each setting goes first every other round.
          const order = round % 2 === 0 ? SETTINGS : [...SETTINGS].reverse();
          for (const setting of order) {
            const result = await loads[setting].addNodes({
              warmUp: 0,
              count: counts.commands,
              window: WINDOW,
            });
            results[setting].push(result);
            note(
              `round ${round + 1}, integrity ${setting}: ${result.perSecond.toFixed(0)} cmd/s, service ${result.serviceCpuUs?.toFixed(0) ?? '?'} µs CPU/cmd`,
            );
          }
        }
        return results;
      }),
    );
    const on = medianRound(rounds.on);
    const off = medianRound(rounds.off);
    return [
      compared(
        'integrity-on-vs-off-add-node',
        on.perSecond,
        'cmd/s',
        off.perSecond,
        '>=0.95',
      ),
      // CPU per command varies less with the machine's load than throughput does.
      ...cpuLines('integrity-on', 'cmd', { 'service-cpu': on.serviceCpuUs }),
      ...cpuLines('integrity-off', 'cmd', { 'service-cpu': off.serviceCpuUs }),
    ];
  },
};

type Setting = 'on' | 'off';
const SETTINGS: readonly Setting[] = ['on', 'off'];
