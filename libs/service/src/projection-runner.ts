import { deserialize, serialize } from 'node:v8';
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
import { DATA_SUBJECT } from './forgetter.js';

const SNAPSHOT_KEY = 'projection';

interface ProjectionSnapshot<Row> {
  readonly snapshotVersion: number;
  readonly position: number;
  readonly rows: Array<[string, Row]>;
  readonly versions: Array<[string, bigint]>;
}

interface Waiter {
  readonly version: bigint;
  readonly resolve: () => void;
}

/** When a projection writes its KV snapshot. */
export interface ProjectionOptions {
  /** Snapshot after this many commits (and at least as many as there are rows); default 10,000. */
  readonly snapshotEveryCommits?: number;
  /**
   * ... but at most once per this many milliseconds, and after it with at
   * least one new commit; default 60,000. A snapshot serialises the whole read
   * model on the event loop, so it is rationed: it only shortens restarts.
   */
  readonly snapshotEveryMs?: number;
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
  private follower: Follower | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private saving = false;
  private sinceSnapshot = 0;
  private lastSnapshotAt = Date.now();
  private caughtUpTo = 0;
  private caughtUpResolve: (() => void) | undefined;
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
    /** Every commit folded that this instance did not append itself (other instances', earlier runs'), with its stored bytes. */
    private readonly onCommit: (
      commit: Commit,
      seq: number,
      data: Uint8Array,
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
    const caughtUp = new Promise<void>(
      (resolve) => (this.caughtUpResolve = resolve),
    );
    if (this.caughtUp) this.caughtUpResolve?.();
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
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(aggregateId);
        const at = list?.indexOf(waiter) ?? -1;
        if (at >= 0) list!.splice(at, 1);
        reject(
          new Error(
            `${aggregateId} did not reach version ${version} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        version,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const list = this.waiters.get(aggregateId);
      if (list === undefined) this.waiters.set(aggregateId, [waiter]);
      else list.push(waiter);
    });
  }

  /** Stops following and writes a final snapshot. */
  async stop(): Promise<void> {
    clearInterval(this.snapshotTimer);
    await this.follower?.stop();
    if (this.sinceSnapshot > 0) await this.saveSnapshot();
  }

  private apply(msg: JsMsg): void {
    this.position = msg.seq;
    const { subject } = msg;
    const local = subject.startsWith(this.eventPrefix)
      ? this.local.take(subject.slice(this.eventPrefix.length), msg.data)
      : undefined;
    const forged = this.observe(msg.seq, subject, msg.data, local?.hash);
    if (forged || !subject.startsWith(this.eventPrefix)) {
      if (this.caughtUp) this.caughtUpResolve?.();
      return; // checkpoints share the stream; forged commits stay out of the read model
    }
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
    this.onCommit(commit, msg.seq, msg.data);
  }

  /** Folds one commit's events into its aggregate's row and moves the read model on. */
  private fold(seq: number, commit: Omit<LocalCommit, 'bytes'>): void {
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
    if (this.caughtUp) this.caughtUpResolve?.();
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
      const bytes = await this.store.snapshots.load(SNAPSHOT_KEY);
      if (bytes === undefined) return;
      const snapshot = deserialize(bytes) as ProjectionSnapshot<Row>;
      if (snapshot.snapshotVersion !== this.snapshotVersion) return;
      for (const [id, row] of snapshot.rows)
        this.rows.set(id, this.revive(row));
      for (const [id, version] of snapshot.versions)
        this.versions.set(id, version);
      this.position = snapshot.position;
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

  private async saveSnapshot(): Promise<void> {
    if (this.saving) return;
    this.saving = true;
    this.sinceSnapshot = 0;
    this.lastSnapshotAt = Date.now();
    try {
      // Serialised synchronously, so the snapshot is one consistent position.
      const bytes = serialize({
        snapshotVersion: this.snapshotVersion,
        position: this.position,
        rows: [...this.rows],
        versions: [...this.versions],
      } satisfies ProjectionSnapshot<Row>);
      await this.store.snapshots.save(SNAPSHOT_KEY, bytes);
    } catch (err) {
      this.log.warn({ err }, 'projection snapshot not written');
    } finally {
      this.saving = false;
    }
  }
}
