/** A commit this instance wrote, as its command handler already knows it. */
export interface LocalCommit {
  readonly aggregateId: string;
  readonly version: bigint;
  readonly commandId: string;
  readonly correlationId: string;
  readonly actor: string;
  readonly occurredAtMs: number;
  readonly eventIds: readonly string[];
  readonly events: readonly unknown[];
  readonly hash: Uint8Array;
}

/** Hand-off bound: if the projection stops taking, the map is dropped rather than grown. */
const MAX_ENTRIES = 65_536;

/**
 * Hands the instance's own commits from the command handler to its
 * projection by stream sequence, so the projection folds the events it
 * already has instead of decoding its own writes again, and the checkpointer
 * trusts their hash without checking their mac. A commit the projection sees
 * before its ack arrived is simply decoded as any other.
 */
export class LocalCommits {
  private readonly bySeq = new Map<number, LocalCommit>();

  add(seq: number, commit: LocalCommit): void {
    if (this.bySeq.size >= MAX_ENTRIES) this.bySeq.clear();
    this.bySeq.set(seq, commit);
  }

  take(seq: number): LocalCommit | undefined {
    const commit = this.bySeq.get(seq);
    if (commit !== undefined) this.bySeq.delete(seq);
    return commit;
  }
}
