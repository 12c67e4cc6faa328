import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';

/** How a process connects to NATS. */
export interface NatsOptions {
  /** One or more comma-separated server URLs. */
  readonly url: string;
  /** Shows in the server's connection list (`cim-graph`, `cim-gateway`). */
  readonly name: string;
}

/**
 * Connects with reconnection that never gives up: a service outlives a
 * restarting server and resumes by itself. Fails fast when no server answers
 * the first attempt, so a wrong URL stops start-up with a clear message.
 */
export async function connectNats(
  options: NatsOptions,
): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.url.split(',').map((s) => s.trim()),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
    });
  } catch (cause) {
    throw new Error(
      `cannot connect to NATS at ${options.url}: ${(cause as Error).message}`,
      { cause },
    );
  }
}
