import type { KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import { fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { EventStore, Follower } from '@cim/eventstore';
import { decodeCommit, eventSubject } from '@cim/kernel';
import type { Logger } from '@cim/observability';
import type { Commit } from '@cim/proto/cim/common/v1/envelope_pb';
import type { JsMsg } from '@nats-io/jetstream';
import type { EventMessage } from './definition.js';
import type { CommitMeta, Projection, Rows } from './types.js';
import { LocalCommits, type LocalCommit } from './local-commits.js';
import { openSnapshot, sealSnapshot } from './snapshot-seal.js';
import { StringInterner } from './string-interner.js';
import { DATA_SUBJECT } from './forgetter.js';

const SNAPSHOT_KEY = 'projection';

/**
 * A projection snapshot is V8-serialised values: this head, then `entries`
 * values `[aggregateId, version, row | undefined]`, written a slice at a time
 * between folds. Every row is at least as new as `position`; one written
 * after later folds holds them, and its version tells the tail to skip them.
 */
interface SnapshotHead {
  readonly format: typeof SLICED;
  readonly snapshotVersion: number;
  readonly position: number;
  readonly entries: number;
}

const SLICED = 2;

type SnapshotEntry<Row> = readonly [string, bigint, Row | undefined];

/** A snapshot written whole in one turn, as earlier releases did: one value. */
interface WholeSnapshot<Row> {
  readonly snapshotVersion: number;
  readonly position: number;
  readonly rows: Array<[string, Row]>;
  readonly versions: Array<[string, bigint]>;
}

interface Waiter {
  readonly version: bigint;
  readonly resolve: () => void;
}

interface PositionWaiter {
  readonly position: number;
  readonly resolve: () => void;
}

/** When a projection writes its KV snapshot. */
export interface ProjectionOptions {
  /** Snapshot after this many commits (and at least as many as there are rows); default 10,000. */
  readonly snapshotEveryCommits?: number;
  /**
   * ... but at most once per this many milliseconds, and after it with at
   * least one new commit; default 60,000. Serialising the read model costs
   * about as much CPU as folding it, so it is rationed: it only shortens
   * restarts.
   */
  readonly snapshotEveryMs?: number;
  /**
   * Milliseconds a snapshot serialises rows before it lets folds, commands
   * and queries run again; default 10. A large read model is written over
   * many turns instead of stalling the service for all of it at once.
   */
  readonly snapshotSliceMs?: number;
}

/**
 * Keeps a domain's read model in memory: follows the stream with an ordered
 * consumer, folds each event with the domain's `project`, tracks every
 * aggregate's version for read-your-writes, and snapshots to KV so a restart
 * replays only the tail.
 */
export class ProjectionRunner<
  Event extends EventMessage,
  Row,
> implements Rows<Row> {
  private readonly rows = new Map<string, Row>();
  private readonly versions = new Map<string, bigint>();
  private readonly waiters = new Map<string, Waiter[]>();
  private positionWaiters: PositionWaiter[] = [];
  /** The lowest position a waiter waits for (Infinity when none does). */
  private nextWake = Infinity;
  private follower: Follower | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  /** The snapshot being written, if one is. */
  private saving: Promise<void> | undefined;
  private sinceSnapshot = 0;
  private lastSnapshotAt = Date.now();
  private caughtUpTo = 0;
  /** Stream sequence of the last message folded. */
  position = 0;
  /** `cim.<domain>.evt.`: the subjects of commits, followed by the aggregate id. */
  private readonly eventPrefix: string;

  constructor(
    private readonly store: EventStore,
    private readonly project: Projection<Event, Row>,
    private readonly eventSchema: DescMessage,
    private readonly snapshotVersion: number,
    private readonly log: Logger,
    /**
     * Every commit folded that this instance did not append itself (other
     * instances', earlier runs'), with its stored bytes and, where it has
     * them, the events as decoded for the read model.
     */
    private readonly onCommit: (
      commit: Commit,
      seq: number,
      data: Uint8Array,
      events?: readonly Event[],
    ) => void,
    private readonly options: ProjectionOptions = {},
    private readonly revive: (cloned: unknown) => Row = (cloned) =>
      cloned as Row,
    /** Sees every stream message first; a true answer keeps a commit out of the read model (not written by the service). */
    private readonly observe: (
      seq: number,
      subject: string,
      data: Uint8Array,
      trustedHash: Uint8Array | undefined,
    ) => boolean = () => false,
    private readonly local: LocalCommits = new LocalCommits(),
    /** The service's mac keys, the active one first: snapshots are sealed with it and refused unless one of them sealed them. */
    private readonly macKeys?: readonly KeyObject[],
  ) {
    this.eventPrefix = eventSubject(store.domain, '');
  }

  get size(): number {
    return this.rows.size;
  }

  get(aggregateId: string): Row | undefined {
    return this.rows.get(aggregateId);
  }

  values(): IterableIterator<Row> {
    return this.rows.values();
  }

  entries(): IterableIterator<[string, Row]> {
    return this.rows.entries();
  }

  /** The version of an aggregate the rows reflect (0 when unseen). */
  versionOf(aggregateId: string): bigint {
    return this.versions.get(aggregateId) ?? 0n;
  }

  /** True once everything stored when the runner started has been folded. */
  get caughtUp(): boolean {
    return this.position >= this.caughtUpTo;
  }

  /** Loads the snapshot, starts following the stream, and resolves once caught up with it. */
  async start(
    beforeFollow: (position: number) => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    await this.loadSnapshot();
    await beforeFollow(this.position);
    this.caughtUpTo = await this.store.lastSequence();
    // Whatever the last message is (a commit, a checkpoint, one not folded).
    const caughtUp = this.caughtUp
      ? Promise.resolve()
      : new Promise<void>((resolve) =>
          this.addPositionWaiter(this.caughtUpTo, resolve),
        );
    this.follower = await this.store.follow(this.position + 1, (msg) =>
      this.apply(msg),
    );
    const every = this.options.snapshotEveryMs ?? 60_000;
    this.snapshotTimer = setInterval(() => {
      if (this.sinceSnapshot > 0) void this.saveSnapshot();
    }, every).unref();
    await caughtUp;
  }

  /** Resolves when the aggregate reaches `version`, or rejects after `timeoutMs`. */
  waitFor(
    aggregateId: string,
    version: bigint,
    timeoutMs: number,
  ): Promise<void> {
    if (this.versionOf(aggregateId) >= version) return Promise.resolve();
    return waitUntil(
      timeoutMs,
      `${aggregateId} did not reach version ${version} within ${timeoutMs} ms`,
      (resolve) => {
        const waiter: Waiter = { version, resolve };
        const list = this.waiters.get(aggregateId);
        if (list === undefined) this.waiters.set(aggregateId, [waiter]);
        else list.push(waiter);
        return () => {
          const still = this.waiters
            .get(aggregateId)
            ?.filter((w) => w !== waiter);
          if (still === undefined || still.length === 0)
            this.waiters.delete(aggregateId);
          else this.waiters.set(aggregateId, still);
        };
      },
    );
  }

  /**
   * Resolves once the message at stream sequence `position` has been folded
   * (the read model then holds every commit stored up to it, whatever its
   * aggregate), or rejects after `timeoutMs`.
   */
  waitForPosition(position: number, timeoutMs: number): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    return waitUntil(
      timeoutMs,
      `the read model did not reach stream position ${position} within ${timeoutMs} ms`,
      (resolve) => this.addPositionWaiter(position, resolve),
    );
  }

  /** Calls `resolve` once `position` is folded; answers how to withdraw it. */
  private addPositionWaiter(position: number, resolve: () => void): () => void {
    const waiter: PositionWaiter = { position, resolve };
    this.positionWaiters.push(waiter);
    this.nextWake = Math.min(this.nextWake, position);
    return () => {
      this.positionWaiters = this.positionWaiters.filter((w) => w !== waiter);
    };
  }

  /** Stops following and writes a final snapshot. */
  async stop(): Promise<void> {
    clearInterval(this.snapshotTimer);
    await this.follower?.stop();
    await this.saving;
    if (this.sinceSnapshot > 0) await this.saveSnapshot();
  }

  private apply(msg: JsMsg): void {
    this.position = msg.seq;
    this.applyMessage(msg);
    if (this.position >= this.nextWake) this.wakePositionWaiters();
  }

  /** Resolves the waiters for positions the read model has reached. */
  private wakePositionWaiters(): void {
    let next = Infinity;
    this.positionWaiters = this.positionWaiters.filter((w) => {
      if (w.position <= this.position) {
        w.resolve();
        return false;
      }
      next = Math.min(next, w.position);
      return true;
    });
    this.nextWake = next;
  }

  private applyMessage(msg: JsMsg): void {
    const { subject } = msg;
    const local = subject.startsWith(this.eventPrefix)
      ? this.local.take(subject.slice(this.eventPrefix.length), msg.data)
      : undefined;
    const forged = this.observe(msg.seq, subject, msg.data, local?.hash);
    // Checkpoints share the stream; forged commits stay out of the read model.
    if (forged || !subject.startsWith(this.eventPrefix)) return;
    if (local !== undefined) {
      this.fold(msg.seq, local);
      return;
    }
    let commit: Commit;
    try {
      commit = decodeCommit(msg.data);
    } catch (err) {
      this.log.error(
        { err, seq: msg.seq },
        'unreadable commit skipped by projection',
      );
      return;
    }
    if (commit.aggregateType === DATA_SUBJECT) {
      // A forgotten subject's audit record: nothing for the read model to fold.
      this.onCommit(commit, msg.seq, msg.data);
      return;
    }
    let events: Event[];
    try {
      events = commit.events.map(
        (record) => fromBinary(this.eventSchema, record.payload) as Event,
      );
    } catch (err) {
      this.log.error(
        { err, seq: msg.seq },
        'undecodable event: commit skipped by projection',
      );
      return;
    }
    this.fold(msg.seq, {
      aggregateId: commit.aggregateId,
      version: commit.version,
      commandId: commit.commandId,
      correlationId: commit.correlationId,
      actor: commit.actor,
      occurredAtMs:
        commit.occurredAt === undefined ? 0 : timestampMs(commit.occurredAt),
      eventIds: commit.events.map((record) => record.eventId),
      events,
      hash: commit.hash,
    });
    this.onCommit(commit, msg.seq, msg.data, events);
  }

  /**
   * Whether the aggregate's row already holds the commit: only in the tail
   * after a snapshot, stored before this run, where the snapshot wrote a row
   * after later folds.
   */
  private holds(seq: number, commit: Omit<LocalCommit, 'bytes'>): boolean {
    if (seq > this.caughtUpTo) return false;
    const known = this.versions.get(commit.aggregateId);
    return known !== undefined && commit.version <= known;
  }

  /** Folds one commit's events into its aggregate's row, unless the row holds them already. */
  private fold(seq: number, commit: Omit<LocalCommit, 'bytes'>): void {
    if (this.holds(seq, commit)) return;
    const { aggregateId } = commit;
    const first = commit.version - BigInt(commit.events.length) + 1n;
    let row = this.rows.get(aggregateId);
    commit.events.forEach((event, i) => {
      const meta: CommitMeta = {
        aggregateId,
        version: first + BigInt(i),
        sequence: BigInt(seq),
        eventId: commit.eventIds[i] ?? '',
        commandId: commit.commandId,
        correlationId: commit.correlationId,
        actor: commit.actor,
        occurredAtMs: commit.occurredAtMs,
      };
      try {
        row = this.project(row, event as Event, meta);
      } catch (err) {
        this.log.error(
          { err, seq, eventId: meta.eventId },
          'event not projected',
        );
      }
    });
    if (row === undefined) this.rows.delete(aggregateId);
    else this.rows.set(aggregateId, row);
    this.versions.set(aggregateId, commit.version);
    this.release(aggregateId, commit.version);
    if (
      ++this.sinceSnapshot >=
        Math.max(this.options.snapshotEveryCommits ?? 10_000, this.rows.size) &&
      Date.now() - this.lastSnapshotAt >=
        (this.options.snapshotEveryMs ?? 60_000)
    ) {
      void this.saveSnapshot();
    }
  }

  private release(aggregateId: string, version: bigint): void {
    const list = this.waiters.get(aggregateId);
    if (list === undefined) return;
    const still = list.filter((w) => {
      if (w.version > version) return true;
      w.resolve();
      return false;
    });
    if (still.length === 0) this.waiters.delete(aggregateId);
    else this.waiters.set(aggregateId, still);
  }

  private async loadSnapshot(): Promise<void> {
    try {
      const stored = await this.store.snapshots.load(SNAPSHOT_KEY);
      if (stored === undefined) return;
      const bytes = openSnapshot(stored, this.macKeys);
      if (bytes === undefined) {
        // Written by no key of this service: its rows may answer nothing.
        this.log.error(
          'projection snapshot not sealed by this service; replaying the stream',
        );
        return;
      }
      const deserializer = new DefaultDeserializer(bytes);
      deserializer.readHeader();
      const head = deserializer.readValue() as
        SnapshotHead | WholeSnapshot<Row>;
      if (head.snapshotVersion !== this.snapshotVersion) return;
      // One instance per distinct string across all rows, as before the snapshot was written.
      const strings = new StringInterner();
      const load = (id: string, version: bigint, row: Row | undefined) => {
        const key = strings.intern(id);
        if (row !== undefined)
          this.rows.set(key, this.revive(strings.internAll(row)));
        this.versions.set(key, version);
      };
      if ('format' in head) {
        for (let i = 0; i < head.entries; i++)
          load(...(deserializer.readValue() as SnapshotEntry<Row>));
      } else {
        for (const [id, row] of head.rows)
          this.rows.set(
            strings.intern(id),
            this.revive(strings.internAll(row)),
          );
        for (const [id, version] of head.versions)
          this.versions.set(strings.intern(id), version);
      }
      this.position = head.position;
      this.log.info(
        { position: this.position, rows: this.rows.size },
        'projection snapshot loaded',
      );
    } catch (err) {
      // A snapshot is an optimisation: without it the stream is replayed from the start.
      this.log.warn(
        { err },
        'projection snapshot unreadable; replaying the stream',
      );
      this.rows.clear();
      this.versions.clear();
      this.position = 0;
    }
  }

  private saveSnapshot(): Promise<void> {
    this.saving ??= this.writeSnapshot().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  /**
   * Serialises every aggregate's version and row, yielding to the event loop
   * every `snapshotSliceMs`, and stores the snapshot. Folds go on meanwhile:
   * an aggregate written after one holds it, which its version records.
   * Rows must not share mutable objects with each other: an object is
   * written once, as it was when the first row holding it was written.
   */
  private async writeSnapshot(): Promise<void> {
    this.sinceSnapshot = 0;
    this.lastSnapshotAt = Date.now();
    try {
      const ids = [...this.versions.keys()];
      const serializer = new DefaultSerializer();
      serializer.writeHeader();
      serializer.writeValue({
        format: SLICED,
        snapshotVersion: this.snapshotVersion,
        position: this.position,
        entries: ids.length,
      } satisfies SnapshotHead);
      const sliceMs = this.options.snapshotSliceMs ?? 10;
      let sliceEnd = performance.now() + sliceMs;
      for (const id of ids) {
        const entry: SnapshotEntry<Row> = [
          id,
          this.versions.get(id)!,
          this.rows.get(id),
        ];
        serializer.writeValue(entry);
        if (performance.now() >= sliceEnd) {
          await nextTurn();
          sliceEnd = performance.now() + sliceMs;
        }
      }
      await this.store.snapshots.save(
        SNAPSHOT_KEY,
        sealSnapshot(serializer.releaseBuffer(), this.macKeys?.[0]),
      );
    } catch (err) {
      this.log.warn({ err }, 'projection snapshot not written');
    }
  }
}

/**
 * A promise that `register` resolves, or that rejects with `message` after
 * `timeoutMs`; `register` answers how to withdraw the waiter on timeout.
 */
function waitUntil(
  timeoutMs: number,
  message: string,
  register: (resolve: () => void) => () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const withdraw = register(() => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      withdraw();
      reject(new Error(message));
    }, timeoutMs);
  });
}
