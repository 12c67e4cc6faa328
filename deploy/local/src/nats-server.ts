import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readFileSync,
  writeFileSync,
  openSync,
  closeSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Durability } from './options.js';

/** The local nats-server that `npm start` runs. */
export interface LocalNats {
  readonly url: string;
  readonly version: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** The version a nats-server binary reports, e.g. 2.15.1. */
export function natsVersion(binary: string): string {
  const text = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  return /v?(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? 'unknown';
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * Starts nats-server with JetStream on 127.0.0.1:`port`, its store under
 * `<dataDir>/nats`, and in strict durability `sync_interval: always` (fsync
 * before every ack; nats-server 2.10+). Resolves once it accepts connections.
 */
export async function startLocalNats(options: {
  binary: string;
  dataDir: string;
  port: number;
  durability: Durability;
  warn: (line: string) => void;
}): Promise<LocalNats> {
  const version = natsVersion(options.binary);
  const dir = join(options.dataDir, 'nats');
  mkdirSync(join(dir, 'store'), { recursive: true });
  const sync =
    options.durability === 'strict' && atLeast(version, 2, 10)
      ? '\n  sync_interval: always'
      : '';
  if (!atLeast(version, 2, 12)) {
    options.warn(
      `nats-server ${version} is older than 2.12: no atomic batches or sync_interval; acknowledged writes may be lost on power failure`,
    );
  }
  const config = join(dir, 'nats-server.conf');
  writeFileSync(
    config,
    `server_name: cim-local\nlisten: 127.0.0.1:${options.port}\nmax_payload: 8MB\njetstream {\n  store_dir: ${JSON.stringify(join(dir, 'store'))}${sync}\n}\n`,
  );
  const logFd = openSync(join(dir, 'nats-server.log'), 'a');
  const child = spawn(options.binary, ['-c', config], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const url = `nats://127.0.0.1:${options.port}`;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code) => resolve(code ?? 1)),
  );
  const ready = await Promise.race([
    waitForPort(options.port, 15_000),
    exited.then(() => false),
  ]);
  if (!ready) {
    child.kill('SIGKILL');
    const tail = readFileSync(join(dir, 'nats-server.log'), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new Error(
      `nats-server did not start on port ${options.port}:\n${tail}`,
    );
  }
  return {
    url,
    version,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('data', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
