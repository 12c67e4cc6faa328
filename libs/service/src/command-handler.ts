import type { KeyObject } from 'node:crypto';
import type { LocalCommit, LocalCommits } from './local-commits.js';
import { namesDataSubjects, protectWith, subjectsOf } from './personal-data.js';
import type { Vault } from './vault.js';
import {
  create,
  toBinary,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import {
  AppendFailure,
  type Ack,
  type AppendError,
  type EventStore,
  type StoredCommit,
} from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  GENESIS_HASH,
  decodeCommit,
  eventRecord,
  sealCommit,
  uuidv7,
  type Decider,
} from '@cim/kernel';
import { UnavailableError } from '@cim/messaging';
import {
  FailureSpell,
  OccasionalLog,
  type Logger,
  type Metrics,
} from '@cim/observability';
import {
  CommandResultSchema,
  type CommandMeta,
  type CommandResult,
  type Commit,
} from '@cim/proto/cim/common/v1/envelope_pb';
import type {
  AggregateLoader,
  AggregateState,
  DecodedCommit,
  SnapshotMark,
} from './aggregate-loader.js';
import type { CommandMessage, EventMessage } from './definition.js';
import { encodeCommandResult } from './bindings.js';
import { Lru } from './lru.js';
import { DEFAULT_ADMISSION, queuedPerAggregate } from './admission.js';
import { RecentCount } from './recent-count.js';

/** Where the outcome of one command goes. */
export interface CommandReply {
  /** The command was accepted; `result` is its CommandResult, encoded. */
  ok(result: Uint8Array): void;
  fail(error: unknown): void;
  /** When the caller stops waiting (`performance.now()` time): a command not begun by then is not applied. */
  readonly deadline?: number | undefined;
}

interface Entry<State> extends AggregateState<State> {
  /** A command is being decided or appended: others wait in `queue`. */
  busy: boolean;
  /** Loaded from the stream (false while the first load runs). */
  loaded: boolean;
  /** An append's outcome is unknown: catch up from the stream before the next decide. */
  stale: boolean;
  /** The version from which the next snapshot is due, as a plain number. */
  snapshotDue: number;
  /** Size of the aggregate's last snapshot (0 before its first): what it weighs in the cache. */
  snapshotBytes: number;
  readonly queue: Array<(entry: Entry<State>) => void>;
  /** When the entry was made: every commit of the aggregate stored since is among the results remembered. */
  readonly since: number;
}

/** Added to the stream's duplicate window for the difference between the server's clock and this one. */
const CLOCK_MARGIN_MS = 1_000;

/** Tuning of command handling. */
export interface CommandHandlerOptions {
  /** Aggregates kept in memory; default 10,000. */
  readonly cacheSize?: number;
  /**
   * ... and at most this many bytes of them, counted by the size of each
   * one's last snapshot; default 256 MiB. Aggregates too young for a
   * snapshot count nothing: it is the few large ones this bounds.
   */
  readonly cacheBytes?: number;
  /** Command results remembered for idempotent replies; default 100,000. */
  readonly resultCacheSize?: number;
  /**
   * Reads of an aggregate's recent commits per second, at most, to find the
   * first attempt of a retried command that is now refused or changes
   * nothing; default 100. Beyond it such a command is answered as it
   * decides, as a new one would be: a bound on what refusals cost the stream.
   */
  readonly retryReadsPerSecond?: number;
  /** Decide attempts when the aggregate moved on concurrently; default 8. */
  readonly maxAttempts?: number;
  /**
   * Commands that may wait for one aggregate while another of its commands
   * runs; default a quarter of CIM_MAX_IN_FLIGHT (1024 by default).
   * Beyond it a command is answered UNAVAILABLE at once, so that one hot
   * aggregate cannot hold every request the instance admits (admission.ts)
   * while commands to other aggregates are refused.
   */
  readonly maxQueuedPerAggregate?: number;
  /**
   * Write an aggregate snapshot every this many versions (default 500), or
   * for a large aggregate every `snapshotBytesPerVersion` bytes of its last
   * snapshot, whichever is more.
   */
  readonly snapshotEvery?: number;
  /**
   * Versions between snapshots grow by one per this many bytes of the last
   * snapshot; default 512. Serialising costs about 8 ns per byte here, so a
   * snapshot then costs each command at most about 4 µs however large the
   * aggregate grows, and a load replays at most one commit per 512 bytes of
   * snapshot after it (a graph of 100,000 nodes: one 21 MB snapshot per
   * 40,000 commands instead of one per 500).
   */
  readonly snapshotBytesPerVersion?: number;
}

