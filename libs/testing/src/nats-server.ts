import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { get, request } from 'node:http';
import { connect, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 25;
const DEFAULT_START_TIMEOUT_MS = 10_000;
const DEFAULT_LEADER_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 16_384;
const CONTAINER_IMAGE = 'nats:2.12';
const DOCKER_SOCKET = '/var/run/docker.sock';
import { topologyBlocks } from '@cim/nats-topology';

const BINARY_HINT =
  'run `node scripts/nats-server.mjs` in the workspace root, or set CIM_NATS_SERVER=/path/to/nats-server';

/** Signals that end a server: SIGTERM and SIGINT shut it down cleanly, SIGKILL simulates a crash. */
export type NatsServerKillSignal = 'SIGTERM' | 'SIGINT' | 'SIGKILL';

/** What a `configText` function receives on every (re)start. */
export interface NatsServerConfigContext {
  /** The `server_name`, stable across restarts. */
  readonly name: string;
  /** The client port: -1 (server-chosen) on a first start without `port`, the bound port on restarts. */
  readonly port: number;
  /** The JetStream `store_dir`. */
  readonly storeDir: string;
  /** A private temporary directory that lives until `stop()`, for extra files the config refers to. */
  readonly dir: string;
}

/** Options of {@link startNatsServer}; every field is optional. */
export interface NatsServerOptions {
  /** Enables JetStream; default true. */
  readonly jetstream?: boolean;
  /** The nats-server executable; default {@link natsServerBinary}. */
  readonly binary?: string;
  /** Raw config text appended after the generated config (later keys win). */
  readonly config?: string;
  /** Config text computed per start and appended after `config`, e.g. `cluster {}` or `leafnodes {}` blocks. */
  readonly configText?: (context: NatsServerConfigContext) => string;
  /** Sets JetStream `sync_interval: always` (fsync before every ack); needs nats-server 2.10+. */
  readonly syncAlways?: boolean;
  /** JetStream's `max_file_store` (e.g. `256KB`): a store that fills up soon, for tests of a full one. */
  readonly maxFileStore?: string;
  /** The server's JetStream domain (leaf nodes of the sharded topology). */
  readonly jetstreamDomain?: string;
  /** A JetStream store directory owned by the caller, reused as is and never removed. */
  readonly storeDir?: string;
  /** A fixed client port on 127.0.0.1; default -1 (server-chosen; 0 means the same). */
  readonly port?: number;
  /** Serves the monitoring endpoints on a server-chosen loopback port; default true. */
  readonly monitor?: boolean;
  /** The `server_name`; default a fresh `cim-test-…` name. */
  readonly name?: string;
  /** Extra command line arguments after `-c <config>`. */
  readonly args?: readonly string[];
  /** How long to wait for the server to accept clients, in milliseconds; default 10 000. */
  readonly startTimeoutMs?: number;
}

/** The listen URLs a running server reported in its ports file (empty when a listener is off). */
export interface NatsServerPorts {
  readonly nats: readonly string[];
  readonly monitoring: readonly string[];
  readonly cluster: readonly string[];
  readonly websocket: readonly string[];
}

/**
 * A running nats-server. `url`, `port` and `storeDir` stay the same across `restart()` (a
 * container's mapped port may change); `pid` changes. `stop()` removes the temporary directory;
 * call it (or dispose) even after `kill()`.
 */
export interface NatsServerHandle extends AsyncDisposable {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  /** The `server_name`, as JetStream reports it (e.g. as the meta leader). */
  readonly name: string;
  /** Client port on the loopback interface. */
  readonly port: number;
  /** Process id of the current server process; 0 when the server runs in a container. */
  readonly pid: number;
  /** The JetStream `store_dir` (the server keeps its data in `<storeDir>/jetstream`). */
  readonly storeDir: string;
  /** The server's version, e.g. `2.15.1`. */
  readonly version: string;
  /** Monitoring base URL (`/varz`, `/jsz`, `/healthz`), or undefined when monitoring is off. */
  readonly monitorUrl: string | undefined;
  /** Every listen URL from the ports file. */
  readonly ports: NatsServerPorts;
  /** The last few kilobytes the server logged, for failure messages. */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s), waits for exit and removes the temporary directory; idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit; the store stays for `restart()`. */
  kill(signal?: NatsServerKillSignal): Promise<void>;
  /** Stops the server if it runs and starts it again with the same config, port and store directory. */
  restart(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** The nats-server executable; default {@link natsServerBinary}. */
  readonly binary?: string;
  /** Sets JetStream `sync_interval: always` on every node; needs nats-server 2.10+. */
  readonly syncAlways?: boolean;
  /** Raw config text appended to every node's config. */
  readonly config?: string;
  /** How long to wait for a JetStream meta leader, in milliseconds; default 30 000. */
  readonly leaderTimeoutMs?: number;
}

/** A running JetStream cluster on loopback. */
export interface NatsClusterHandle extends AsyncDisposable {
  /** One handle per node, in start order. */
  readonly servers: readonly NatsServerHandle[];
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** The client URLs joined with commas, as the nats CLI and Go clients accept them. */
  readonly url: string;
  /** The cluster's `name`. */
  readonly name: string;
  /** Stops every node; idempotent. */
  stop(): Promise<void>;
}

/**
 * Finds the nats-server executable: env `CIM_NATS_SERVER`, else the path recorded in
 * `.tools/nats-server.json` (searched from the working directory up to the workspace root),
 * else `nats-server` on PATH. Throws an Error that says how to get one when none exists.
 */
export function natsServerBinary(): string {
  const override = process.env['CIM_NATS_SERVER'];
  if (override !== undefined && override !== '') return override;
  const recorded = recordedBinary(process.cwd());
  if (recorded !== undefined) return recorded;
  const onPath = findOnPath('nats-server');
  if (onPath !== undefined) return onPath;
  throw new Error(`no nats-server found; ${BINARY_HINT}`);
}

/** Runs `<binary> --version` and returns the version, e.g. `2.15.1`; throws when the binary does not run. */
export async function natsServerVersion(binary: string): Promise<string> {
  const text = await new Promise<string>((resolvePromise, reject) => {
    execFile(
      binary,
      ['--version'],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error === null) resolvePromise(`${stdout}${stderr}`);
        else
          reject(
            new Error(`cannot run ${binary} --version; ${BINARY_HINT}`, {
              cause: error,
            }),
          );
      },
    );
  });
  const version = parseVersion(text);
  if (version === undefined)
    throw new Error(`${binary} --version printed no version: ${text.trim()}`);
  return version.join('.');
}

