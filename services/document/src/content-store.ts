import { createHash } from 'node:crypto';
import { ErrorCode } from '@cim/kernel';
import {
  headers,
  nuid,
  type Msg,
  type NatsConnection,
} from '@nats-io/nats-core';
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
 * waits for 8× fewer chunk acknowledgements (clamped to the server's
 * max_payload, as the object store client does).
 */
export const CHUNK_BYTES = 1024 * 1024;

/** Chunks of one object published before the first of them is acknowledged. */
const CHUNKS_IN_FLIGHT = 4;
/** How long a chunk or metadata publish, or a purge, waits for its answer. */
const PUBLISH_TIMEOUT_MS = 10_000;

/** JetStream's "wrong last sequence" API error code: a conditional put lost a race. */
const WRONG_LAST_SEQUENCE = 10071;
const DIGEST_PREFIX = 'SHA-256=';
/** JetStream's header for a conditional publish on the subject's last sequence. */
const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';
/** JetStream's rollup header: the new metadata message replaces the subject's older ones. */
const ROLLUP = 'Nats-Rollup';

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
 *
 * A put writes the object store's own format (chunks on `$O.<bucket>.C.<nuid>`,
 * then the object's metadata on `$O.<bucket>.M.<name>`), so any object store
 * client reads what it stored; but it writes it itself rather than through the
 * client's put, because the CID already is the SHA-256 the metadata records:
 * the bytes are hashed once and the name is looked up once (the client's put
 * would do both again), and chunks are pipelined instead of acknowledged one
 * by one.
 */
