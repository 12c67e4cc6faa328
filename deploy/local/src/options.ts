import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { TOPOLOGY_KINDS, type TopologyKind } from '@cim/nats-topology';

export type Durability = 'strict' | 'fast';
export type Topology = TopologyKind;

/** What `npm start` was asked to run. */
export interface StartOptions {
  readonly topology: Topology;
  /** Instances per domain service (default 1 each); they share the domain's queue group. */
  readonly replicas: ReadonlyMap<string, number>;
  readonly dataDir: string;
  readonly natsUrl: string | undefined;
  readonly natsBinary: string;
  readonly grpcPort: number;
  readonly durability: Durability;
  readonly logLevel: string;
}

/** A mistake on the command line or in the environment; start-up stops with this message. */
export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

const USAGE =
  'usage: npm start -- [--data-dir <dir>] [--topology single|sharded|cluster] [--replicas <domain>=<n>]...';

/** Reads flags and environment; throws OptionsError with the accepted values. */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  workspaceRoot: string,
): StartOptions {
  let dataDir = env['CIM_DATA_DIR'] || join(workspaceRoot, '.data');
  let topology: Topology = 'single';
  const replicas = new Map<string, number>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--data-dir' && value !== undefined) {
      dataDir = value;
      i++;
    } else if (flag === '--replicas' && value !== undefined) {
      const match = /^([a-z][a-z0-9]*)=(\d+)$/.exec(value);
      const count = Number(match?.[2]);
      if (
        match === null ||
        !Number.isInteger(count) ||
        count < 1 ||
        count > 16
      ) {
        throw new OptionsError(
          `--replicas takes <domain>=<1..16>, got ${JSON.stringify(value)}`,
        );
      }
      replicas.set(match[1]!, count);
      i++;
    } else if (flag === '--topology' && value !== undefined) {
      if (!(TOPOLOGY_KINDS as readonly string[]).includes(value))
        throw new OptionsError(
          `--topology takes ${TOPOLOGY_KINDS.join(', ')}, got ${JSON.stringify(value)}`,
        );
      topology = value as Topology;
      i++;
    } else if (flag === '--help' || flag === '-h') {
      throw new OptionsError(USAGE);
    } else {
      throw new OptionsError(
        `unknown argument ${JSON.stringify(flag)}\n${USAGE}`,
      );
    }
  }
  const durability = env['CIM_DURABILITY'] || 'strict';
  if (durability !== 'strict' && durability !== 'fast') {
    throw new OptionsError(
      `CIM_DURABILITY must be strict or fast, got ${JSON.stringify(durability)}`,
    );
  }
  const grpcPort = Number(env['CIM_GRPC_PORT'] || 50051);
  if (!Number.isInteger(grpcPort) || grpcPort < 1 || grpcPort > 65535) {
    throw new OptionsError(
      `CIM_GRPC_PORT must be a port number, got ${JSON.stringify(env['CIM_GRPC_PORT'])}`,
    );
  }
  const natsBinary = env['CIM_NATS_SERVER'] || 'nats-server';
  const natsUrl = env['CIM_NATS_URL'] || undefined;
  if (natsUrl !== undefined && topology !== 'single') {
    throw new OptionsError(
      `--topology ${topology} starts its own nats-servers; unset CIM_NATS_URL (it names an external server)`,
    );
  }
  return {
    topology,
    replicas,
    dataDir: resolve(dataDir),
    natsUrl,
    natsBinary,
    grpcPort,
    durability,
    logLevel: env['LOG_LEVEL'] || 'info',
  };
}

/** The nearest directory above `from` that holds pnpm-workspace.yaml. */
export function workspaceRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir)
      throw new OptionsError(`no pnpm-workspace.yaml above ${from}`);
  }
}
