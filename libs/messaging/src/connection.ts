import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';

const PENDING_LIMIT_BYTES = 256 * 1024;

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
      // No stack captured per request for a timeout that rarely comes: every KV
      // and JetStream API call built two Errors up front (RequestOne's context
      // and its timer's TimeoutError), which cost more than the call itself.
      noAsyncTraces: true,
      // Outbound bytes are written once per microtask checkpoint, or at once past
      // this mark (nats.js reads the option but leaves it out of its types; its
      // default, 32 KiB, splits one burst of pipelined appends and replies into
      // many socket writes).
      ...({ pendingLimit: PENDING_LIMIT_BYTES } as object),
    });
  } catch (cause) {
    throw new Error(
      `cannot connect to NATS at ${options.url}: ${(cause as Error).message}`,
      { cause },
    );
  }
}
