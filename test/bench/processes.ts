import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/nats-core';
import { SERVICE_NODE_OPTIONS } from '@cim/service';
import { freePort } from './nats-harness.js';

/** The workspace root: this file runs from `test/dist/bench/`. */
export const workspaceRoot = fileURLToPath(
  new URL('../../../', import.meta.url),
);

const POLL_MS = 50;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 8_192;

/** How to run one Node child process that serves `/readyz`. */
export interface ChildOptions {
  /** For messages: `graph service`, `gateway`. */
  readonly name: string;
  /** The script to run: absolute, or relative to the workspace root. */
  readonly entry: string;
  /** Added to this process's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The port the child serves `/readyz` on; it must be in `env` as the child expects it. */
  readonly httpPort: number;
  /** Node arguments before the script, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** Milliseconds to wait for `/readyz` to answer 200; default 30 000. */
  readonly readyTimeoutMs?: number;
}

/** A child process that answered `/readyz`. */
export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  /** The last few kilobytes the child wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM (a service drains and exits; `--cpu-prof` writes its profile), SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
  /** Rejects, with the child's output, if it exits before `stop()`; never resolves. */
  readonly unexpectedExit: Promise<never>;
}

// Children still running. Module state on purpose: the exit hooks below must reach
// every child, including those of a benchmark that crashed before its clean-up.
const running = new Map<number, ChildProcess>();
let hooksInstalled = false;

/**
 * Starts `node <nodeArgs> <entry>` in the workspace root and resolves once
 * `http://127.0.0.1:<httpPort>/readyz` answers 200. Throws, with the child's
 * output, when it exits first or is not ready in time; the child is then killed.
 */
