import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';

/** Largest chunk written as one KV value; below the server's default 1 MiB max_payload. */
const CHUNK_BYTES = 512 * 1024;
/** Room left in a message for a chunk's subject and headers, on a server with a smaller max_payload. */
const CHUNK_HEADROOM = 4096;

/**
 * Snapshots in a JetStream KV bucket, one key per snapshot. A value larger
 * than one message is written as numbered chunks under a new generation and
 * then published by a small head record, so a reader never sees a half-written
 * snapshot; the previous generation's chunks are deleted afterwards.
 */
export class SnapshotStore {
  private constructor(
    private readonly kv: KV,
    /** Bytes per chunk: CHUNK_BYTES, or less where the server takes smaller messages. */
    private readonly chunkBytes: number,
  ) {}

  /** Opens (or creates) the bucket `cim_<domain>_snapshots`. */
  static async open(
    nc: NatsConnection,
    domain: string,
    replicas = 1,
  ): Promise<SnapshotStore> {
    const kv = await new Kvm(nc).create(`cim_${domain}_snapshots`, {
      history: 1,
      replicas,
    });
    const maxPayload = nc.info?.max_payload ?? Infinity;
    return new SnapshotStore(
      kv,
      Math.max(1024, Math.min(CHUNK_BYTES, maxPayload - CHUNK_HEADROOM)),
    );
  }

  /** Stores `value` under `key` (letters, digits, `-`, `_`, `/`, `=`), replacing the previous snapshot. */
  async save(key: string, value: Uint8Array): Promise<void> {
    const previous = await this.head(key);
    const generation = (previous?.generation ?? 0) + 1;
    const size = this.chunkBytes;
    const chunks = Math.max(1, Math.ceil(value.length / size));
    for (let i = 0; i < chunks; i++) {
      await this.kv.put(
        chunkKey(key, generation, i),
        value.subarray(i * size, (i + 1) * size),
      );
    }
    await this.kv.put(
      key,
      new TextEncoder().encode(`${generation}:${chunks}:${value.length}`),
    );
    if (previous !== undefined) {
      for (let i = 0; i < previous.chunks; i++)
        await this.kv.delete(chunkKey(key, previous.generation, i));
    }
  }

  /** The snapshot under `key`, or undefined when there is none (or it is incomplete). */
  async load(key: string): Promise<Uint8Array | undefined> {
    const head = await this.head(key);
    if (head === undefined) return undefined;
    const out = new Uint8Array(head.length);
    let offset = 0;
    for (let i = 0; i < head.chunks; i++) {
      const entry = await this.kv.get(chunkKey(key, head.generation, i));
      if (entry === null || entry.operation !== 'PUT') return undefined;
      out.set(entry.value, offset);
      offset += entry.value.length;
    }
    return offset === head.length ? out : undefined;
  }

  private async head(
    key: string,
  ): Promise<
    { generation: number; chunks: number; length: number } | undefined
  > {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const [generation, chunks, length] = new TextDecoder()
      .decode(entry.value)
      .split(':')
      .map(Number);
    if (
      !Number.isInteger(generation) ||
      !Number.isInteger(chunks) ||
      !Number.isInteger(length)
    )
      return undefined;
    return { generation: generation!, chunks: chunks!, length: length! };
  }
}

function chunkKey(key: string, generation: number, index: number): string {
  return `${key}/${generation}/${index}`;
}
