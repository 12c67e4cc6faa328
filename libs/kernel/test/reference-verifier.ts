// The stream verifier as it was before it was tuned for speed: decoded
// subarrays, bigint versions, a streaming SHA-256 per hash. Kept as the
// reference the tuned StreamVerifier must agree with, report for report.
import { createHash, type KeyObject } from 'node:crypto';
import {
  FindingKind,
  GENESIS_HASH,
  checkpointHash,
  openCheckpoint,
  sameHash,
  splitSealed,
  verifyBytes,
  type Finding,
  type VerifyReport,
} from '@cim/kernel';

const sha = (...parts: readonly Uint8Array[]): Uint8Array => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
};

const referenceChainHash = (prev: Uint8Array, unsealed: Uint8Array) =>
  sha(prev, unsealed);

/** RFC 6962 §2.1 as written: MTH(D[n]) splits at the largest power of two smaller than n. */
export function referenceMerkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(
    Uint8Array.of(1),
    referenceMerkleRoot(leaves.slice(0, k)),
    referenceMerkleRoot(leaves.slice(k)),
  );
}

const decoder = new TextDecoder();

/** The field scanner as it was: a closure per varint, a decoded string and subarrays. */
export function referenceScanCommit(bytes: Uint8Array):
  | {
      aggregateId: string;
      version: bigint;
      eventCount: number;
      prevHash: Uint8Array | undefined;
    }
  | undefined {
  const out = {
    aggregateId: '',
    version: 0n,
    eventCount: 0,
    prevHash: undefined as Uint8Array | undefined,
  };
  let pos = 0;
  const varint = (): number | undefined => {
    let result = 0;
    let shift = 0;
    while (pos < bytes.length) {
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) return undefined;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const value = varint();
      if (value === undefined) return undefined;
      if (field === 6) out.version = BigInt(value);
    } else if (wire === 2) {
      const length = varint();
      if (length === undefined || pos + length > bytes.length) return undefined;
      if (field === 5)
        out.aggregateId = decoder.decode(bytes.subarray(pos, pos + length));
      else if (field === 7) out.eventCount++;
      else if (field === 12) out.prevHash = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      return undefined;
    }
  }
  return pos === bytes.length ? out : undefined;
}

interface Pending {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly aggregateId: string;
}

/**
 * Checks a domain's stream message by message, in sequence order: every
 * aggregate's hash chain and versions, sequence continuity, and every signed
 * checkpoint (signature, key, chain, coverage, Merkle root). Pure: feed it
 * messages with `add` and read the report from `finish`.
 */
export class ReferenceVerifier {
  private readonly findings: Finding[] = [];
  private readonly heads = new Map<
    string,
    { hash: Uint8Array; version: bigint }
  >();
  private pending: Pending[] = [];
  private nextSeq = 1;
  private messages = 0;
  private commits = 0;
  private checkpoints = 0;
  private covered = 0;
  private lastCheckpointHash: Uint8Array = GENESIS_HASH;

  constructor(
    private readonly domain: string,
    /** Trusted public keys by key id. */
    private readonly keys: ReadonlyMap<string, KeyObject>,
    /** Report only what concerns this aggregate (checkpoint findings always). */
    private readonly aggregate?: string,
  ) {}

  /** Checks one stored message; call in stream order. */
  add(seq: number, subject: string, data: Uint8Array): void {
    this.messages++;
    if (seq > this.nextSeq) {
      this.report(
        FindingKind.sequenceGap,
        this.nextSeq,
        `sequences ${this.nextSeq}..${seq - 1} are missing`,
      );
    }
    this.nextSeq = seq + 1;
    if (subject.endsWith('.chk')) this.checkpoint(seq, data);
    else this.commit(seq, subject, data);
  }

  /** Ends the walk; `lastSeq` is the stream's last sequence, so a deleted tail is noticed too. */
  finish(lastSeq: number): VerifyReport {
    if (lastSeq >= this.nextSeq) {
      this.report(
        FindingKind.sequenceGap,
        this.nextSeq,
        `sequences ${this.nextSeq}..${lastSeq} are missing`,
      );
    }
    const tail = this.pending;
    return {
      domain: this.domain,
      messages: this.messages,
      commits: this.commits,
      checkpoints: this.checkpoints,
      aggregates: this.heads.size,
      findings: this.findings,
      unsealed: {
        commits: tail.length,
        fromSeq: tail[0]?.seq ?? 0,
        toSeq: tail[tail.length - 1]?.seq ?? 0,
      },
      clean: this.findings.length === 0,
    };
  }

