import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfig, type ServerSpec } from '@cim/nats-topology';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Durability } from './options.js';
import type { ProcessSpec } from './supervisor.js';

/** The version a nats-server binary reports, e.g. 2.15.1. */
export function natsVersion(binary: string): string {
  const text = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  return /v?(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? 'unknown';
}

export function atLeast(
  version: string,
  major: number,
  minor: number,
): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * Writes a server's configuration to `<dir>/<name>.conf` and describes the
 * process that runs it. In strict durability every server runs with
 * `sync_interval: always` (fsync before every ack; nats-server 2.10+). The
 * server is ready once its JetStream answers, which for a cluster node means
 * the cluster has elected a meta leader.
 */
export function natsServerProcess(
  server: ServerSpec,
  options: {
    readonly binary: string;
    readonly version: string;
    readonly dir: string;
    readonly durability: Durability;
  },
): ProcessSpec {
  mkdirSync(server.storeDir, { recursive: true });
  const config = join(options.dir, `${server.name}.conf`);
  writeFileSync(
    config,
    renderConfig(server, {
      syncAlways:
        options.durability === 'strict' && atLeast(options.version, 2, 10),
    }),
  );
  return {
    name: server.name,
    command: options.binary,
    args: ['-c', config],
    logFile: join(options.dir, `${server.name}.log`),
    ready: () => jetStreamAnswers(`nats://127.0.0.1:${server.port}`),
  };
}

async function jetStreamAnswers(url: string): Promise<boolean> {
  try {
    const nc = await connect({
      servers: url,
      reconnect: false,
      timeout: 1000,
      name: 'cim-local-probe',
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 1000 });
      await jsm.getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}
