import type { KeyObject } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { encodeCommitFields } from './commit-encoding.js';
import { digestBytes, hmacSha256Binary, sha256 } from './sha256.js';
import {
  CommitSchema,
  EventRecordSchema,
  type Commit,
  type CommandMeta,
  type EventRecord,
} from '@cim/proto/cim/common/v1/envelope_pb';

/** Length of a commit hash in bytes (SHA-256). */
export const HASH_BYTES = 32;

/** The prev_hash of an aggregate's first commit. */
export const GENESIS_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

// The hash is field 13, written last: tag (13 << 3 | LEN) and a length of 32.
// protobuf-es writes fields in number order, so a sealed commit is exactly its
// unsealed encoding followed by these two bytes and the hash; verifiers hash
// the stored bytes without re-encoding anything.
const HASH_FIELD_PREFIX = Uint8Array.of((13 << 3) | 2, HASH_BYTES);
const HASH_SUFFIX_BYTES = HASH_FIELD_PREFIX.length + HASH_BYTES;
// The mac is field 14, after the hash: tag (14 << 3 | LEN) and a length of 32.
const MAC_FIELD_PREFIX = Uint8Array.of((14 << 3) | 2, HASH_BYTES);

/** What a command handler knows when it turns decided events into a commit. */
export interface CommitDraft {
  readonly commitId: string;
  readonly domain: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Aggregate version after the commit. */
  readonly version: bigint;
  readonly events: readonly EventRecord[];
  readonly meta: CommandMeta;
  readonly occurredAtMs: number;
  readonly prevHash: Uint8Array;
  /** The writing service's commit key; when given, the commit carries HMAC-SHA256(key, hash). */
  readonly macKey?: KeyObject | undefined;
}

/** A commit ready to append: its encoded bytes (with hash) and the hash that the next commit chains to. */
export interface SealedCommit {
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
}

/** Builds one event record; the payload is the domain's encoded <Domain>Event. */
export function eventRecord(
  eventId: string,
  eventType: string,
  payload: Uint8Array,
): EventRecord {
  // Every field set: the literal is exactly what create(EventRecordSchema, ...) builds, without its reflection.
  return { $typeName: EventRecordSchema.typeName, eventId, eventType, payload };
}

/**
 * Encodes a commit and seals it into its aggregate's hash chain:
 * `hash = SHA-256(prevHash ‖ commit bytes without hash)`.
 */
export function sealCommit(draft: CommitDraft): SealedCommit {
  const withMac = draft.macKey !== undefined;
  const { buffer, unsealed } = encodeCommitFields(
    {
      commitId: draft.commitId,
      commandId: draft.meta.commandId,
      domain: draft.domain,
      aggregateType: draft.aggregateType,
      aggregateId: draft.aggregateId,
      version: draft.version,
      events: draft.events,
      actor: draft.meta.actor,
      correlationId: draft.meta.correlationId,
      causationId: draft.meta.causationId,
      occurredAtMs: draft.occurredAtMs,
      prevHash: draft.prevHash,
    },
    HASH_SUFFIX_BYTES * (withMac ? 2 : 1),
  );
  const hash = chainHash(draft.prevHash, buffer.subarray(0, unsealed));
  buffer.set(HASH_FIELD_PREFIX, unsealed);
  buffer.set(hash, unsealed + HASH_FIELD_PREFIX.length);
  if (withMac) {
    const at = unsealed + HASH_SUFFIX_BYTES;
    buffer.set(MAC_FIELD_PREFIX, at);
    buffer.set(commitMac(draft.macKey, hash), at + MAC_FIELD_PREFIX.length);
  }
  return { bytes: buffer, hash };
}

/** SHA-256(prevHash ‖ unsealed). */
export function chainHash(
  prevHash: Uint8Array,
  unsealed: Uint8Array,
): Uint8Array {
  return sha256(prevHash, unsealed);
}

/**
 * Splits stored commit bytes into the unsealed part and the hash it carries,
 * or returns undefined when the bytes do not end with a hash field.
 */
export function splitSealed(
  bytes: Uint8Array,
):
  | { unsealed: Uint8Array; hash: Uint8Array; mac: Uint8Array | undefined }
  | undefined {
  let end = bytes.length;
  let mac: Uint8Array | undefined;
  if (
    end >= HASH_SUFFIX_BYTES &&
    bytes[end - HASH_SUFFIX_BYTES] === MAC_FIELD_PREFIX[0] &&
    bytes[end - HASH_SUFFIX_BYTES + 1] === MAC_FIELD_PREFIX[1]
  ) {
    mac = bytes.subarray(end - HASH_BYTES);
    end -= HASH_SUFFIX_BYTES;
  }
  const at = end - HASH_SUFFIX_BYTES;
  if (
    at < 0 ||
    bytes[at] !== HASH_FIELD_PREFIX[0] ||
    bytes[at + 1] !== HASH_FIELD_PREFIX[1]
  ) {
    return undefined;
  }
  return {
    unsealed: bytes.subarray(0, at),
    hash: bytes.subarray(at + HASH_FIELD_PREFIX.length, end),
    mac,
  };
}

/** HMAC-SHA256 of a commit hash under a service's commit key. */
export function commitMac(key: KeyObject, hash: Uint8Array): Uint8Array {
  let raw = secrets.get(key);
  if (raw === undefined) {
    raw = key.export();
    secrets.set(key, raw);
  }
  return digestBytes(hmacSha256Binary(raw, hash));
}

// Each key's bytes, exported once: commitMac runs for every commit sealed or checked.
const secrets = new WeakMap<KeyObject, Uint8Array>();

/** Decodes stored commit bytes; throws on malformed bytes. */
export function decodeCommit(bytes: Uint8Array): Commit {
  return fromBinary(CommitSchema, bytes);
}

/** True when two hashes are byte-for-byte equal. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
