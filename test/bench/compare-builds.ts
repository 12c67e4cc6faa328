// Paired comparison of two builds of the graph service, for changes too small
// to show in single benchmark runs on a shared machine:
//
//   node test/dist/bench/compare-builds.js --against <checkout> [--durability fast|strict]
//     [--rounds 8] [--graphs 2000] [--commands 15000]
//
// <checkout> is another clone of this repository, installed and built (its
// services/graph/dist/main.js runs). Each build gets its own nats-server and
// service, both started first; rounds of AddNode (256 in flight) then take
// turns, A B, B A, … so that drift on the machine weighs on both alike. Each
// round's ratio pairs two neighbouring measurements; the median of those
// ratios is the figure. Prints each round on stderr and one JSON line on
// stdout.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  withGraphLoad,
  type AddNodeResult,
  type GraphLoadSetup,
} from './graph-service-load.js';
import { median, medianRound } from './stats.js';

const WINDOW = 256;

const usage =
  'usage: compare-builds.js --against <checkout> [--durability fast|strict] [--rounds N] [--graphs N] [--commands N]';

interface Options {
  readonly against: string;
  readonly durability: 'fast' | 'strict';
  readonly rounds: number;
  readonly graphs: number;
  readonly commands: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      against: { type: 'string' },
      durability: { type: 'string', default: 'fast' },
      rounds: { type: 'string', default: '8' },
      graphs: { type: 'string', default: '2000' },
      commands: { type: 'string', default: '15000' },
    },
  });
  const count = (name: 'rounds' | 'graphs' | 'commands'): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`--${name} must be a positive whole number\n${usage}`);
    return value;
  };
  if (values.against === undefined)
    throw new Error(`--against is required\n${usage}`);
  if (values.durability !== 'fast' && values.durability !== 'strict')
    throw new Error(`--durability must be fast or strict\n${usage}`);
  return {
    against: resolve(values.against),
    durability: values.durability,
    rounds: count('rounds'),
    graphs: count('graphs'),
    commands: count('commands'),
  };
}

async function main(): Promise<void> {
  const settings = options();
  const setup = (entry?: string): GraphLoadSetup => ({
    ...(settings.durability === 'strict' && { server: { syncAlways: true } }),
    service: {
      durability: settings.durability,
      ...(entry !== undefined && { entry }),
    },
    graphs: settings.graphs,
    window: WINDOW,
  });
  const results = await withGraphLoad(setup(), (mine) =>
    withGraphLoad(
      setup(resolve(settings.against, 'services/graph/dist/main.js')),
      async (theirs) => {
        const loads = { this: mine, other: theirs };
        const rounds: Record<keyof typeof loads, AddNodeResult[]> = {
          this: [],
          other: [],
        };
        for (let round = 0; round < settings.rounds; round++) {
          const order =
            round % 2 === 0
              ? (['other', 'this'] as const)
              : (['this', 'other'] as const);
          for (const which of order) {
            const result = await loads[which].addNodes({
              warmUp: round === 0 ? 5_000 : 0,
              count: settings.commands,
              window: WINDOW,
            });
            rounds[which].push(result);
            process.stderr.write(
              `round ${round + 1}, ${which}: ${result.perSecond.toFixed(0)} cmd/s, service ${result.serviceCpuUs?.toFixed(1) ?? '?'} µs CPU/cmd\n`,
            );
          }
        }
        return rounds;
      },
    ),
  );
  const ratios = results.this.map(
    (mine, i) => mine.perSecond / results.other[i]!.perSecond,
  );
  const cpu = (which: keyof typeof results) =>
    Number(
      median(results[which].map((r) => r.serviceCpuUs ?? Number.NaN)).toFixed(
        1,
      ),
    );
  process.stdout.write(
    `${JSON.stringify({
      durability: settings.durability,
      rounds: settings.rounds,
      thisPerSecond: Math.round(medianRound(results.this).perSecond),
      otherPerSecond: Math.round(medianRound(results.other).perSecond),
      ratios: ratios.map((r) => Number(r.toFixed(3))),
      medianRatio: Number(median(ratios).toFixed(3)),
      thisServiceCpuUs: cpu('this'),
      otherServiceCpuUs: cpu('other'),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