/** True when dotted `version` (e.g. `2.15.1`) is the same as or newer than `minimum`; for version-gated tests. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const have = parseVersion(version);
  const want = parseVersion(minimum);
  if (have === undefined || want === undefined) return false;
  for (let i = 0; i < 3; i += 1) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then released), for configs that need fixed ports. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string')
    throw new Error('could not learn a free port');
  return address.port;
}

/**
 * Starts a nats-server on 127.0.0.1 with a generated config in a fresh temporary directory,
 * learns its ports from the ports file and resolves once it accepts clients. With
 * `CIM_TEST_CONTAINERS=1`, a reachable Docker engine, no binary override and no local-only
 * option (`storeDir`, `port`, `configText`, `args`), the server runs in a `nats:2.12` container.
 */
export async function startNatsServer(
  options: NatsServerOptions = {},
): Promise<NatsServerHandle> {
  if (await useContainer(options)) return startContainer(options);
  const binary = options.binary ?? natsServerBinary();
  const version = await natsServerVersion(binary);
  if (options.syncAlways === true && !versionAtLeast(version, '2.10.0')) {
    throw new Error(
      `syncAlways needs nats-server 2.10 or newer (sync_interval); ${binary} is ${version}`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'cim-nats-'));
  const storeDir = options.storeDir ?? join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  const server = new LocalNatsServer(binary, version, dir, storeDir, options);
  try {
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

/** How many times in all a start whose port was taken meanwhile is tried. */
const PORT_CLASH_ATTEMPTS = 3;

/**
 * Runs `start` again, with whatever ports it picks anew, while it fails
 * because a port picked in advance (a route or leaf-node listener, which the
 * other servers must know before it listens) was taken by another process
 * between {@link freePort} and the server's bind: with many tests starting
 * servers at once, that happens.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (error) {
      const clash =
        error instanceof Error &&
        error.message.includes('address already in use');
      if (!clash || attempt >= PORT_CLASH_ATTEMPTS) throw error;
    }
  }
}

/**
 * Starts `size` JetStream nodes (default 3) routed to each other on free loopback ports and
 * resolves once every node reports the same JetStream meta leader (polled from `/jsz`).
 * On failure every node already started is stopped before the error is thrown; a route
 * port taken meanwhile by another process makes it start again on new ports.
 */
export function startNatsCluster(
  size = 3,
  options: NatsClusterOptions = {},
): Promise<NatsClusterHandle> {
  return retryOnPortClash(() => startClusterOnce(size, options));
}

async function startClusterOnce(
  size: number,
  options: NatsClusterOptions,
): Promise<NatsClusterHandle> {
  const name = `cim-${randomSuffix()}`;
  const routePorts: number[] = [];
  for (let i = 0; i < size; i += 1) routePorts.push(await freePort());
  const started = await Promise.allSettled(
    routePorts.map((routePort, index) =>
      startNatsServer({
        // An explicit binary also keeps cluster nodes out of containers: their routes are loopback ports.
        binary: options.binary ?? natsServerBinary(),
        ...(options.syncAlways === undefined
          ? {}
          : { syncAlways: options.syncAlways }),
        name: `${name}-${index + 1}`,
        config: [
          ...topologyBlocks({
            cluster: { name, port: routePort, routes: routePorts },
          }),
          options.config ?? '',
        ].join('\n'),
      }),
    ),
  );
  const servers = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await stopAll();
    throw failure.reason;
  }
  try {
    await waitForMetaLeader(
      servers,
      options.leaderTimeoutMs ?? DEFAULT_LEADER_TIMEOUT_MS,
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
  const urls = servers.map((server) => server.url);
  return {
    servers,
    urls,
    url: urls.join(','),
    name,
    stop: stopAll,
    [Symbol.asyncDispose]: stopAll,
  };
}

class LocalNatsServer implements NatsServerHandle {
  readonly storeDir: string;
  readonly version: string;
  readonly #binary: string;
  readonly #dir: string;
  readonly #options: NatsServerOptions;
  readonly name: string;
  #port: number;
  #monitorPort: number;
  #ports: NatsServerPorts = {
    nats: [],
    monitoring: [],
    cluster: [],
    websocket: [],
  };
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';
  #stopped: Promise<void> | undefined;

  constructor(
    binary: string,
    version: string,
    dir: string,
    storeDir: string,
    options: NatsServerOptions,
  ) {
    this.#binary = binary;
    this.version = version;
    this.#dir = dir;
    this.storeDir = storeDir;
    this.#options = options;
    this.name = options.name ?? `cim-test-${randomSuffix()}`;
    // Port 0 would mean the default 4222 to nats-server; treat it as "server-chosen" like -1.
    this.#port =
      options.port === undefined || options.port === 0 ? -1 : options.port;
    this.#monitorPort = options.monitor === false ? 0 : -1;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get monitorUrl(): string | undefined {
    return this.#monitorPort > 0
      ? `http://127.0.0.1:${this.#monitorPort}`
      : undefined;
  }

  get ports(): NatsServerPorts {
    return this.#ports;
  }

  output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    const configFile = join(this.#dir, 'nats-server.conf');
    await writeFile(configFile, this.#config());
    const child = spawn(
      this.#binary,
      ['-c', configFile, ...(this.#options.args ?? [])],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    this.#exited = new Promise((resolveExit) => {
      child.once('exit', () => resolveExit());
      // A failed spawn may emit 'error' without 'exit'; start() reports that error itself.
      child.once('error', () => resolveExit());
    });
    const append = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(
        -OUTPUT_TAIL_CHARS,
      );
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw new Error(`cannot start ${this.#binary}; ${BINARY_HINT}`, {
        cause: error,
      });
    }
    track(child);
    // A forgotten server must not keep the test process alive; the exit hook still kills it.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream instanceof Socket) stream.unref();
    }
    try {
      this.#ports = await this.#waitUntilReady(child);
    } catch (error) {
      await this.#terminate('SIGKILL');
      throw error;
    }
    this.#port = portOf(this.#ports.nats[0]);
    if (this.#monitorPort !== 0)
      this.#monitorPort = portOf(this.#ports.monitoring[0]);
  }

  async stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#terminate('SIGTERM');
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  async kill(signal: NatsServerKillSignal = 'SIGKILL'): Promise<void> {
    await this.#terminate(signal);
  }

  async restart(): Promise<void> {
    if (this.#stopped !== undefined)
      throw new Error(`nats-server ${this.name} was stopped; start a new one`);
    await this.#terminate('SIGTERM');
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #config(): string {
    const {
      jetstream = true,
      syncAlways = false,
      config = '',
      configText,
    } = this.#options;
    const lines = [
      `server_name: ${quote(this.name)}`,
      `listen: ${quote(`127.0.0.1:${this.#port}`)}`,
      `ports_file_dir: ${quote(this.#dir)}`,
    ];
    if (this.#monitorPort !== 0)
      lines.push(`http: ${quote(`127.0.0.1:${this.#monitorPort}`)}`);
    if (jetstream) {
      lines.push('jetstream {', `  store_dir: ${quote(this.storeDir)}`);
      if (this.#options.jetstreamDomain !== undefined)
        lines.push(`  domain: ${this.#options.jetstreamDomain}`);
      lines.push(...jetstreamLimits(syncAlways, this.#options.maxFileStore));
      lines.push('}');
    }
    lines.push(config);
    if (configText !== undefined) {
      lines.push(
        configText({
          name: this.name,
          port: this.#port,
          storeDir: this.storeDir,
          dir: this.#dir,
        }),
      );
    }
    return `${lines.join('\n')}\n`;
  }

  async #waitUntilReady(child: ChildProcess): Promise<NatsServerPorts> {
    const timeoutMs = this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const suffix = `_${child.pid}.ports`;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const status = child.signalCode ?? `code ${child.exitCode}`;
        throw new Error(
          `nats-server exited during start-up (${status}):\n${this.#output}`,
        );
      }
      const ports = await readPortsFile(this.#dir, suffix);
      const url = ports?.nats[0];
      if (
        ports !== undefined &&
        url !== undefined &&
        (await answersInfo(portOf(url)))
      )
        return ports;
      await sleep(POLL_MS);
    }
    throw new Error(
      `nats-server did not accept clients within ${timeoutMs} ms:\n${this.#output}`,
    );
  }

  async #terminate(signal: NatsServerKillSignal): Promise<void> {
    const child = this.#child;
    if (
      child === undefined ||
      child.exitCode !== null ||
      child.signalCode !== null
    )
      return;
    // Hold the event loop open until the exit arrives; start() unref'd the child.
    child.ref();
    child.kill(signal);
    const exited = await Promise.race([
      this.#exited.then(() => true),
      sleep(STOP_TIMEOUT_MS, false, { ref: false }),
    ]);
    if (!exited) {
      child.kill('SIGKILL');
      await this.#exited;
    }
  }
}

async function waitForMetaLeader(
  servers: readonly NatsServerHandle[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const views = await Promise.all(
      servers.map((server) => metaCluster(server)),
    );
    const leader = views[0]?.leader;
    const agreed =
      leader !== undefined &&
      leader !== '' &&
      views.every((view) => view?.leader === leader);
    // The leader lists the other nodes as replicas; all current means R3 assets can be placed.
    const leaderView =
      views[servers.findIndex((server) => server.name === leader)];
    const current =
      leaderView?.replicas.length === servers.length - 1 &&
      leaderView.replicas.every(Boolean);
    if (agreed && current) return;
    await sleep(POLL_MS * 4);
  }
  const logs = servers
    .map((server) => `--- ${server.name} ${server.url}\n${server.output()}`)
    .join('\n');
  throw new Error(
    `no JetStream meta leader with current replicas within ${timeoutMs} ms:\n${logs}`,
  );
}

type MetaClusterView = {
  readonly leader: string | undefined;
  readonly replicas: readonly boolean[];
};

async function metaCluster(
  server: NatsServerHandle,
): Promise<MetaClusterView | undefined> {
  if (server.monitorUrl === undefined)
    throw new Error('cluster nodes need monitoring to report a meta leader');
  const body = await httpGet(`${server.monitorUrl}/jsz`);
  if (body === undefined) return undefined;
  const parsed: unknown = JSON.parse(body);
  if (!isRecord(parsed) || !isRecord(parsed['meta_cluster'])) return undefined;
  const { leader, replicas } = parsed['meta_cluster'];
  return {
    leader: typeof leader === 'string' ? leader : undefined,
    replicas: Array.isArray(replicas)
      ? replicas.map(
          (replica) => isRecord(replica) && replica['current'] === true,
        )
      : [],
  };
}

function httpGet(url: string): Promise<string | undefined> {
  return new Promise((resolveBody) => {
    const req = get(url, { timeout: 2_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolveBody(
          res.statusCode === 200
            ? Buffer.concat(chunks).toString('utf8')
            : undefined,
        ),
      );
      res.on('error', () => resolveBody(undefined));
    });
    req.on('timeout', () => req.destroy());
    // A refused or reset connection means "not ready yet"; the caller polls again.
    req.on('error', () => resolveBody(undefined));
  });
}

async function readPortsFile(
  dir: string,
  suffix: string,
): Promise<NatsServerPorts | undefined> {
  const name = (await readdir(dir)).find((entry) => entry.endsWith(suffix));
  if (name === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dir, name), 'utf8'));
  } catch {
    // Read while the server was still writing it; the caller polls again.
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  return {
    nats: strings(parsed['nats']),
    monitoring: strings(parsed['monitoring']),
    cluster: strings(parsed['cluster']),
    websocket: strings(parsed['websocket']),
  };
}

function answersInfo(port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (answer: boolean): void => {
      socket.destroy();
      resolveAnswer(answer);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (received.includes('\r\n')) finish(received.startsWith('INFO '));
    });
    // Not listening yet: the caller polls again.
    socket.on('error', () => finish(false));
  });
}

// Servers started by this process that are still running. Module state on purpose: the exit hook
// below must reach every server, including ones a failed test never stopped.
const running = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  installExitHooks();
  running.add(child);
  child.once('exit', () => running.delete(child));
}

let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killRunning);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killRunning();
      // Our one-shot listener is gone; with no other listener, re-raise for the default exit.
      if (process.listenerCount(signal) === 0)
        process.kill(process.pid, signal);
    });
  }
}