/**
 * Handles commands once for every domain: (1) load the aggregate and its last
 * subject sequence (cache, or snapshot + tail); (2) decide; (3) no events →
 * answer without appending; (4) append one sealed commit with
 * `Nats-Expected-Last-Subject-Sequence` and `Nats-Msg-Id` = command id;
 * (5) on a wrong last sequence, catch up and decide again, a bounded number of
 * times, then answer CONCURRENCY_CONFLICT. Commands to one aggregate run one
 * at a time in arrival order; commands to different aggregates are pipelined.
 */
export class CommandHandler<
  State,
  Command extends CommandMessage,
  Event extends EventMessage,
> {
  private readonly cache: Lru<string, Entry<State>>;
  /** Encoded results by command id. */
  private readonly results: Lru<string, Uint8Array>;
  private readonly resultCapacity: number;
  /** Results set or read within a retry window: while fewer than the capacity, none set within it was forgotten. */
  private readonly resultUses: RecentCount;
  /** How far back a retry may find its first attempt stored: the stream's duplicate window, and a margin. */
  private readonly retryWindowMs: number;
  private readonly retryReadsPerSecond: number;
  private readonly retryReads = new RecentCount(1000);
  private readonly maxAttempts: number;
  private readonly maxQueued: number;
  /** Commands refused because their aggregate had `maxQueued` waiting: logged once a minute. */
  private readonly hot = new OccasionalLog(60_000);
  /** Appends refused for want of room or not acknowledged: logged when it starts, once a minute, and when it ends. */
  private readonly notStoring = new FailureSpell(60_000);
  private readonly snapshotEvery: number;
  private readonly snapshotBytesPerVersion: number;
  private readonly eventTypes = new Map<string, string>();
  // Bound once: prom-client hashes label objects on every unbound call.
  private readonly appendOutcomes: Record<
    'ok' | 'duplicate' | 'conflict' | 'full' | 'error',
    { inc(): void }
  >;
  private readonly retryChecks: Record<
    'covered' | 'found' | 'none' | 'over-bound' | 'unreadable',
    { inc(): void }
  >;

  constructor(
    private readonly domain: string,
    private readonly aggregateType: string,
    private readonly decider: Decider<State, Command, Event>,
    private readonly eventSchema: DescMessage,
    private readonly store: EventStore,
    private readonly loader: AggregateLoader<State, Event>,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    options: CommandHandlerOptions = {},
    /** The active key's commit mac key; commits carry no mac without it. */
    private readonly macKey?: KeyObject,
    /** Where this instance's own commits go for its projection. */
    private readonly localCommits?: LocalCommits,
    /** Keys of data subjects, when the domain's events hold personal fields. */
    private readonly vault?: Vault,
  ) {
    this.cache = new Lru(options.cacheSize ?? 10_000, (entry) => !entry.busy, {
      max: options.cacheBytes ?? 256 * 1024 * 1024,
      weigh: (entry) => entry.snapshotBytes,
    });
    this.resultCapacity = options.resultCacheSize ?? 100_000;
    this.results = new Lru(this.resultCapacity);
    this.retryWindowMs = store.duplicateWindowMs + CLOCK_MARGIN_MS;
    this.resultUses = new RecentCount(this.retryWindowMs);
    this.retryReadsPerSecond = options.retryReadsPerSecond ?? 100;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.maxQueued =
      options.maxQueuedPerAggregate ?? queuedPerAggregate(DEFAULT_ADMISSION);
    this.snapshotEvery = options.snapshotEvery ?? 500;
    this.snapshotBytesPerVersion = options.snapshotBytesPerVersion ?? 512;
    const outcome = (name: string) => metrics.appends.labels(name);
    this.appendOutcomes = {
      ok: outcome('ok'),
      duplicate: outcome('duplicate'),
      conflict: outcome('conflict'),
      full: outcome('full'),
      error: outcome('error'),
    };
    const check = (name: string) => metrics.retryChecks.labels(name);
    this.retryChecks = {
      covered: check('covered'),
      found: check('found'),
      none: check('none'),
      'over-bound': check('over-bound'),
      unreadable: check('unreadable'),
    };
  }

  /** Remembers the result of a stored commit, so a retry of its command is answered with it. */
  remember(commit: Commit, seq: number): void {
    // This instance's own commits are remembered already, when their ack arrives.
    if (!this.results.has(commit.commandId))
      this.keepResult(commit.commandId, encodedResultOf(commit, seq));
  }

  private keepResult(commandId: string, result: Uint8Array): void {
    this.results.set(commandId, result);
    this.resultUses.add();
  }

  /** A remembered result; reading it keeps it longest, as setting it would. */
  private resultOf(commandId: string): Uint8Array | undefined {
    const result = this.results.get(commandId);
    if (result !== undefined) this.resultUses.add();
    return result;
  }

  /**
   * A commit another instance stored, as the projection reads it from the
   * stream: when this instance holds the aggregate idle and the commit is the
   * next link of its chain, it is folded in, so that the next command here
   * decides on current state instead of conflicting and catching up. A commit
   * that does not fit (a gap, a command in flight) marks the aggregate stale:
   * it catches up from the stream before its next decide.
   */
  follow(
    aggregateId: string,
    stored: Pick<StoredCommit, 'seq' | 'data'>,
    decoded: DecodedCommit<Event>,
  ): void {
    const entry = this.cache.peek(aggregateId);
    if (entry === undefined || !entry.loaded || stored.seq <= entry.lastSeq)
      return;
    if (entry.busy || entry.stale) {
      entry.stale = true;
      return;
    }
    try {
      this.loader.extend(aggregateId, entry, stored, this.rememberFn, decoded);
    } catch {
      entry.stale = true;
    }
  }

  private readonly rememberFn = (commit: Commit, seq: number) =>
    this.remember(commit, seq);

  /** Handles one command for `aggregateId`; `reply` is called exactly once. */
  handle(
    aggregateId: string,
    command: Command,
    meta: CommandMeta,
    reply: CommandReply,
  ): void {
    const known = this.resultOf(meta.commandId);
    if (known !== undefined) {
      reply.ok(known);
      return;
    }
    // Run at once, the job need not look for a result again: none can have appeared since.
    let waited = false;
    this.withEntry(
      aggregateId,
      (entry) =>
        this.attempt(aggregateId, command, meta, reply, entry, 1, !waited),
      aggregateId === meta.commandId,
      (queued) => this.refuseHot(aggregateId, queued, reply),
    );
    waited = true;
  }

  private refuseHot(
    aggregateId: string,
    queued: number,
    reply: CommandReply,
  ): void {
    const refused = this.hot.happened();
    if (refused !== undefined)
      this.log.warn(
        { aggregateId, queued, refused },
        'commands to one aggregate refused with UNAVAILABLE: too many waiting',
      );
    reply.fail(
      new UnavailableError(
        `${aggregateId} has ${queued} commands waiting; retry later`,
      ),
    );
  }

  /** Seconds since appends began to be refused for want of room or to go unacknowledged; 0 while commits are stored. */
  failingAppendsSeconds(): number {
    return this.notStoring.lastedMs / 1000;
  }

  /** Aggregates held in memory, and their summed snapshot bytes. */
  cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.weight };
  }

  /** Drops every cached aggregate (tests and reconnects use it). */
  clear(): void {
    this.cache.clear();
  }

  /**
   * Runs `job` on the aggregate's entry once no other command holds it.
   * `fresh`: the id was just derived from the command id, so the aggregate
   * almost surely does not exist yet and is not read first (a snapshot get
   * and a stream read saved). Should it exist after all (a retry of a
   * command whose first attempt was stored), the append meets a duplicate
   * id or a wrong last sequence, and the ordinary catch-up answers it.
   */
  private withEntry(
    aggregateId: string,
    job: (entry: Entry<State>) => void,
    fresh = false,
    /** Called instead of queueing `job` when `maxQueued` jobs wait already. */
    refuse?: (queued: number) => void,
  ): void {
    let entry = this.cache.get(aggregateId);
    if (entry === undefined) {
      entry = {
        state: this.decider.initialState(),
        version: 0n,
        lastSeq: 0,
        lastHash: GENESIS_HASH,
        busy: true,
        loaded: fresh,
        since: Date.now(),
        stale: false,
        snapshotDue: this.snapshotEvery,
        snapshotBytes: 0,
        queue: [],
      };
      this.cache.set(aggregateId, entry);
      if (fresh) job(entry);
      else this.refresh(aggregateId, entry, job);
      return;
    }
    if (entry.busy) {
      if (refuse !== undefined && entry.queue.length >= this.maxQueued)
        refuse(entry.queue.length);
      else entry.queue.push(job);
      return;
    }
    entry.busy = true;
    if (entry.stale) this.refresh(aggregateId, entry, job);
    else job(entry);
  }

  /**
   * Loads or catches up an entry it holds, then runs `job`. When that fails
   * the entry is dropped, and `job` and everything queued behind it run on an
   * unloaded stand-in, which they answer as unavailable.
   */
  private refresh(
    aggregateId: string,
    entry: Entry<State>,
    job: (entry: Entry<State>) => void,
  ): void {
    const loading = entry.loaded
      ? this.loader.catchUp(aggregateId, entry, this.rememberFn)
      : this.loader
          .load(aggregateId, this.rememberFn)
          .then(({ state, version, lastSeq, lastHash, snapshot }) => {
            Object.assign(entry, { state, version, lastSeq, lastHash });
            this.snapshotted(aggregateId, entry, snapshot);
          });
    loading.then(
      () => {
        entry.loaded = true;
        entry.stale = false;
        job(entry);
      },
      (error: unknown) => {
        this.log.error({ err: error, aggregateId }, 'cannot load aggregate');
        this.cache.delete(aggregateId);
        const standIn: Entry<State> = {
          ...entry,
          loaded: false,
          stale: true,
          busy: true,
          queue: [],
        };
        for (const waiting of [job, ...entry.queue.splice(0)]) waiting(standIn);
      },
    );
  }

  private release(aggregateId: string, entry: Entry<State>): void {
    const next = entry.queue.shift();
    if (next === undefined) {
      entry.busy = false;
    } else if (entry.stale) {
      this.refresh(aggregateId, entry, next);
    } else {
      next(entry);
    }
  }

  private attempt(
    aggregateId: string,
    command: Command,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    attempt: number,
    resultChecked = false,
  ): void {
    // A retried command whose first attempt landed is answered with its first result.
    const known = resultChecked ? undefined : this.resultOf(meta.commandId);
    if (known !== undefined) {
      reply.ok(known);
      this.release(aggregateId, entry);
      return;
    }
    if (!entry.loaded) {
      // The load this command waited for failed (logged by refresh); a retry may succeed.
      reply.fail(
        new UnavailableError(`cannot load ${this.domain} ${aggregateId}`),
      );
      return;
    }
    if (
      attempt === 1 &&
      reply.deadline !== undefined &&
      performance.now() > reply.deadline
    ) {
      reply.fail(
        new UnavailableError(
          `the caller's time ran out before the command's turn on ${aggregateId}; nothing was applied`,
        ),
      );
      this.release(aggregateId, entry);
      return;
    }
    if (meta.expectedVersion > 0n && meta.expectedVersion !== entry.version) {
      this.refuse(
        aggregateId,
        meta,
        reply,
        entry,
        new DomainError(
          ErrorCode.CONCURRENCY_CONFLICT,
          `expected version ${meta.expectedVersion} of ${aggregateId}, found ${entry.version}`,
          {
            details: {
              expected: String(meta.expectedVersion),
              current: String(entry.version),
            },
          },
        ),
      );
      return;
    }
    let events: readonly Event[];
    try {
      events = this.decider.decide(command, entry.state);
    } catch (error) {
      this.refuse(aggregateId, meta, reply, entry, error);
      return;
    }
    if (events.length === 0) {
      const { version } = entry;
      this.unlessStored(aggregateId, meta, reply, entry, () =>
        reply.ok(
          encodeCommandResult(
            meta.commandId,
            aggregateId,
            version,
            NO_EVENTS,
            0,
          ),
        ),
      );
      return;
    }
    const proceed = (stored: readonly Event[]) =>
      this.commit(aggregateId, command, meta, reply, entry, attempt, stored);
    const { vault } = this;
    if (vault === undefined) {
      proceed(events);
      return;
    }
    // Personal fields are encrypted before the events go anywhere: state, stream, read model.
    const creating = entry.version === 0n;
    // An aggregate coming into being is a data subject whose key is soon needed: it is made meanwhile.
    if (creating) vault.prepare(aggregateId);
    const schema = this.eventSchema;
    if (!namesDataSubjects(schema)) {
      // The aggregate is the only data subject: one key, one walk when it is at hand.
      const key = vault.cached(aggregateId);
      if (key !== undefined) {
        proceed(events.map((e) => protectWith(e, schema, aggregateId, key)));
        return;
      }
    }
    const keys = new Map<string, Buffer | null>();
    const missing: string[] = [];
    for (const event of events) {
      for (const subject of subjectsOf(event, schema, aggregateId)) {
        if (keys.has(subject) || missing.includes(subject)) continue;
        const key = vault.cached(subject);
        if (key === undefined) missing.push(subject);
        else keys.set(subject, key);
      }
    }
    const encrypted = () =>
      keys.size === 0
        ? events
        : events.map((e) =>
            protectWith(e, schema, aggregateId, (s) => keys.get(s) ?? null),
          );
    if (missing.length === 0) {
      proceed(encrypted());
      return;
    }
    Promise.all(
      missing.map((subject) =>
        vault
          .keyFor(subject, true, creating && subject === aggregateId)
          .then((key) => keys.set(subject, key ?? null)),
      ),
    ).then(
      () => proceed(encrypted()),
      (error: unknown) => {
        reply.fail(
          new UnavailableError(
            `personal data in ${aggregateId} cannot be protected (vault: ${error instanceof Error ? error.message : String(error)}); nothing was applied`,
            { cause: error },
          ),
        );
        this.release(aggregateId, entry);
      },
    );
  }

  /** Steps 4 and 5: appends the decided events as one sealed commit. */
  private commit(
    aggregateId: string,
    command: Command,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    attempt: number,
    events: readonly Event[],
  ): void {
    const now = Date.now();
    const records = events.map((event) =>
      eventRecord(
        uuidv7(now),
        this.eventType(event),
        toBinary(this.eventSchema, event),
      ),
    );
    const version = entry.version + BigInt(events.length);
    const sealed = sealCommit({
      commitId: uuidv7(now),
      domain: this.domain,
      aggregateType: this.aggregateType,
      aggregateId,
      version,
      events: records,
      meta,
      occurredAtMs: now,
      prevHash: entry.lastHash,
      macKey: this.macKey,
    });
    const eventIds = records.map((r) => r.eventId);
    // Handed to the projection now: an atomic batch's members reach it before the batch's ack.
    const local: LocalCommit = {
      aggregateId,
      version,
      commandId: meta.commandId,
      correlationId: meta.correlationId,
      actor: meta.actor,
      occurredAtMs: now,
      eventIds,
      events,
      hash: sealed.hash,
      bytes: sealed.bytes,
    };
    this.localCommits?.add(local);
    const started = performance.now();
    this.store.append(
      aggregateId,
      entry.lastSeq,
      meta.commandId,
      sealed.bytes,
      (error, ack) => {
        this.metrics.appendSeconds.observe(
          (performance.now() - started) / 1000,
        );
        if (error === undefined && !ack!.duplicate) {
          this.appended(aggregateId, entry, meta, reply, ack!, events, local);
        } else {
          // Nothing of this commit was stored (refused, unknown, or an earlier attempt's commit stands).
          this.localCommits?.drop(local);
          if (error === undefined)
            this.duplicate(aggregateId, entry, meta, reply, ack!);
          else
            this.failed(
              aggregateId,
              command,
              meta,
              reply,
              entry,
              attempt,
              error,
            );
        }
      },
    );
  }

  /** An earlier attempt of this command stored its commit: answer with that commit's result. */
  private duplicate(
    aggregateId: string,
    entry: Entry<State>,
    meta: CommandMeta,
    reply: CommandReply,
    ack: Ack,
  ): void {
    // Stored by an earlier attempt of this command: catch up and answer with that commit's result.
    this.appendOutcomes.duplicate.inc();
    entry.stale = true;
    this.refresh(aggregateId, entry, (current) => {
      const first = this.resultOf(meta.commandId);
      if (first !== undefined) {
        reply.ok(first);
        this.release(aggregateId, current);
        return;
      }
      // Folded before its result was forgotten: the ack names the stored commit, read it.
      this.answerFromStream(aggregateId, meta, reply, current, async () => {
        const stored = await this.store.get(ack.seq);
        if (stored === undefined)
          throw new Error(`commit ${ack.seq} is not readable`);
        return encodedResultOf(decodeCommit(stored.data), ack.seq);
      });
    });
  }

  /** Refuses a command with `error`, unless it is the retry of one that was stored. */
  private refuse(
    aggregateId: string,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    error: unknown,
  ): void {
    // What the command's own fields decide refused its first attempt too: no earlier attempt was stored.
    if (!DomainError.is(error) || error.code === ErrorCode.VALIDATION_FAILED) {
      reply.fail(error);
      this.release(aggregateId, entry);
      return;
    }
    this.unlessStored(aggregateId, meta, reply, entry, () => reply.fail(error));
  }

  /**
   * Answers a command that changes nothing now (refused, or a no-op) with
   * `answer`, unless it is a retry whose first attempt was stored within the
   * stream's duplicate window: then with that attempt's result, as the
   * server's de-duplication answers a retry that decides the same way again.
   * Without I/O when the results remembered here cover the window for this
   * aggregate (the entry saw every commit since the window began, and no
   * result set within it was forgotten); else the aggregate's commits stored
   * within the window are read, up to `retryReadsPerSecond` such reads.
   */
  private unlessStored(
    aggregateId: string,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    answer: () => void,
  ): void {
    const windowStart = Date.now() - this.retryWindowMs;
    const covered =
      entry.version === 0n ||
      (entry.since <= windowStart &&
        this.resultUses.total() < this.resultCapacity);
    if (covered || this.retryReads.total() >= this.retryReadsPerSecond) {
      this.retryChecks[covered ? 'covered' : 'over-bound'].inc();
      answer();
      this.release(aggregateId, entry);
      return;
    }
    this.retryReads.add();
    this.answerFromStream(
      aggregateId,
      meta,
      reply,
      entry,
      async () => {
        try {
          for (const stored of await this.store.readSince(
            aggregateId,
            windowStart,
          )) {
            const commit = decodeCommit(stored.data);
            if (commit.commandId === meta.commandId) {
              this.retryChecks.found.inc();
              return encodedResultOf(commit, stored.seq);
            }
          }
        } catch (error) {
          this.retryChecks.unreadable.inc();
          throw error;
        }
        this.retryChecks.none.inc();
        return undefined;
      },
      answer,
    );
  }

  /**
   * Answers with the result of an earlier attempt of the command, as `read`
   * finds it in the stream; with `otherwise` when it finds none; as
   * unavailable when the stream cannot be read. Releases the entry after.
   */
  private answerFromStream(
    aggregateId: string,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    read: () => Promise<Uint8Array | undefined>,
    otherwise?: () => void,
  ): void {
    read().then(
      (result) => {
        if (result !== undefined) {
          this.keepResult(meta.commandId, result);
          reply.ok(result);
        } else {
          otherwise?.();
        }
        this.release(aggregateId, entry);
      },
      (cause: unknown) => {
        reply.fail(
          new UnavailableError(
            `command ${meta.commandId}: cannot read what an earlier attempt stored`,
            { cause },
          ),
        );
        this.release(aggregateId, entry);
      },
    );
  }

  private appended(
    aggregateId: string,
    entry: Entry<State>,
    meta: CommandMeta,
    reply: CommandReply,
    ack: Ack,
    events: readonly Event[],
    local: LocalCommit,
  ): void {
    const { eventIds, version, hash } = local;
    this.appendOutcomes.ok.inc();
    if (this.notStoring.ongoing) this.storedAgain();
    let { state } = entry;
    for (const event of events) state = this.decider.evolve(state, event);
    entry.state = state;
    entry.version = version;
    entry.lastSeq = ack.seq;
    entry.lastHash = hash;
    const result = encodeCommandResult(
      meta.commandId,
      aggregateId,
      version,
      eventIds,
      ack.seq,
    );
    this.keepResult(meta.commandId, result);
    reply.ok(result);
    // Versions stay far below 2^53: a plain number spares BigInt arithmetic per command.
    if (Number(version) >= entry.snapshotDue) this.snapshot(aggregateId, entry);
    this.release(aggregateId, entry);
  }

  /** Writes a snapshot of the aggregate as the entry holds it, and sets when the next one is due. */
  private snapshot(aggregateId: string, entry: Entry<State>): void {
    const { version } = entry;
    const warn = (err: unknown) =>
      this.log.warn({ err, aggregateId }, 'aggregate snapshot not written');
    try {
      const { bytes, written } = this.loader.saveSnapshot(aggregateId, entry);
      written.catch(warn);
      this.snapshotted(aggregateId, entry, { version, bytes });
    } catch (err) {
      warn(err);
      // Tried again after the ordinary interval.
      entry.snapshotDue = Number(version) + this.snapshotEvery;
    }
  }

  /**
   * Notes the aggregate's latest snapshot: what the entry weighs in the cache,
   * and from which version the next one is due.
   */
  private snapshotted(
    aggregateId: string,
    entry: Entry<State>,
    { version, bytes }: SnapshotMark,
  ): void {
    entry.snapshotDue =
      Number(version) +
      Math.max(
        this.snapshotEvery,
        Math.ceil(bytes / this.snapshotBytesPerVersion),
      );
    entry.snapshotBytes = bytes;
    this.cache.reweigh(aggregateId);
  }

  private failed(
    aggregateId: string,
    command: Command,
    meta: CommandMeta,
    reply: CommandReply,
    entry: Entry<State>,
    attempt: number,
    error: AppendError,
  ): void {
    entry.stale = true;
    if (error.failure === AppendFailure.wrongLastSequence) {
      this.appendOutcomes.conflict.inc();
      if (attempt < this.maxAttempts) {
        const retry = () =>
          this.refresh(aggregateId, entry, (fresh) =>
            this.attempt(aggregateId, command, meta, reply, fresh, attempt + 1),
          );
        // Instances racing on one aggregate back off by a random, growing delay so one of them gets through.
        if (attempt === 1) retry();
        else setTimeout(retry, Math.random() * 2 ** attempt);
        return;
      }
      reply.fail(
        new DomainError(
          ErrorCode.CONCURRENCY_CONFLICT,
          `${aggregateId} kept changing concurrently; gave up after ${attempt} attempts`,
        ),
      );
    } else {
      if (error.failure === AppendFailure.full) this.appendOutcomes.full.inc();
      else this.appendOutcomes.error.inc();
      if (error.retryable) this.notStored(error);
      else if (error.failure === AppendFailure.rejected)
        this.log.error(
          { err: error, aggregateId, commandId: meta.commandId },
          'append rejected',
        );
      reply.fail(appendFailureReply(this.domain, error));
    }
    this.release(aggregateId, entry);
  }

  /**
   * Says that the store does not take commits (no room, or no ack): when it
   * starts, then once a minute, not once per command.
   */
  private notStored(error: AppendError): void {
    const { log, lastedMs, failures } = this.notStoring.failed();
    if (log)
      this.log.error(
        {
          reason: error.message,
          apiCode: error.apiCode,
          lastedMs,
          refused: failures,
        },
        error.failure === AppendFailure.full
          ? 'event store full: commands are refused until it has room (free disk space, or raise the JetStream or stream limit)'
          : 'event store does not acknowledge commits: commands are answered UNAVAILABLE until it does',
      );
  }

  private storedAgain(): void {
    const ended = this.notStoring.succeeded();
    if (ended !== undefined)
      this.log.info(
        { waitedMs: ended.lastedMs, refused: ended.failures },
        'event store stores commits again',
      );
  }

  private eventType(event: Event): string {
    const typeName =
      (event.body.value as Message | undefined)?.$typeName ?? event.$typeName;
    let short = this.eventTypes.get(typeName);
    if (short === undefined) {
      short = typeName.slice(typeName.lastIndexOf('.') + 1);
      this.eventTypes.set(typeName, short);
    }
    return short;
  }
}

