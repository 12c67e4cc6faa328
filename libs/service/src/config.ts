import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { shardDomain } from '@cim/kernel';
import {
  LOG_LEVELS,
  type LogLevel,
  type TraceExporter,
} from '@cim/observability';
import { DEFAULT_ADMISSION, type AdmissionLimits } from './admission.js';

/** How durable an acknowledged commit is; see README "Durability". */
export type Durability = 'strict' | 'fast';

/** How the fleet's NATS is laid out; see deploy/nats/README.md. */
export type Topology = 'single' | 'sharded' | 'cluster';

/** A process's configuration, read from the environment and validated at start-up. */
export interface ServiceConfig {
  /** CIM_NATS_URL; default: the URL `npm start` recorded in `<data dir>/nats.url`. */
  readonly natsUrl: string;
  /** CIM_HTTP_PORT: /metrics, /healthz, /readyz; default 0 (any free port). */
  readonly httpPort: number;
  /** CIM_GRPC_PORT: the gateway's gRPC port; default 50051. */
  readonly grpcPort: number;
  /** CIM_DATA_DIR: keys and runtime files; default `.data` in the workspace root (or the working directory). */
  readonly dataDir: string;
  /** LOG_LEVEL; default info. */
  readonly logLevel: LogLevel;
  /** CIM_DURABILITY: strict (default) or fast. */
  readonly durability: Durability;
  /** CIM_REPLICAS: stream replicas; 1 (default) on one server, 3 on a cluster. */
  readonly replicas: number;
  /** CIM_OTEL_EXPORTER: none (default) or otlp. */
  readonly traceExporter: TraceExporter;
  /** CIM_TOPOLOGY: single (default), sharded or cluster; default: what `npm start` recorded in `<data dir>/topology`. */
  readonly topology: Topology;
  /** CIM_INTEGRITY: on (default); off drops commit macs and signed checkpoints, only to measure their cost. */
  readonly integrity: boolean;
  /** CIM_MAX_IN_FLIGHT and CIM_MAX_IN_FLIGHT_BYTES: client requests a service instance holds before it refuses more with UNAVAILABLE. */
  readonly admission: AdmissionLimits;
}

/** A configuration value that cannot be used; start-up stops with this message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the configuration; throws ConfigError naming the variable and what it accepts. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const dataDir = resolve(env['CIM_DATA_DIR'] || defaultDataDir());
  return {
    natsUrl: natsUrl(env['CIM_NATS_URL'], dataDir),
    httpPort: port(env, 'CIM_HTTP_PORT', 0),
    grpcPort: port(env, 'CIM_GRPC_PORT', 50051),
    dataDir,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    durability: oneOf(
      env,
      'CIM_DURABILITY',
      ['strict', 'fast'] as const,
      'strict',
    ),
    replicas: integer(env, 'CIM_REPLICAS', 1, 1, 5),
    traceExporter: oneOf(
      env,
      'CIM_OTEL_EXPORTER',
      ['none', 'otlp'] as const,
      'none',
    ),
    integrity:
      oneOf(env, 'CIM_INTEGRITY', ['on', 'off'] as const, 'on') === 'on',
    admission: {
      maxRequests: integer(
        env,
        'CIM_MAX_IN_FLIGHT',
        DEFAULT_ADMISSION.maxRequests,
        1,
        1_000_000,
      ),
      maxBytes: integer(
        env,
        'CIM_MAX_IN_FLIGHT_BYTES',
        DEFAULT_ADMISSION.maxBytes,
        1024,
        Number.MAX_SAFE_INTEGER,
      ),
    },
    topology: oneOf(
      { CIM_TOPOLOGY: env['CIM_TOPOLOGY'] || recorded(topologyFile(dataDir)) },
      'CIM_TOPOLOGY',
      TOPOLOGIES,
      'single',
    ),
  };
}

const TOPOLOGIES = ['single', 'sharded', 'cluster'] as const;

/** The file in which `npm start` records the topology it runs. */
export function topologyFile(dataDir: string): string {
  return join(dataDir, 'topology');
}

/**
 * The JetStream domain to address for `domain`'s stream from a client of
 * this topology: in the sharded topology every domain's stream lives in its
 * own leaf node's JetStream domain; elsewhere undefined (the connection's own).
 */
export function jetStreamDomainOf(
  topology: Topology,
  domain: string,
): string | undefined {
  return topology === 'sharded' ? shardDomain(domain) : undefined;
}

function recorded(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The file in which `npm start` records the URL of the NATS server it runs. */
export function natsUrlFile(dataDir: string): string {
  return join(dataDir, 'nats.url');
}

function natsUrl(value: string | undefined, dataDir: string): string {
  if (value !== undefined && value !== '')
    return checkedUrls(value, 'CIM_NATS_URL');
  let recorded: string;
  try {
    recorded = readFileSync(natsUrlFile(dataDir), 'utf8').trim();
  } catch {
    throw new ConfigError(
      `CIM_NATS_URL is not set and ${natsUrlFile(dataDir)} does not exist: run \`npm start\` or set CIM_NATS_URL=nats://host:port`,
    );
  }
  return checkedUrls(recorded, natsUrlFile(dataDir));
}

/** Checks a comma-separated list of NATS URLs: scheme nats, tls, ws or wss, a host, a numeric port if any. */
function checkedUrls(value: string, source: string): string {
  for (const raw of value.split(',')) {
    let url: URL | undefined;
    try {
      url = new URL(raw.trim());
    } catch {
      url = undefined;
    }
    const ok =
      url !== undefined &&
      ['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol) &&
      url.hostname !== '' &&
      (url.pathname === '' || url.pathname === '/');
    if (!ok) {
      throw new ConfigError(
        `${source} must be nats://host:port (comma-separated for several), got ${JSON.stringify(value)}`,
      );
    }
  }
  return value;
}

function port(env: Env, name: string, fallback: number): number {
  return integer(env, name, fallback, 0, 65535);
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return raw as T;
}

/** `.data` beside the nearest pnpm-workspace.yaml above the working directory, else in the working directory. */
export function defaultDataDir(from: string = process.cwd()): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return join(dir, '.data');
    if (dirname(dir) === dir) return join(resolve(from), '.data');
  }
}
