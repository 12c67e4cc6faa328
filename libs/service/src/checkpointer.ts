import { AppendError, AppendFailure, type EventStore } from '@cim/eventstore';
import {
  GENESIS_HASH,
  checkpointHash,
  checkpointSubject,
  commitMac,
  merkleRoot,
  openCheckpoint,
  sameHash,
  signCheckpoint,
  splitSealed,
  verifyBytes,
} from '@cim/kernel';
import { FailureSpell, type Logger } from '@cim/observability';
import type { Keyring } from './keyring.js';

/** When checkpoints are written. */
export interface CheckpointOptions {
  /** Seal after this many unsealed commits; default 1000. */
  readonly checkpointEveryCommits?: number;
  /** ... or this many milliseconds after the first unsealed commit; default 200. */
  readonly checkpointEveryMs?: number;
}

interface Unsealed {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly forged: boolean;
}

/**
 * Seals the domain's stream with signed checkpoints on `cim.<domain>.chk`:
 * every N commits or T ms, whichever comes first, the Merkle root of the
 * hashes of the commits since the last checkpoint, chained to it and signed
 * with the service key. It learns the stream from the projection's ordered
 * walk (every commit, whichever instance wrote it, and every checkpoint), and
 * seals only commits whose mac verifies: any other is listed as excluded, for
 * every verifier to report. Instances race on the checkpoint subject's
 * expected sequence; the loser's attempt is refused and dropped.
 */
export class Checkpointer {
  private unsealed: Unsealed[] = [];
  private coveredTo = 0;
  private lastHash: Uint8Array = GENESIS_HASH;
  private lastMsgSeq = 0;
  private position = 0;
  private timer: NodeJS.Timeout | undefined;
  /** True while a checkpoint is being appended, and while catching up at start (the range is not known yet). */
  private sealing = true;
  private stopped = false;
  /** Failed attempts to write a checkpoint since the last one written. */
  private readonly failing = new FailureSpell(60_000);
  private readonly everyCommits: number;
  private readonly everyMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly keyring: Keyring,
    private readonly log: Logger,
    options: CheckpointOptions = {},
  ) {
    this.everyCommits = options.checkpointEveryCommits ?? 1000;
    this.everyMs = options.checkpointEveryMs ?? 200;
  }

  /**
   * Finds the last checkpoint and reads the commits after it up to `position`
   * (where the projection starts following), so nothing stored before this
   * instance started escapes sealing.
   */
  async start(position: number): Promise<void> {
    const last = await this.store.lastOn(checkpointSubject(this.store.domain));
    if (last !== undefined) this.sawCheckpoint(last.seq, last.data);
    await this.store.readRange(this.coveredTo + 1, position, (m) =>
      this.observe(m.seq, m.subject, m.data),
    );
    this.sealing = false;
    if (this.unsealed.length > 0) this.seal();
  }

  /** Sees one stream message, in order; answers whether it is a commit the service did not write. */
  observe(
    seq: number,
    subject: string,
    data: Uint8Array,
    trustedHash?: Uint8Array,
  ): boolean {
    this.position = seq;
    if (subject.endsWith('.chk')) {
      this.sawCheckpoint(seq, data);
      return false;
    }
    if (seq <= this.coveredTo) return false; // already sealed (seen again while catching up)
    let forged = false;
    if (trustedHash !== undefined) {
      // Written by this instance a moment ago: its hash is known and its mac needs no check.
      this.unsealed.push({ seq, hash: trustedHash, forged });
    } else {
      const sealed = splitSealed(data);
      forged =
        sealed?.mac === undefined ||
        !this.keyring.keys.some((k) =>
          sameHash(commitMac(k.macKey, sealed.hash), sealed.mac!),
        );
      if (forged)
        this.log.error(
          { seq },
          'commit not written by this service: it will not be sealed',
        );
      this.unsealed.push({
        seq,
        hash: sealed?.hash ?? new Uint8Array(32),
        forged,
      });
    }
    this.schedule();
    return forged;
  }

  /** Stops sealing; commits not yet sealed are sealed by the next start. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private sawCheckpoint(seq: number, data: Uint8Array): void {
    // The next checkpoint's append expects the subject's last message, whatever it is.
    this.lastMsgSeq = seq;
    const opened = openCheckpoint(data);
    if (opened === undefined) {
      this.log.error({ seq }, 'unreadable checkpoint in the stream');
      return;
    }
    const key = this.keyring.keys.find(
      (k) => k.keyId === opened.checkpoint.keyId,
    );
    if (
      key === undefined ||
      !verifyBytes(key.publicKey, opened.signed, opened.signature)
    ) {
      // Not this service's: it seals nothing, and the next one chains past it.
      this.log.error(
        { seq, keyId: opened.checkpoint.keyId },
        'checkpoint not signed by this service: ignored',
      );
      return;
    }
    const last = Number(opened.checkpoint.lastSeq);
    this.coveredTo = Math.max(this.coveredTo, last);
    this.lastHash = checkpointHash(data);
    this.unsealed = this.unsealed.filter((u) => u.seq > last);
    this.sealing = false;
    // Commits seen while this checkpoint was on its way are sealed next,
    // whether or not anything is written after them.
    if (this.unsealed.length > 0) this.schedule();
  }

  /** Seals at once when enough commits wait, else within `everyMs`. */
  private schedule(): void {
    if (this.unsealed.length >= this.everyCommits) this.seal();
    else if (!this.stopped)
      this.timer ??= setTimeout(() => this.seal(), this.everyMs);
  }

  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.sealing || this.unsealed.length === 0) return;
    this.sealing = true;
    const firstSeq = this.coveredTo + 1;
    const lastSeq = this.position;
    const covered = this.unsealed.filter((u) => u.seq <= lastSeq);
    const sealed = covered.filter((u) => !u.forged);
    const bytes = signCheckpoint(
      {
        domain: this.store.domain,
        firstSeq,
        lastSeq,
        commitCount: sealed.length,
        merkleRoot: merkleRoot(sealed.map((u) => u.hash)),
        excludedSeqs: covered.filter((u) => u.forged).map((u) => u.seq),
        prevCheckpointHash: this.lastHash,
        sealedAtMs: Date.now(),
      },
      this.keyring.active,
    );
    const msgId = `chk-${this.store.domain}-${firstSeq}-${lastSeq}`;
    this.store.appendTo(
      checkpointSubject(this.store.domain),
      this.lastMsgSeq,
      msgId,
      bytes,
      (error) => {
        if (error === undefined) {
          const ended = this.failing.succeeded();
          if (ended !== undefined)
            this.log.info(
              { failedMs: ended.lastedMs, attempts: ended.failures },
              'checkpoint written again',
            );
          return; // the projection delivers it, and sawCheckpoint moves on
        }
        this.sealing = false;
        if (!(
          AppendError.is(error) &&
          error.failure === AppendFailure.wrongLastSequence
        )) {
          // Retried every few hundred ms while the stream is out of reach: the first failure and a reminder a minute.
          const { log, lastedMs, failures } = this.failing.failed();
          if (log)
            this.log.warn(
              { err: error, failingMs: lastedMs, attempts: failures },
              'checkpoint not written; will retry',
            );
        }
        // Refused: another instance sealed first; its checkpoint arrives through the projection.
        if (!this.stopped)
          this.timer ??= setTimeout(() => this.seal(), this.everyMs);
      },
    );
  }
}