export async function startChild(options: ChildOptions): Promise<ChildHandle> {
  installExitHooks();
  let tail = '';
  let stopping = false;
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  const child = spawn(
    process.execPath,
    // Services run with the Node options npm start gives them.
    [
      ...SERVICE_NODE_OPTIONS,
      ...(options.nodeArgs ?? []),
      resolve(workspaceRoot, options.entry),
    ],
    {
      cwd: workspaceRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    await once(child, 'spawn');
  } catch (cause) {
    throw new Error(`cannot start ${options.name}`, { cause });
  }
  // A later error (a failed kill) must not become an uncaught 'error' event; the exit handler reports the outcome.
  child.on('error', (error) => keep(Buffer.from(`${String(error)}\n`)));
  const pid = child.pid!;
  running.set(pid, child);
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let failed: (error: Error) => void = () => undefined;
  const unexpectedExit = new Promise<never>((_, reject) => {
    failed = reject;
  });
  // Only benchmarks that race against it observe this rejection; the others must not crash on it.
  unexpectedExit.catch(() => undefined);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(pid);
      if (!stopping) {
        failed(
          new Error(
            `${options.name} (pid ${pid}) exited unexpectedly (${signal ?? `code ${code}`}):\n${tail}`,
          ),
        );
      }
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    child.kill('SIGTERM');
    const done = await Promise.race([
      exited.then(() => true),
      sleep(STOP_TIMEOUT_MS, false, { ref: false }),
    ]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const handle: ChildHandle = {
    name: options.name,
    pid,
    output: () => tail,
    stop,
    unexpectedExit,
  };
  try {
    await waitReady(
      options.httpPort,
      options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      () => child.exitCode !== null || child.signalCode !== null,
    );
  } catch (error) {
    stopping = true;
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${options.name} did not become ready:\n${tail}`, {
      cause: error,
    });
  }
  return handle;
}

/**
 * Resolves as `work` does, or rejects as soon as one of `children` exits
 * unexpectedly, so that a crashed service fails its benchmark at once instead
 * of after the requester's time-out.
 */
export function whileRunning<T>(
  children: readonly ChildHandle[],
  work: Promise<T>,
): Promise<T> {
  return Promise.race([work, ...children.map((c) => c.unexpectedExit)]);
}

/** Node arguments and environment shared by the service children. */
export interface ServiceChildOptions {
  readonly natsUrl: string;
  readonly nodeArgs?: readonly string[];
}

/** What the graph service child runs with, beyond the shared options. */
export interface GraphServiceOptions extends ServiceChildOptions {
  /** CIM_DURABILITY; default fast, so that the disk does not hide the service's own cost. */
  readonly durability?: 'strict' | 'fast';
  /** CIM_INTEGRITY (commit macs and signed checkpoints); default: the service's own default, on. */
  readonly integrity?: boolean;
  /** The service's main module, e.g. another checkout's build to compare with; default this workspace's. */
  readonly entry?: string;
}

/**
 * Runs the graph service (`services/graph/dist/main.js`), in fast durability
 * unless told otherwise, with warnings-only logging, and resolves once
 * `/readyz` answers and its `$SRV.PING.cim-graph` is answered through `nc`.
 */
export async function startGraphService(
  nc: NatsConnection,
  options: GraphServiceOptions,
): Promise<ChildHandle> {
  const httpPort = await freePort();
  const handle = await startChild({
    name: 'graph service',
    entry: options.entry ?? 'services/graph/dist/main.js',
    env: {
      CIM_NATS_URL: options.natsUrl,
      CIM_HTTP_PORT: String(httpPort),
      CIM_DURABILITY: options.durability ?? 'fast',
      ...(options.integrity === undefined
        ? {}
        : { CIM_INTEGRITY: options.integrity ? 'on' : 'off' }),
      LOG_LEVEL: 'warn',
    },
    httpPort,
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
  try {
    await waitForResponder(nc, '$SRV.PING.cim-graph');
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** A gateway child and the gRPC port it serves on 127.0.0.1. */
export interface GatewayChild extends ChildHandle {
  readonly grpcPort: number;
}

/** Runs the gateway (`services/gateway/dist/main.js`) on a free gRPC port and resolves once `/readyz` answers. */
export async function startGatewayProcess(
  options: ServiceChildOptions,
): Promise<GatewayChild> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const handle = await startChild({
    name: 'gateway',
    entry: 'services/gateway/dist/main.js',
    env: {
      CIM_NATS_URL: options.natsUrl,
      CIM_GRPC_PORT: String(grpcPort),
      CIM_HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'warn',
    },
    httpPort,
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
  return { ...handle, grpcPort };
}

/** Requests `subject` until something answers, for up to `timeoutMs` (default 10 000). */
export async function waitForResponder(
  nc: NatsConnection,
  subject: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await nc.request(subject, new Uint8Array(0), { timeout: 1_000 });
      return;
    } catch (error) {
      // No responder yet (its subscription is still on the way to the server): ask again.
      if (Date.now() > deadline)
        throw new Error(`nothing answers ${subject}`, { cause: error });
      await sleep(POLL_MS);
    }
  }
}

/**
 * CPU seconds (user + system) that process `pid` has used so far, from
 * `/proc/<pid>/stat`; undefined where there is no procfs or the process is gone.
 */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No procfs (not Linux) or the process has exited: the caller reports no figure.
    return undefined;
  }
  // Fields after the parenthesised command name, which may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime + stime)
    ? (utime + stime) / clockTicks()
    : undefined;
}

/**
 * Starts measuring the CPU time of some processes; the returned function
 * gives each one's CPU microseconds since then divided by `operations`, or
 * undefined for a process it could not read.
 */
export function cpuMeter(
  pids: readonly number[],
): (operations: number) => Array<number | undefined> {
  const before = pids.map(cpuSeconds);
  return (operations) =>
    pids.map((pid, i) => {
      const start = before[i];
      const end = cpuSeconds(pid);
      return start === undefined || end === undefined
        ? undefined
        : ((end - start) * 1e6) / operations;
    });
}

/** CPU seconds of some processes, summed over several measured stretches. */
export class CpuTotals {
  readonly #pids: readonly number[];
  readonly #seconds: Array<number | undefined>;

  constructor(pids: readonly number[]) {
    this.#pids = pids;
    this.#seconds = pids.map(() => 0);
  }

  /** Runs `work` and adds the CPU time each process used meanwhile. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    const before = this.#pids.map(cpuSeconds);
    const result = await work();
    this.#pids.forEach((pid, i) => {
      const start = before[i];
      const end = cpuSeconds(pid);
      const sum = this.#seconds[i];
      this.#seconds[i] =
        start === undefined || end === undefined || sum === undefined
          ? undefined
          : sum + end - start;
    });
    return result;
  }

  /** Each process's CPU microseconds per operation, in constructor order; undefined where unreadable. */
  perOperation(operations: number): Array<number | undefined> {
    return this.#seconds.map((s) =>
      s === undefined ? undefined : (s * 1e6) / operations,
    );
  }
}

let ticks: number | undefined;

function clockTicks(): number {
  if (ticks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(out.stdout?.trim());
    // 100 is the value on every mainstream Linux build; getconf only confirms it.
    ticks = Number.isInteger(value) && value > 0 ? value : 100;
  }
  return ticks;
}

async function waitReady(
  port: number,
  timeoutMs: number,
  exited: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('exited during start-up');
    if ((await readyzStatus(port)) === 200) return;
    await sleep(POLL_MS);
  }
  throw new Error(`/readyz on port ${port} not ready within ${timeoutMs} ms`);
}

function readyzStatus(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/readyz', timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('timeout', () => req.destroy());
    // Not listening yet: the caller polls again.
    req.on('error', () => resolve(undefined));
  });
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
}

function killAll(): void {
  for (const [pid, child] of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone between the exit event and this hook; nothing left to kill.
    }
    running.delete(pid);
  }
}
