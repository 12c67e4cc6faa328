import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalNats, type LocalNats } from './nats-server.js';
import { OptionsError, parseOptions, workspaceRoot } from './options.js';
import { Supervised } from './supervisor.js';
import { keysDir, loadMasterKey, rotateKey } from '@cim/service';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const root = workspaceRoot(dirname(fileURLToPath(import.meta.url)));
  const options = parseOptions(process.argv.slice(2), process.env, root);
  const logDir = join(options.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  // (1) NATS: our own server unless CIM_NATS_URL points elsewhere.
  let nats: LocalNats | undefined;
  let natsUrl = options.natsUrl;
  let natsVersion = 'external';
  if (natsUrl === undefined) {
    const port = await reusablePort(join(options.dataDir, 'nats.port'));
    say(
      `starting nats-server (${options.natsBinary}) on 127.0.0.1:${port}, durability ${options.durability}`,
    );
    nats = await startLocalNats({
      binary: options.natsBinary,
      dataDir: options.dataDir,
      port,
      durability: options.durability,
      warn: say,
    });
    natsUrl = nats.url;
    natsVersion = nats.version;
  }
  writeFileSync(join(options.dataDir, 'nats.url'), `${natsUrl}\n`);

  // (2) Every domain service, then the gateway.
  const domains = readdirSync(join(root, 'services')).filter(
    (name) =>
      name !== 'gateway' &&
      existsSync(join(root, 'services', name, 'dist', 'main.js')),
  );
  const baseEnv = {
    ...process.env,
    CIM_NATS_URL: natsUrl,
    CIM_DATA_DIR: options.dataDir,
    CIM_DURABILITY: options.durability,
    LOG_LEVEL: options.logLevel,
  };
  for (const domain of options.replicas.keys()) {
    if (!domains.includes(domain)) {
      throw new OptionsError(
        `--replicas names ${domain}, which is not one of ${domains.join(', ')}`,
      );
    }
  }
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
  for (const { name, service } of instances) {
    const httpPort = await freePort();
    processes.push(
      new Supervised(
        {
          name,
          script: join(root, 'services', service, 'dist', 'main.js'),
          env: {
            ...baseEnv,
            CIM_HTTP_PORT: String(httpPort),
            CIM_GRPC_PORT: String(options.grpcPort),
          },
          httpPort,
          logFile: join(logDir, `${name.replace('#', '-')}.log`),
        },
        say,
      ),
    );
  }

  let stopping = false;
  const stopAll = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // A terminal's Ctrl-C reaches every process of the group at once: none of their exits is a crash.
    for (const p of processes) p.expectExit();
    say(`\n${signal}: stopping the gateway, the services, then NATS`);
    const gateway = processes.at(-1);
    await gateway?.stop();
    await Promise.all(processes.slice(0, -1).map((p) => p.stop()));
    await nats?.stop();
    rmSync(join(options.dataDir, 'nats.url'), { force: true });
    say('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stopAll('SIGINT'));
  process.once('SIGTERM', () => void stopAll('SIGTERM'));
  nats?.process.once('exit', (code) => {
    if (!stopping) {
      say(
        `nats-server exited (code ${code}); see ${join(options.dataDir, 'nats', 'nats-server.log')}`,
      );
      void stopAll('nats-server exit');
    }
  });

  const started = Date.now();
  for (const p of processes) {
    p.start();
    const t0 = Date.now();
    await p.waitReady(60_000);
    say(
      `  ✓ ${p.spec.name.padEnd(16)} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  say(`fleet ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  printTable(natsUrl, natsVersion, options.grpcPort, processes, logDir);
}

function printTable(
  natsUrl: string,
  natsVersion: string,
  grpcPort: number,
  processes: Supervised[],
  logDir: string,
): void {
  const rows = [
    ['what', 'where', 'notes'],
    ['nats', natsUrl, `nats-server ${natsVersion}`],
    [
      'gRPC gateway',
      `127.0.0.1:${grpcPort}`,
      'all domains; health + reflection',
    ],
    ...processes.map((p) => [
      p.spec.name,
      `http://127.0.0.1:${p.spec.httpPort}/metrics`,
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
  process.stdout.write(`\ntry: npm run cim -- status\nstop: Ctrl-C\n`);
}

/** The port recorded from an earlier run when it is still free, else a new free one (recorded). */
async function reusablePort(file: string): Promise<number> {
  const previous = existsSync(file)
    ? Number(readFileSync(file, 'utf8').trim())
    : NaN;
  const port =
    Number.isInteger(previous) && (await isFree(previous))
      ? previous
      : await freePort();
  writeFileSync(file, `${port}\n`);
  return port;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(
          typeof address === 'object' && address !== null ? address.port : 0,
        ),
      );
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

main().catch((error: unknown) => {
  say(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(error instanceof OptionsError ? 2 : 1);
});