function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

async function useContainer(options: NatsServerOptions): Promise<boolean> {
  if (process.env['CIM_TEST_CONTAINERS'] !== '1') return false;
  if (
    options.binary !== undefined ||
    (process.env['CIM_NATS_SERVER'] ?? '') !== ''
  )
    return false;
  if (
    options.storeDir !== undefined ||
    options.port !== undefined ||
    options.configText !== undefined ||
    options.jetstreamDomain !== undefined ||
    options.args !== undefined
  )
    return false;
  return dockerAnswers();
}

function dockerAnswers(): Promise<boolean> {
  if (!existsSync(DOCKER_SOCKET)) return Promise.resolve(false);
  return new Promise((resolveAnswer) => {
    const req = request(
      { socketPath: DOCKER_SOCKET, path: '/_ping', timeout: 2_000 },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8');
        });
        res.on('end', () =>
          resolveAnswer(res.statusCode === 200 && body.trim() === 'OK'),
        );
        res.on('error', () => resolveAnswer(false));
      },
    );
    req.on('timeout', () => req.destroy());
    // No engine behind the socket: fall back to the local binary.
    req.on('error', () => resolveAnswer(false));
    req.end();
  });
}

async function startContainer(
  options: NatsServerOptions,
): Promise<NatsServerHandle> {
  const { NatsContainer } = await import('@testcontainers/nats');
  const { getContainerRuntimeClient } = await import('testcontainers');
  // NatsContainer always adds `--user test --pass test`; drop them so `url` alone connects, as locally.
  class OpenNatsContainer extends NatsContainer {
    override withCommand(command: string[]): this {
      return super.withCommand(withoutAuthArgs(command));
    }
  }
  const { jetstream = true, syncAlways = false, config = '' } = options;
  const storeDir = '/data';
  const name = options.name ?? `cim-test-${randomSuffix()}`;
  const configText = [
    `server_name: ${quote(name)}`,
    `http: ${quote('0.0.0.0:8222')}`,
    jetstream
      ? [
          'jetstream {',
          `  store_dir: ${quote(storeDir)}`,
          ...jetstreamLimits(syncAlways, options.maxFileStore),
          '}',
        ].join('\n')
      : '',
    config,
  ].join('\n');
  const container = new OpenNatsContainer(CONTAINER_IMAGE)
    .withCopyContentToContainer([
      { content: configText, target: '/etc/cim/nats-server.conf' },
    ])
    .withArg('-c', '/etc/cim/nats-server.conf');
  const started = await container.start();
  const url = (): string =>
    `nats://${started.getHost()}:${started.getMappedPort(4222)}`;
  const monitorUrl = (): string =>
    `http://${started.getHost()}:${started.getMappedPort(8222)}`;
  const varz: unknown = JSON.parse(
    (await httpGet(`${monitorUrl()}/varz`)) ?? '{}',
  );
  const version =
    isRecord(varz) && typeof varz['version'] === 'string'
      ? varz['version']
      : 'unknown';
  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopped ??= started.stop().then(() => undefined);
    return stopped;
  };
  return {
    get url() {
      return url();
    },
    get port() {
      return started.getMappedPort(4222);
    },
    get monitorUrl() {
      return monitorUrl();
    },
    get ports(): NatsServerPorts {
      return {
        nats: [url()],
        monitoring: [monitorUrl()],
        cluster: [],
        websocket: [],
      };
    },
    name,
    pid: 0,
    storeDir,
    version,
    output: () => '',
    stop,
    async kill(signal: NatsServerKillSignal = 'SIGKILL') {
      // Not started.stop(): it caches its result, so a later stop() would no longer remove the container.
      const client = await getContainerRuntimeClient();
      const timeout = signal === 'SIGKILL' ? 0 : STOP_TIMEOUT_MS;
      await client.container.stop(client.container.getById(started.getId()), {
        timeout,
      });
    },
    async restart() {
      await started.restart();
    },
    [Symbol.asyncDispose]: stop,
  };
}

