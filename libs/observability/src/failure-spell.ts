/** What to do about one failure of a spell. */
export interface SpellFailure {
  /** True for the first failure of the spell and then at most once per `remindEveryMs`. */
  readonly log: boolean;
  /** How long the spell has lasted, ms (0 for its first failure). */
  readonly lastedMs: number;
  /** Failures in the spell so far, this one included. */
  readonly failures: number;
}

/**
 * Tells a spell of repeated failures (a retry loop while a stream is missing
 * or has no leader) from one failure: the loop logs the first and then a
 * reminder every `remindEveryMs`, instead of one line per attempt, and says
 * how long it lasted when it ends.
 */
export class FailureSpell {
  private since: number | undefined;
  private quietUntil = 0;
  private failures = 0;

  constructor(
    private readonly remindEveryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while failures have not been followed by a success. */
  get ongoing(): boolean {
    return this.since !== undefined;
  }

  /** How long the current spell has lasted, ms: from its first failure until now; 0 when there is none. */
  get lastedMs(): number {
    return this.since === undefined ? 0 : this.now() - this.since;
  }

  failed(): SpellFailure {
    const now = this.now();
    this.since ??= now;
    this.failures++;
    const log = now >= this.quietUntil;
    if (log) this.quietUntil = now + this.remindEveryMs;
    return { log, lastedMs: now - this.since, failures: this.failures };
  }

  /** Ends the spell: undefined when there was none, else how long it lasted and its failures. */
  succeeded(): { lastedMs: number; failures: number } | undefined {
    if (this.since === undefined) return undefined;
    const ended = {
      lastedMs: this.now() - this.since,
      failures: this.failures,
    };
    this.since = undefined;
    this.quietUntil = 0;
    this.failures = 0;
    return ended;
  }
}

/**
 * Counts something that can happen thousands of times a second (a refused
 * command) and says when to log it: the first time, then at most once per
 * `everyMs`, with how many happened since the last line.
 */
export class OccasionalLog {
  private count = 0;
  private loggedAt = -Infinity;

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one; answers how many since the last line when this one is to be logged, else undefined. */
  happened(): number | undefined {
    this.count++;
    const now = this.now();
    if (now - this.loggedAt < this.everyMs) return undefined;
    this.loggedAt = now;
    const count = this.count;
    this.count = 0;
    return count;
  }
}
