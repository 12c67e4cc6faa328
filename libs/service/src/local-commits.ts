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
  /** The sealed bytes appended, which the stored message must equal byte for byte. */
  readonly bytes: Uint8Array;
}

/** Hand-off bound: if the projection stops taking, the map is dropped rather than grown. */
const MAX_ENTRIES = 65_536;

/**
 * Hands the instance's own commits from the command handler to its
 * projection, so the projection folds the events it already has instead of
 * decoding its own writes again, and the checkpointer trusts their hash
 * without checking their mac. A commit is handed over when it is appended,
 * before its ack: in an atomic batch the stream delivers members before the
 * batch's one ack arrives. It is keyed by aggregate (the handler appends one
 * commit per aggregate at a time) and claimed only by a stored message with
 * exactly its bytes; any other message on the subject is decoded as usual.
 */
export class LocalCommits {
  private readonly byAggregate = new Map<string, LocalCommit>();

  /** Registers a commit about to be appended. */
  add(commit: LocalCommit): void {
    if (this.byAggregate.size >= MAX_ENTRIES) this.byAggregate.clear();
    this.byAggregate.set(commit.aggregateId, commit);
  }

  /** Withdraws a commit whose append stored nothing (refused, or a duplicate of an earlier one). */
  drop(commit: LocalCommit): void {
    if (this.byAggregate.get(commit.aggregateId) === commit)
      this.byAggregate.delete(commit.aggregateId);
  }

  /** The commit of `aggregateId` whose bytes are `data`, handed over once. */
  take(aggregateId: string, data: Uint8Array): LocalCommit | undefined {
    const commit = this.byAggregate.get(aggregateId);
    if (commit === undefined || !sameBytes(commit.bytes, data))
      return undefined;
    this.byAggregate.delete(aggregateId);
    return commit;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Sealed commits are Buffers already; a view is made only for other arrays.
  const view = Buffer.isBuffer(a)
    ? a
    : Buffer.from(a.buffer, a.byteOffset, a.length);
  return view.equals(b);
}