function withoutAuthArgs(command: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < command.length; i += 1) {
    const arg = command[i] ?? '';
    if (arg === '--user' || arg === '--pass') i += 1;
    else kept.push(arg);
  }
  return kept;
}

function recordedBinary(from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const file = join(dir, '.tools', 'nats-server.json');
    if (existsSync(file)) {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (isRecord(parsed) && typeof parsed['path'] === 'string') {
        const binary = resolve(dir, parsed['path']);
        if (isExecutable(binary)) return binary;
      }
    }
    if (existsSync(join(dir, 'pnpm-workspace.yaml')) || dirname(dir) === dir)
      return undefined;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function parseVersion(text: string): [number, number, number] | undefined {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function portOf(url: string | undefined): number {
  const port = url === undefined ? Number.NaN : Number(new URL(url).port);
  if (!Number.isInteger(port) || port <= 0)
    throw new Error(`nats-server reported no usable port: ${String(url)}`);
  return port;
}

function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** The lines of a `jetstream {}` block that the options add after its store directory. */
function jetstreamLimits(
  syncAlways: boolean,
  maxFileStore: string | undefined,
): string[] {
  return [
    ...(syncAlways ? ['  sync_interval: always'] : []),
    ...(maxFileStore === undefined
      ? []
      : [`  max_file_store: ${maxFileStore}`]),
  ];
}
