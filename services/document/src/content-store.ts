import { createHash } from 'node:crypto';
import { ErrorCode } from '@cim/kernel';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  Objm,
  StorageType,
  setSha256Backend,
  type ObjectInfo,
  type ObjectStore,
} from '@nats-io/obj';
import { isContentCid, parseCid, rawSha256Cid } from './domain/cid.js';

/** The object store bucket document content lives in. */
export const CONTENT_BUCKET = 'cim_document_content';

/**
 * Object store chunk size: 1 MiB rather than the client's 128 KiB, so a put
 * waits for 8× fewer chunk acknowledgements (the client clamps it to the
 * server's max_payload).
 */
export const CHUNK_BYTES = 1024 * 1024;

/** JetStream's "wrong last sequence" API error code: a conditional put lost a race. */
const WRONG_LAST_SEQUENCE = 10071;
const DIGEST_PREFIX = 'SHA-256=';

/**
 * The object store could not be reached or answered with an error. Named like
 * @cim/messaging's UnavailableError, whose shape-based guard the runtime uses
 * to answer UNAVAILABLE (that package is not a runtime dependency here).
 */
export class ContentUnavailableError extends Error {
  override readonly name = 'UnavailableError';
  readonly code = ErrorCode.UNAVAILABLE;
  readonly retryable = true;
}

/** Content put into the store: its CID and size, and whether this put wrote it. */
export interface StoredObject {
  readonly cid: string;
  readonly sizeBytes: bigint;
  readonly created: boolean;
}

/** What the store holds under a CID. */
export interface ContentStat {
  readonly present: boolean;
  readonly sizeBytes: bigint;
}

/** A range of stored content. */
export interface ContentRange {
  readonly data: Uint8Array;
  readonly totalSize: bigint;
}

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** The CID of content bytes: CIDv1, raw, SHA-256. */
export function contentCid(bytes: Uint8Array): string {
  return rawSha256Cid(sha256(bytes));
}

/**
 * Content bytes in a JetStream object store, one object per CID. Objects are
 * immutable: a put of bytes already stored writes nothing, and a put never
 * replaces an object (it is conditional on the name having no object yet).
 * An object counts as present only when its recorded SHA-256 digest and size
 * match the CID, so bytes put under a wrong name by another writer are never
 * taken for the content.
 */
export class ContentStore {
  private constructor(private readonly store: ObjectStore) {}

  /**
   * Opens the bucket, creating it (file storage) when missing. Switches the
   * object store client, process-wide, to Node's native SHA-256: its default
   * pure-JS digest costs more than everything else in a put of a large object.
   */
  static async open(
    nc: NatsConnection,
    options: { readonly bucket?: string; readonly replicas?: number } = {},
  ): Promise<ContentStore> {
    setSha256Backend('native');
    const store = await unavailableOnError('open the content store', () =>
      new Objm(nc).create(options.bucket ?? CONTENT_BUCKET, {
        replicas: options.replicas ?? 1,
        storage: StorageType.File,
      }),
    );
    return new ContentStore(store);
  }

  /** Stores `bytes` under their CID unless already there. */
  async put(bytes: Uint8Array): Promise<StoredObject> {
    const digest = sha256(bytes);
    const cid = rawSha256Cid(digest);
    const sizeBytes = BigInt(bytes.length);
    return unavailableOnError('store content', async () => {
      const existing = await this.store.info(cid);
      if (existing !== null && holds(existing, digest, bytes.length)) {
        return { cid, sizeBytes, created: false };
      }
      try {
        await this.store.putBlob(
          { name: cid, options: { max_chunk_size: CHUNK_BYTES } },
          bytes,
          {
            previousRevision: existing?.revision ?? 0,
          },
        );
        return { cid, sizeBytes, created: true };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
        // A concurrent put of the same CID got there first; its bytes are these bytes.
        const now = await this.store.info(cid);
        if (now !== null && holds(now, digest, bytes.length)) {
          return { cid, sizeBytes, created: false };
        }
        throw error;
      }
    });
  }

  /** Whether content with this CID is stored, and its size. */
  async stat(cid: string): Promise<ContentStat> {
    const parsed = isContentCid(cid) ? parseCid(cid) : undefined;
    if (parsed === undefined) return { present: false, sizeBytes: 0n };
    const info = await unavailableOnError('read the content store', () =>
      this.store.info(cid),
    );
    return info !== null && holds(info, parsed.digest, info.size)
      ? { present: true, sizeBytes: BigInt(info.size) }
      : { present: false, sizeBytes: 0n };
  }

  /**
   * Reads `length` bytes from `offset` (fewer at the end), or undefined when
   * the CID is not stored. A read of the whole object is checked against its
   * digest by the object store client; a partial read stops early unchecked.
   */
  async read(
    cid: string,
    offset: number,
    length: number,
  ): Promise<ContentRange | undefined> {
    const parsed = isContentCid(cid) ? parseCid(cid) : undefined;
    if (parsed === undefined) return undefined;
    return unavailableOnError('read content', async () => {
      const info = await this.store.info(cid);
      if (info === null || !holds(info, parsed.digest, info.size)) {
        return undefined;
      }
      const totalSize = BigInt(info.size);
      const end = Math.min(info.size, offset + length);
      if (offset >= end) return { data: new Uint8Array(0), totalSize };
      const result = await this.store.get(cid);
      if (result === null) return undefined;
      const data = new Uint8Array(end - offset);
      const reader = result.data.getReader();
      let at = 0;
      while (at < end) {
        const { done, value } = await reader.read();
        if (done) break;
        const from = Math.max(offset - at, 0);
        const to = Math.min(value.length, end - at);
        if (from < to) data.set(value.subarray(from, to), at + from - offset);
        at += value.length;
      }
      if (at < info.size) {
        await reader.cancel();
      } else {
        // Resolves with nothing (not null) when the digest matched.
        const error = await result.error;
        if (error) throw error;
      }
      return { data, totalSize };
    });
  }
}

/** The object is the content of `digest`: not deleted, not a link, with that digest and size. */
function holds(info: ObjectInfo, digest: Uint8Array, size: number): boolean {
  if (info.deleted || info.options?.link !== undefined || info.size !== size) {
    return false;
  }
  if (!info.digest.startsWith(DIGEST_PREFIX)) return false;
  const recorded = Buffer.from(
    info.digest.slice(DIGEST_PREFIX.length),
    'base64url',
  );
  return recorded.equals(digest);
}

function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === WRONG_LAST_SEQUENCE
  );
}

async function unavailableOnError<T>(
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ContentUnavailableError(`cannot ${what}: ${reason}`, { cause });
  }
}
