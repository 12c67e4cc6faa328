import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH, chainHash, sameHash, splitSealed } from './commit.js';
import { scanCommit } from './commit-scan.js';
import { checkpointHash, openCheckpoint } from './checkpoint.js';
import { merkleRoot } from './merkle.js';
import { verifyBytes } from './signing.js';

/** What a verifier can find wrong with a stream. */
export const FindingKind = {
  /** A message that is not a readable commit or checkpoint. */
  unreadable: 'unreadable',
  /** A commit whose hash does not match its content, or whose prev_hash is not its predecessor's hash. */
  brokenChain: 'broken-chain',
  /** An aggregate's versions jump or repeat. */
  versionGap: 'version-gap',
  /** Stream sequences missing: messages deleted. */
  sequenceGap: 'sequence-gap',
  /** A checkpoint whose signature does not verify. */
  badSignature: 'bad-signature',
  /** A checkpoint signed by a key the verifier does not know. */
  unknownKey: 'unknown-key',
  /** A checkpoint whose Merkle root or count does not match the commits it covers. */
  merkleMismatch: 'merkle-mismatch',
  /** A checkpoint that does not chain to its predecessor or leaves part of the stream uncovered. */
  checkpointChain: 'checkpoint-chain',
  /** A commit the service refused to seal: it did not write it. */
  forgedCommit: 'forged-commit',
} as const;
export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

/** One problem, at the stream sequence where it shows. */
export interface Finding {
  readonly kind: FindingKind;
  readonly seq: number;
  readonly aggregateId?: string;
  readonly message: string;
}

/** The outcome of a walk over a stream. */
export interface VerifyReport {
  readonly domain: string;
  readonly messages: number;
  readonly commits: number;
  readonly checkpoints: number;
  readonly aggregates: number;
  readonly findings: readonly Finding[];
  /** Commits after the last valid checkpoint: hash-chained but not yet sealed by a signature. */
  readonly unsealed: {
    readonly commits: number;
    readonly fromSeq: number;
    readonly toSeq: number;
  };
  /** True when nothing was found wrong (an unsealed tail is not a finding). */
  readonly clean: boolean;
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
export class StreamVerifier {
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
      sealed === undefined ? undefined : scanCommit(sealed.unsealed);
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
        chainHash(fields.prevHash ?? new Uint8Array(), sealed.unsealed),
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
    if (key === undefined) {
      this.report(
        FindingKind.unknownKey,
        seq,
        `checkpoint signed by unknown key ${checkpoint.keyId}`,
      );
    } else if (!verifyBytes(key, signed, signature)) {
      this.report(
        FindingKind.badSignature,
        seq,
        `checkpoint signature does not verify under key ${checkpoint.keyId}`,
      );
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
      !sameHash(merkleRoot(sealed.map((p) => p.hash)), checkpoint.merkleRoot)
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
