import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  CheckpointSchema,
  type Checkpoint,
} from '@cim/proto/cim/common/v1/integrity_pb';
import { signBytes, type SigningKey } from './signing.js';

// The signature is field 15, written last: tag (15 << 3 | LEN) and a length of 64.
const SIGNATURE_PREFIX = Uint8Array.of((15 << 3) | 2, 64);
const SIGNATURE_SUFFIX_BYTES = SIGNATURE_PREFIX.length + 64;

/** What a checkpoint covers, before it is signed. */
export interface CheckpointDraft {
  readonly domain: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly commitCount: number;
  readonly merkleRoot: Uint8Array;
  readonly excludedSeqs: readonly number[];
  readonly prevCheckpointHash: Uint8Array;
  readonly sealedAtMs: number;
}

/** Encodes and signs a checkpoint: its bytes are the unsigned encoding followed by the signature field. */
export function signCheckpoint(
  draft: CheckpointDraft,
  key: SigningKey,
): Uint8Array {
  const unsigned = toBinary(
    CheckpointSchema,
    create(CheckpointSchema, {
      domain: draft.domain,
      firstSeq: BigInt(draft.firstSeq),
      lastSeq: BigInt(draft.lastSeq),
      commitCount: BigInt(draft.commitCount),
      merkleRoot: draft.merkleRoot,
      excludedSeqs: draft.excludedSeqs.map(BigInt),
      prevCheckpointHash: draft.prevCheckpointHash,
      keyId: key.keyId,
      sealedAt: timestampFromMs(draft.sealedAtMs),
    }),
  );
  const signature = signBytes(key, unsigned);
  const bytes = new Uint8Array(unsigned.length + SIGNATURE_SUFFIX_BYTES);
  bytes.set(unsigned);
  bytes.set(SIGNATURE_PREFIX, unsigned.length);
  bytes.set(signature, unsigned.length + SIGNATURE_PREFIX.length);
  return bytes;
}

/** A stored checkpoint split into what was signed and the signature; undefined when unreadable. */
export function openCheckpoint(
  bytes: Uint8Array,
):
  | { checkpoint: Checkpoint; signed: Uint8Array; signature: Uint8Array }
  | undefined {
  const at = bytes.length - SIGNATURE_SUFFIX_BYTES;
  if (
    at < 0 ||
    bytes[at] !== SIGNATURE_PREFIX[0] ||
    bytes[at + 1] !== SIGNATURE_PREFIX[1]
  )
    return undefined;
  try {
    return {
      checkpoint: fromBinary(CheckpointSchema, bytes),
      signed: bytes.subarray(0, at),
      signature: bytes.subarray(at + SIGNATURE_PREFIX.length),
    };
  } catch {
    return undefined;
  }
}

/** The hash the next checkpoint chains to: SHA-256 of the whole stored checkpoint. */
export function checkpointHash(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}