export class ContentStore {
  private readonly chunkSubjectPrefix: string;
  private readonly metaSubjectPrefix: string;
  private readonly purgeSubject: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly store: ObjectStore,
    private readonly bucket: string,
    private readonly chunkBytes: number,
  ) {
    this.chunkSubjectPrefix = `$O.${bucket}.C.`;
    this.metaSubjectPrefix = `$O.${bucket}.M.`;
    this.purgeSubject = `$JS.API.STREAM.PURGE.OBJ_${bucket}`;
  }

  /**
   * Opens the bucket, creating it (file storage) when missing. Switches the
   * object store client, process-wide, to Node's native SHA-256: its default
   * pure-JS digest costs more than everything else in reading a large object.
   * Objects are written in chunks of `chunkBytes` (default CHUNK_BYTES), or
   * of the server's max_payload when that is smaller.
   */
  static async open(
    nc: NatsConnection,
    options: {
      readonly bucket?: string;
      readonly replicas?: number;
      readonly chunkBytes?: number;
    } = {},
  ): Promise<ContentStore> {
    setSha256Backend('native');
    const bucket = options.bucket ?? CONTENT_BUCKET;
    const store = await unavailableOnError('open the content store', () =>
      new Objm(nc).create(bucket, {
        replicas: options.replicas ?? 1,
        storage: StorageType.File,
      }),
    );
    return new ContentStore(
      nc,
      store,
      bucket,
      Math.max(1, options.chunkBytes ?? CHUNK_BYTES),
    );
  }

  /** Stores `bytes` under their CID unless already there. */
  async put(bytes: Uint8Array): Promise<StoredObject> {
    const digest = sha256(bytes);
    const cid = rawSha256Cid(digest);
    const size = bytes.length;
    const sizeBytes = BigInt(size);
    const stored = (info: ObjectInfo | null): boolean =>
      info !== null && holds(info, digest, size);
    return unavailableOnError('store content', async () => {
      const existing = await this.store.info(cid);
      if (stored(existing)) return { cid, sizeBytes, created: false };
      const id = nuid.next();
      const chunkSubject = this.chunkSubjectPrefix + id;
      const chunkBytes = Math.min(
        this.chunkBytes,
        this.nc.info?.max_payload ?? this.chunkBytes,
      );
      // Whether the chunks may be purged when the put fails: not once the
      // metadata may have been stored (a publish that timed out), lest it name
      // purged chunks; orphan chunks are the lesser harm.
      let purgeable = size > 0;
      try {
        await this.publishChunks(chunkSubject, bytes, chunkBytes);
        await this.publishMeta(
          { name: cid, id, size, chunkBytes, digest },
          existing,
        ).catch((error: unknown) => {
          purgeable &&= error instanceof JetStreamError;
          throw error;
        });
      } catch (error) {
        if (purgeable) await this.purge(chunkSubject).catch(() => undefined);
        if (!isWrongLastSequence(error)) throw error;
        // A concurrent put of the same CID got there first; its bytes are these bytes.
        if (stored(await this.store.info(cid))) {
          return { cid, sizeBytes, created: false };
        }
        throw error;
      }
      // The new metadata is live: the chunks of what it replaced are unreachable.
      if (existing !== null && existing.nuid !== '') {
        await this.purge(this.chunkSubjectPrefix + existing.nuid).catch(
          () => undefined,
        );
      }
      return { cid, sizeBytes, created: true };
    });
  }

  /**
   * Publishes `bytes` in chunks of `chunkBytes` on `subject`, at most
   * CHUNKS_IN_FLIGHT unacknowledged, and waits until every one is
   * acknowledged. After a failure it publishes no more, and throws the first
   * failure once every chunk in flight settled, so that none is stored after a
   * purge that follows.
   */
  private async publishChunks(
    subject: string,
    bytes: Uint8Array,
    chunkBytes: number,
  ): Promise<void> {
    const size = bytes.length;
    let failure: { readonly error: unknown } | undefined;
    const inFlight = new Set<Promise<void>>();
    for (let at = 0; at < size && failure === undefined;) {
      if (inFlight.size >= CHUNKS_IN_FLIGHT) {
        await Promise.race(inFlight);
        continue;
      }
      const chunk = bytes.subarray(at, Math.min(size, at + chunkBytes));
      at += chunk.length;
      const acked: Promise<void> = this.publish(subject, chunk).then(
        () => void inFlight.delete(acked),
        (error: unknown) => {
          inFlight.delete(acked);
          failure ??= { error };
        },
      );
      inFlight.add(acked);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Publishes the metadata of the object `name` whose chunks are on nuid `id`
   * (the object store's format, as its client writes it), conditional on
   * `previous` still being the name's last metadata (none: no metadata yet).
   */
  private publishMeta(
    object: {
      readonly name: string;
      readonly id: string;
      readonly size: number;
      readonly chunkBytes: number;
      readonly digest: Uint8Array;
    },
    previous: ObjectInfo | null,
  ): Promise<void> {
    const { name, id, size, chunkBytes, digest } = object;
    const h = headers();
    h.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(previous?.revision ?? 0));
    h.set(ROLLUP, 'sub');
    const meta = {
      name,
      description: '',
      options: { max_chunk_size: chunkBytes },
      bucket: this.bucket,
      nuid: id,
      size,
      chunks: Math.ceil(size / chunkBytes),
      mtime: new Date().toISOString(),
      digest: DIGEST_PREFIX + base64UrlPadded(digest),
      deleted: false,
    };
    return this.publish(
      this.metaSubjectPrefix + base64UrlPadded(Buffer.from(name)),
      JSON.stringify(meta),
      h,
    );
  }

  /** A JetStream publish: resolves once the stream stored the message, throws the API error otherwise. */
  private async publish(
    subject: string,
    payload: Uint8Array | string,
    h?: ReturnType<typeof headers>,
  ): Promise<void> {
    const reply = await this.nc.request(subject, payload, {
      timeout: PUBLISH_TIMEOUT_MS,
      ...(h !== undefined && { headers: h }),
    });
    const answer = apiAnswer(reply);
    if (typeof answer.seq !== 'number') {
      throw new Error(`no JetStream publish acknowledgement on ${subject}`);
    }
  }

  /** Removes every message on `subject` from the bucket's stream. */
  private async purge(subject: string): Promise<void> {
    const reply = await this.nc.request(
      this.purgeSubject,
      JSON.stringify({ filter: subject }),
      { timeout: PUBLISH_TIMEOUT_MS },
    );
    apiAnswer(reply);
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
        // Chunks already on their way still reach the cancelled stream, and
        // the client rejects `error` for them: nobody waits for it any more,
        // and an unhandled rejection would end the process.
        result.error.catch(() => undefined);
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

/**
 * The object store's encoding of metadata subject tokens and digests: base64
 * with the URL alphabet, keeping the padding.
 */
function base64UrlPadded(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/** A JetStream API error answer, with its JetStream error code. */
class JetStreamError extends Error {
  override readonly name = 'JetStreamError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The JSON of a JetStream API answer; throws a JetStreamError for an error answer. */
function apiAnswer(reply: Msg): { readonly seq?: unknown } {
  const answer = reply.json<{
    readonly seq?: unknown;
    readonly error?: {
      readonly err_code?: number;
      readonly description?: string;
    };
  }>();
  if (answer.error !== undefined) {
    throw new JetStreamError(
      answer.error.description ?? 'JetStream error',
      answer.error.err_code ?? 0,
    );
  }
  return answer;
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