  private commit(seq: number, subject: string, data: Uint8Array): void {
    this.commits++;
    const sealed = splitSealed(data);
    const fields =
      sealed === undefined ? undefined : referenceScanCommit(sealed.unsealed);
    if (sealed === undefined || fields === undefined) {
      this.report(
        FindingKind.unreadable,
        seq,
        `${subject} is not a sealed commit`,
      );
      return;
    }
    const { aggregateId } = fields;
    this.pending.push({ seq, hash: sealed.hash, aggregateId });
    if (this.aggregate !== undefined && aggregateId !== this.aggregate) {
      // Only the chain of the aggregate asked about is walked; the others count for checkpoints.
      return;
    }
    const head = this.heads.get(aggregateId) ?? {
      hash: GENESIS_HASH,
      version: 0n,
    };
    if (
      !sameHash(
        referenceChainHash(
          fields.prevHash ?? new Uint8Array(),
          sealed.unsealed,
        ),
        sealed.hash,
      )
    ) {
      this.report(
        FindingKind.brokenChain,
        seq,
        `commit of ${aggregateId} does not match its hash`,
        aggregateId,
      );
    } else if (!sameHash(fields.prevHash ?? new Uint8Array(), head.hash)) {
      this.report(
        FindingKind.brokenChain,
        seq,
        `commit of ${aggregateId} does not chain to its predecessor`,
        aggregateId,
      );
    }
    const expected = head.version + BigInt(fields.eventCount);
    if (fields.version !== expected) {
      this.report(
        FindingKind.versionGap,
        seq,
        `${aggregateId} jumps from version ${head.version} to ${fields.version} with ${fields.eventCount} events`,
        aggregateId,
      );
    }
    this.heads.set(aggregateId, { hash: sealed.hash, version: fields.version });
  }

  private checkpoint(seq: number, data: Uint8Array): void {
    this.checkpoints++;
    const opened = openCheckpoint(data);
    if (opened === undefined) {
      this.report(FindingKind.unreadable, seq, 'unreadable checkpoint');
      return;
    }
    const { checkpoint, signed, signature } = opened;
    const key = this.keys.get(checkpoint.keyId);
    // A checkpoint the service did not sign seals nothing: it is reported,
    // and chain and coverage go on from the last genuine one.
    if (key === undefined) {
      this.report(
        FindingKind.unknownKey,
        seq,
        `checkpoint signed by unknown key ${checkpoint.keyId}`,
      );
      return;
    }
    if (!verifyBytes(key, signed, signature)) {
      this.report(
        FindingKind.badSignature,
        seq,
        `checkpoint signature does not verify under key ${checkpoint.keyId}`,
      );
      return;
    }
    const first = Number(checkpoint.firstSeq);
    const last = Number(checkpoint.lastSeq);
    if (!sameHash(checkpoint.prevCheckpointHash, this.lastCheckpointHash)) {
      this.report(
        FindingKind.checkpointChain,
        seq,
        'checkpoint does not chain to the previous checkpoint',
      );
    }
    if (first !== this.covered + 1) {
      this.report(
        FindingKind.checkpointChain,
        seq,
        `checkpoint covers ${first}..${last} but the previous one ended at ${this.covered}`,
      );
    }
    const excluded = new Set(checkpoint.excludedSeqs.map(Number));
    const inRange = this.pending.filter((p) => p.seq >= first && p.seq <= last);
    const sealed = inRange.filter((p) => !excluded.has(p.seq));
    for (const p of inRange.filter((p) => excluded.has(p.seq))) {
      if (this.aggregate === undefined || p.aggregateId === this.aggregate) {
        this.report(
          FindingKind.forgedCommit,
          p.seq,
          `commit of ${p.aggregateId} was not written by the service`,
          p.aggregateId,
        );
      }
    }
    if (
      sealed.length !== Number(checkpoint.commitCount) ||
      !sameHash(
        referenceMerkleRoot(sealed.map((p) => p.hash)),
        checkpoint.merkleRoot,
      )
    ) {
      this.report(
        FindingKind.merkleMismatch,
        seq,
        `checkpoint over ${first}..${last} does not match the ${sealed.length} commits stored there`,
      );
    }
    const skipped = this.pending.filter((p) => p.seq < first);
    if (skipped.length > 0) {
      this.report(
        FindingKind.checkpointChain,
        seq,
        `commits ${skipped[0]!.seq}..${skipped[skipped.length - 1]!.seq} are covered by no checkpoint`,
      );
    }
    this.pending = this.pending.filter((p) => p.seq > last);
    this.covered = Math.max(this.covered, last);
    this.lastCheckpointHash = checkpointHash(data);
  }

  private report(
    kind: FindingKind,
    seq: number,
    message: string,
    aggregateId?: string,
  ): void {
    this.findings.push(
      aggregateId === undefined
        ? { kind, seq, message }
        : { kind, seq, aggregateId, message },
    );
  }
}