/**
 * What the caller of a command is told when its commit was not stored:
 * UNAVAILABLE when the store cannot be reached or has no room (the same command
 * id can be sent again), VALIDATION_FAILED for a commit larger than the stream
 * takes, and the error itself (INTERNAL) otherwise.
 */
export function appendFailureReply(domain: string, error: AppendError): Error {
  switch (error.failure) {
    case AppendFailure.unavailable:
      return new UnavailableError(
        `${domain} event store unavailable: ${error.message}`,
        { cause: error },
      );
    case AppendFailure.full:
      return new UnavailableError(
        `the ${domain} event store is full (${error.message}); nothing was applied; retry once it has room`,
        { cause: error },
      );
    case AppendFailure.tooLarge:
      return new DomainError(
        ErrorCode.VALIDATION_FAILED,
        `the commit is too large for the ${domain} stream (${error.message})`,
      );
    default:
      return error;
  }
}

/** The CommandResult a stored commit stands for. */
export function resultOf(commit: Commit, seq: number): CommandResult {
  return create(CommandResultSchema, {
    commandId: commit.commandId,
    aggregateId: commit.aggregateId,
    version: commit.version,
    eventIds: commit.events.map((e) => e.eventId),
    streamSequence: BigInt(seq),
  });
}

/** `resultOf`, encoded. */
function encodedResultOf(commit: Commit, seq: number): Uint8Array {
  return encodeCommandResult(
    commit.commandId,
    commit.aggregateId,
    commit.version,
    commit.events.map((e) => e.eventId),
    seq,
  );
}

const NO_EVENTS: readonly string[] = [];
