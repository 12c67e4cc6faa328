import type { KeyObject } from 'node:crypto';
import {
  StreamVerifier,
  publicKeyFromRaw,
  streamName,
  type VerifyReport,
} from '@cim/kernel';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { listKeys } from './key-registry.js';

/** Options of a stream verification. */
export interface VerifyOptions {
  /** Report only what concerns this aggregate. */
  readonly aggregate?: string;
  /** Trusted public keys by key id; default: the keys the domain published (trust on first use). */
  readonly keys?: ReadonlyMap<string, KeyObject>;
  /** The JetStream domain that holds the stream, when it is not the connection's own (sharded topology). */
  readonly jetStreamDomain?: string;
  /** Called now and then with messages read so far and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Walks a domain's whole stream with an ordered consumer (read only: nothing
 * is created but the ephemeral consumer) and checks it with StreamVerifier.
 */
export async function verifyDomain(
  nc: NatsConnection,
  domain: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const keys =
    options.keys ??
    new Map(
      (await listKeys(nc, domain, options.jetStreamDomain)).map(
        (k) => [k.keyId, publicKeyFromRaw(k.publicKey)] as const,
      ),
    );
  const verifier = new StreamVerifier(domain, keys, options.aggregate);
  const stream = streamName(domain);
  const where =
    options.jetStreamDomain === undefined
      ? {}
      : { domain: options.jetStreamDomain };
  const jsm = await jetstreamManager(nc, where);
  const { state } = await jsm.streams.info(stream);
  const lastSeq = state.last_seq;
  const total = state.messages;
  if (total > 0) {
    const consumer = await jetstream(nc, where).consumers.get(stream, {});
    let done = 0;
    let reached!: () => void;
    const finished = new Promise<void>((resolve) => (reached = resolve));
    const messages = await consumer.consume({
      max_messages: 8192,
      callback: (m) => {
        if (m.seq > lastSeq) return;
        verifier.add(m.seq, m.subject, m.data);
        if (++done % 10_000 === 0) options.onProgress?.(done, total);
        // pending counts what is left after this message: 0 at the end, even when the last sequences were deleted.
        if (m.seq === lastSeq || m.info.pending === 0) reached();
      },
    });
    await finished;
    await messages.close();
    options.onProgress?.(done, total);
  }
  return verifier.finish(lastSeq);
}
