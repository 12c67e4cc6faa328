import type { NatsConnection } from '@nats-io/nats-core';

/** What the connected nats-server can do that older supported servers (2.9.x) cannot. */
export interface ServerFeatures {
  readonly version: string;
  /** Atomic batch publish (`allow_atomic` streams): nats-server 2.12+. */
  readonly atomicBatch: boolean;
  /** Direct batch gets (`next_by_subj` with `batch`): nats-server 2.11+. */
  readonly directBatch: boolean;
  /** `sync_interval: always` and the related durability fixes: nats-server 2.10+, the fleet asks for 2.12+. */
  readonly current: boolean;
}

/** Reads the server version from the connection's INFO and derives the features the event store may use. */
export function serverFeatures(nc: NatsConnection): ServerFeatures {
  const version = nc.info?.version ?? '0.0.0';
  const [major = 0, minor = 0] = version
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  const atLeast = (ma: number, mi: number) =>
    major > ma || (major === ma && minor >= mi);
  return {
    version,
    atomicBatch: atLeast(2, 12),
    directBatch: atLeast(2, 11),
    current: atLeast(2, 12),
  };
}
