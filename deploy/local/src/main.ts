import {
  existsSync,
  mkdirSync,
  readdirSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planTopology, type TopologyPlan } from '@cim/nats-topology';
import {
  atLeast,
  natsServerProcess,
  natsVersion as versionOf,
} from './nats-server.js';
import { OptionsError, parseOptions, workspaceRoot } from './options.js';
import { recordedPorts, reserve } from './ports.js';
import { Supervised, readyz } from './supervisor.js';
import {
  SERVICE_NODE_OPTIONS,
  keysDir,
  loadMasterKey,
  rotateKey,
  topologyFile,
} from '@cim/service';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Every process started so far, so that a failed start-up stops them again. */
const launched: Supervised[] = [];

async function main(): Promise<void> {
  const root = workspaceRoot(dirname(fileURLToPath(import.meta.url)));
  const options = parseOptions(process.argv.slice(2), process.env, root);
  const logDir = join(options.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  // (1) NATS: our own servers unless CIM_NATS_URL points elsewhere.
  const domains = readdirSync(join(root, 'services')).filter(
    (name) =>
      name !== 'gateway' &&
      existsSync(join(root, 'services', name, 'dist', 'main.js')),
  );
  for (const domain of options.replicas.keys()) {
    if (!domains.includes(domain)) {
      throw new OptionsError(
        `--replicas names ${domain}, which is not one of ${domains.join(', ')}`,
      );
    }
  }
  // Held until the gateway starts: taken meanwhile, it would fail to bind, restart and fail
  // again until the readiness wait gave up.
  const releaseGrpcPort = await reserve(options.grpcPort);
  if (releaseGrpcPort === undefined)
    throw new Error(
      `port ${options.grpcPort} for the gRPC gateway is in use; set CIM_GRPC_PORT to a free port`,
    );
  const natsDir = join(options.dataDir, 'nats');
  mkdirSync(natsDir, { recursive: true });
  const ports = recordedPorts(join(natsDir, 'ports.json'));
  const plan: TopologyPlan | undefined =
    options.natsUrl === undefined
      ? await planTopology({
          kind: options.topology,
          domains,
          storeRoot: natsDir,
          port: (listener) => ports.take(listener),
        })
      : undefined;
  ports.save();
  const servers: Supervised[] = [];
  let natsVersion = 'external';
  if (plan !== undefined) {
    natsVersion = versionOf(options.natsBinary);
    if (!atLeast(natsVersion, 2, 12)) {
      say(
        `nats-server ${natsVersion} is older than 2.12: no atomic batches or sync_interval; acknowledged writes may be lost on power failure`,
      );
    }
    say(
      `starting ${plan.servers.length} nats-server${plan.servers.length > 1 ? 's' : ''} (${options.natsBinary} ${natsVersion}), topology ${plan.kind}, durability ${options.durability}`,
    );
    for (const server of plan.servers) {
      servers.push(
        new Supervised(
          natsServerProcess(server, {
            binary: options.natsBinary,
            version: natsVersion,
            dir: natsDir,
            durability: options.durability,
          }),
          say,
        ),
      );
    }
    for (const server of servers) {
      launched.push(server);
      server.start();
    }
    await Promise.all(servers.map((server) => server.waitReady(60_000)));
  } else if (options.durability === 'strict') {
    // A client cannot read a server's sync setting: say what strict needs of it.
    say(
      `using the nats-server at ${options.natsUrl} (CIM_NATS_URL), not started here: strict durability holds only if it runs with jetstream { sync_interval: always } (nats-server 2.12+), which cannot be checked from here`,
    );
  }
  const natsUrl = plan?.clientUrl ?? options.natsUrl!;
  writeFileSync(join(options.dataDir, 'nats.url'), `${natsUrl}\n`);
  writeFileSync(topologyFile(options.dataDir), `${options.topology}\n`);

  // (2) Every domain service, then the gateway: each connects where the topology says.
  const baseEnv = {
    ...process.env,
    CIM_DATA_DIR: options.dataDir,
    CIM_DURABILITY: options.durability,
    CIM_TOPOLOGY: options.topology,
    CIM_REPLICAS: String(plan?.replicas ?? 1),
    LOG_LEVEL: options.logLevel,
  };
  // Every instance of a domain must sign with the same key: create it before any of them starts.
  for (const domain of domains) {
    const dir = keysDir(options.dataDir, domain);
    if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.pem'))) {
      say(`generated a development signing key in ${rotateKey(dir)}`);
    }
  }
  // One vault master key for the whole fleet, written before any service reads it.
  loadMasterKey({
    dir: join(options.dataDir, 'keys'),
    env: process.env,
    onGenerated: (path) =>
      say(`generated a development vault master key in ${path}`),
  });
  const processes: Supervised[] = [];
  const instances = [
    ...domains.flatMap((domain) =>
      Array.from({ length: options.replicas.get(domain) ?? 1 }, (_, i) => ({
        name: i === 0 ? domain : `${domain}#${i + 1}`,
        service: domain,
      })),
    ),
    { name: 'gateway', service: 'gateway' },
  ];
  // HTTP ports are recorded with the NATS ones: a metrics scraper finds each process where it was.
  const httpPorts = new Map<Supervised, number>();
  for (const { name, service } of instances) {
    const listener = `http:${name}`;
    let httpPort = await ports.take(listener);
    const supervised = new Supervised(
      {
        name,
        command: process.execPath,
        args: [
          ...SERVICE_NODE_OPTIONS,
          join(root, 'services', service, 'dist', 'main.js'),
        ],
        env: () => ({
          ...baseEnv,
          CIM_NATS_URL: plan?.urlFor(service) ?? natsUrl,
          CIM_HTTP_PORT: String(httpPort),
          CIM_GRPC_PORT: String(options.grpcPort),
        }),
        ready: () => readyz(httpPort),
        // A process that stopped because another took its port would otherwise fail the same way at every restart.
        beforeRestart: async () => {
          const was = httpPort;
          httpPort = await ports.retake(listener);
          if (httpPort === was) return;
          ports.save();
          httpPorts.set(supervised, httpPort);
          say(
            `${name}: HTTP port ${was} is taken; now on http://127.0.0.1:${httpPort}/metrics`,
          );
        },
        logFile: join(logDir, `${name.replace('#', '-')}.log`),
      },
      say,
    );
    httpPorts.set(supervised, httpPort);
    processes.push(supervised);
  }
  ports.save();

  let stopping = false;
  const stopAll = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // A terminal's Ctrl-C reaches every process of the group at once: none of their exits is a crash.
    for (const p of [...processes, ...servers]) p.expectExit();
    say(`\n${signal}: stopping the gateway, the services, then NATS`);
    const gateway = processes.at(-1);
    await gateway?.stop();
    await Promise.all(processes.slice(0, -1).map((p) => p.stop()));
    await Promise.all(servers.map((p) => p.stop()));
    rmSync(join(options.dataDir, 'nats.url'), { force: true });
    say('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stopAll('SIGINT'));
  process.once('SIGTERM', () => void stopAll('SIGTERM'));

  const started = Date.now();
  for (const p of processes) {
    launched.push(p);
    if (p.spec.name === 'gateway') await releaseGrpcPort();
    p.start();
    const t0 = Date.now();
    await p.waitReady(60_000);
    say(
      `  ✓ ${p.spec.name.padEnd(16)} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  say(`fleet ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  printTable(
    plan,
    natsUrl,
    natsVersion,
    options.grpcPort,
    processes.map((p) => ({
      name: p.spec.name,
      httpPort: httpPorts.get(p)!,
      pid: p.pid,
    })),
    logDir,
    // The CLI finds the fleet through <data dir>/nats.url, in .data unless told otherwise.
    options.dataDir === join(root, '.data')
      ? 'npm run cim -- status'
      : `CIM_DATA_DIR=${shellWord(options.dataDir)} npm run cim -- status`,
  );
}

/** `word` as one shell word: as it is when it needs no quoting, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w./@%+=:,-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", "'\\''")}'`;
}

function printTable(
  plan: TopologyPlan | undefined,
  natsUrl: string,
  natsVersion: string,
  grpcPort: number,
  processes: readonly {
    name: string;
    httpPort: number;
    pid: number | undefined;
  }[],
  logDir: string,
  statusCommand: string,
): void {
  const nats =
    plan === undefined
      ? [['nats', natsUrl, 'external server']]
      : plan.servers.map((server) => [
          server.name,
          `nats://127.0.0.1:${server.port}`,
          `nats-server ${natsVersion}; ${
            server.role === 'leaf'
              ? `leaf node, JetStream domain ${server.jetStreamDomain ?? ''}`
              : server.role === 'hub'
                ? 'hub: gateway and tools'
                : server.role === 'node'
                  ? 'cluster node, R3 streams'
                  : 'all streams'
          }`,
        ]);
  const rows = [
    ['what', 'where', 'notes'],
    ...nats,
    [
      'gRPC gateway',
      `127.0.0.1:${grpcPort}`,
      'all domains; health + reflection',
    ],
    ...processes.map((p) => [
      p.name,
      `http://127.0.0.1:${p.httpPort}/metrics`,
      `pid ${p.pid ?? '-'}; /healthz /readyz`,
    ]),
    ['logs', logDir, ''],
  ];
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((r) => r[i]!.length)),
  );
  for (const row of rows)
    process.stdout.write(
      `${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`,
    );
  process.stdout.write(`\ntry: ${statusCommand}\nstop: Ctrl-C\n`);
}

main().catch(async (error: unknown) => {
  say(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  // Nothing is left behind.
  for (const p of launched) p.expectExit();
  await Promise.all(launched.map((p) => p.stop()));
  process.exit(error instanceof OptionsError ? 2 : 1);
});
