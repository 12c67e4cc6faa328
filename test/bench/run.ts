// The benchmark runner behind `npm run bench`: runs every benchmark in one
// process, one after the other, and prints one JSON result per line on stdout
// and a PASS/MISS summary on stderr. Exits 1 only when a benchmark crashed; a
// missed target is a result, not a failure.
//
//   node test/dist/bench/run.js [--quick] [--only <name-substring>] [--cpu-prof <dir>]
//     [--node-arg <flag>]...
//
// --cpu-prof writes a V8 CPU profile of every child process (services, gateway,
// gRPC baseline server) into <dir> when it stops. --node-arg passes a Node or
// V8 flag to those child processes too (e.g. --node-arg=--single-threaded-gc),
// to compare run-time settings in the same run conditions.
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  meetsTarget,
  type BenchLine,
  type Benchmark,
  type BenchOptions,
} from './benchmark.js';
import {
  natsServerBinary,
  natsServerVersion,
  versionAtLeast,
} from './nats-harness.js';

// Run order. Each name is a module `./<name>.js` that exports a benchmark with
// that name; adding a benchmark is its file plus one line here.
const names: readonly string[] = [
  'graph-add-node',
  'graph-info',
  'graph-decide',
  'durability',
  'integrity-cost',
  'integrity-verify',
  'document-ingest',
  'location-find-nearby',
  'conceptualspaces-find-similar',
  'fleet-topologies',
];

async function load(name: string): Promise<Benchmark> {
  const module = (await import(`./${name}.js`)) as Readonly<
    Record<string, unknown>
  >;
  // Most modules export `benchmark`; some name the export after the benchmark
  // (`integrityVerify`), so any export of that name will do.
  const found = Object.values(module).find(
    (value): value is Benchmark => isBenchmark(value) && value.name === name,
  );
  if (found === undefined)
    throw new Error(`./${name}.js does not export a benchmark named ${name}`);
  return found;
}

function isBenchmark(value: unknown): value is Benchmark {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as {
    readonly name?: unknown;
    readonly run?: unknown;
  };
  return (
    typeof candidate.name === 'string' && typeof candidate.run === 'function'
  );
}

const USAGE =
  'usage: run.js [--quick] [--only <name-substring>] [--cpu-prof <dir>] [--node-arg <flag>]...';

function options(): {
  quick: boolean;
  only: string | undefined;
  childNodeArgs: string[];
} {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        'cpu-prof': { type: 'string' },
        'node-arg': { type: 'string', multiple: true, default: [] },
      },
    });
    const profileDir = values['cpu-prof'];
    return {
      quick: values.quick,
      only: values.only,
      childNodeArgs: [
        ...(profileDir === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`]),
        ...values['node-arg'],
      ],
    };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

const { quick, only, childNodeArgs } = options();
const selected = names.filter(
  (name) => only === undefined || name.includes(only),
);
if (selected.length === 0) {
  process.stderr.write(
    `no benchmark matches ${JSON.stringify(only)}; there are: ${names.join(', ')}\n`,
  );
  process.exit(2);
}

// Every figure depends on the server: say which one, and when it is older than the project needs.
const serverBinary = natsServerBinary();
const serverVersion = await natsServerVersion(serverBinary);
process.stderr.write(
  `nats-server ${serverVersion} (${serverBinary})${
    versionAtLeast(serverVersion, '2.12.0')
      ? ''
      : ': older than the 2.12 the project needs; run through `npm run bench`, or set CIM_NATS_SERVER'
  }\n`,
);

const results: BenchLine[] = [];
const crashed: string[] = [];
const started = performance.now();
for (const name of selected) {
  const note = (text: string): void => {
    process.stderr.write(`[${name}] ${text}\n`);
  };
  const runOptions: BenchOptions = { quick, childNodeArgs, note };
  const t0 = performance.now();
  try {
    const benchmark = await load(name);
    for (const line of await benchmark.run(runOptions)) {
      results.push(line);
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    note(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    crashed.push(name);
    note(
      `crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
}

const summary = results.map((line) => {
  const met = meetsTarget(line);
  const verdict = met === undefined ? 'INFO' : met ? 'PASS' : 'MISS';
  const versus =
    line.target === ''
      ? ''
      : `  (baseline ${line.baseline}, ratio ${line.ratio}, target ${line.target})`;
  return `${verdict}  ${line.name} = ${line.value} ${line.unit}${versus}`;
});
for (const name of crashed) summary.push(`CRASH ${name}`);
process.stderr.write(
  `\n${summary.join('\n')}\n${((performance.now() - started) / 1000).toFixed(1)} s${quick ? ' (quick)' : ''}\n`,
);
// Exit explicitly: a grpc-js channel or NATS timer must not keep a finished run alive.
process.exit(crashed.length > 0 ? 1 : 0);
