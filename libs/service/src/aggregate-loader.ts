import type { KeyObject } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { fromBinary, type DescMessage } from '@bufbuild/protobuf';
import type { EventStore, StoredCommit } from '@cim/eventstore';
import {
  GENESIS_HASH,
  chainHash,
  commitMac,
  decodeCommit,
  sameHash,
  splitSealed,
  type Decider,
} from '@cim/kernel';
import type { Logger } from '@cim/observability';
import type { Commit } from '@cim/proto/cim/common/v1/envelope_pb';
import type { EventMessage } from './definition.js';
import { openSnapshot, sealSnapshot } from './snapshot-seal.js';

/** An aggregate's state as of its last stored commit. */
export interface AggregateState<State> {
  state: State;
  /** Aggregate version (events applied). */
  version: bigint;
  /** Stream sequence of the last commit; 0 when the aggregate has none. */
  lastSeq: number;
  /** Hash of the last commit, which the next one chains to. */
  lastHash: Uint8Array;
}

/** Where an aggregate's latest snapshot stands: its version and size (0 and 0 when it has none). */
export interface SnapshotMark {
  readonly version: bigint;
  readonly bytes: number;
}

/** An aggregate as loaded, with the snapshot it was loaded from. */
export interface LoadedAggregate<State> extends AggregateState<State> {
  readonly snapshot: SnapshotMark;
}

const NO_SNAPSHOT: SnapshotMark = { version: 0n, bytes: 0 };

/** A stored commit as someone already decoded it from its bytes, with its events. */
export interface DecodedCommit<Event> {
  readonly commit: Commit;
  readonly events: readonly Event[];
}

/** A commit whose hash chain does not hold: stored history was altered. */
export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

interface SnapshotRecord<State> {
  readonly snapshotVersion: number;
  readonly state: State;
  readonly version: bigint;
  readonly lastSeq: number;
  readonly lastHash: Uint8Array;
}

/**
 * Rebuilds aggregates from their snapshot plus the commits after it,
 * checking the hash chain of every commit it folds, and writes snapshots.
 */
export class AggregateLoader<State, Event extends EventMessage> {
  constructor(
    private readonly store: EventStore,
    private readonly decider: Pick<
      Decider<State, never, Event>,
      'initialState' | 'evolve'
    >,
    private readonly eventSchema: DescMessage,
    private readonly snapshotVersion: number,
    private readonly revive: (cloned: unknown) => State = (cloned) =>
      cloned as State,
    /**
     * Mac keys of the service's keyring, the active one first: a commit whose
     * mac verifies under none was not written by it; snapshots are sealed
     * with the first.
     */
    private readonly macKeys?: readonly KeyObject[],
    /** Told of a snapshot that could not be read (the aggregate is then replayed from its commits). */
    private readonly log?: Logger,
  ) {}

  /**
   * The aggregate from its latest snapshot and the commits after it. Its
   * last commit is read first: an aggregate without one (about to be
   * created) has no snapshot either, and costs that one round trip.
   */
  async load(
    aggregateId: string,
    onCommit: (commit: Commit, seq: number) => void,
  ): Promise<LoadedAggregate<State>> {
    const empty = (): LoadedAggregate<State> => ({
      state: this.decider.initialState(),
      version: 0n,
      lastSeq: 0,
      lastHash: GENESIS_HASH,
      snapshot: NO_SNAPSHOT,
    });
    const last = await this.store.lastOf(aggregateId);
    if (last === null) return empty();
    const start = (await this.loadSnapshot(aggregateId)) ?? empty();
    return this.catchUp(aggregateId, start, onCommit, last);
  }

  /**
   * Folds the commits stored after `current.lastSeq` into `current` (in
   * place) and returns it; up to `last` when the caller has just read the
   * aggregate's last commit.
   */
  async catchUp<A extends AggregateState<State>>(
    aggregateId: string,
    current: A,
    onCommit: (commit: Commit, seq: number) => void,
    last?: StoredCommit,
  ): Promise<A> {
    for (const stored of await this.store.read(
      aggregateId,
      current.lastSeq + 1,
      last,
    ))
      this.extend(aggregateId, current, stored, onCommit);
    return current;
  }

  /**
   * Folds one stored commit into `current` (in place): it must be the next
   * link of the aggregate's hash chain and carry a mac of this service, or
   * IntegrityError is thrown and `current` is left as it was.
   */
  extend(
    aggregateId: string,
    current: AggregateState<State>,
    stored: Pick<StoredCommit, 'seq' | 'data'>,
    onCommit: (commit: Commit, seq: number) => void,
    decoded?: DecodedCommit<Event>,
  ): void {
    const commit = this.verify(
      aggregateId,
      stored,
      current.lastHash,
      decoded?.commit,
    );
    let { state } = current;
    if (decoded === undefined) {
      for (const record of commit.events) {
        state = this.decider.evolve(
          state,
          fromBinary(this.eventSchema, record.payload) as Event,
        );
      }
    } else {
      for (const event of decoded.events)
        state = this.decider.evolve(state, event);
    }
    current.state = state;
    current.version = commit.version;
    current.lastSeq = stored.seq;
    current.lastHash = commit.hash;
    onCommit(commit, stored.seq);
  }

  /**
   * Serialises a snapshot of the aggregate (the caller decides how often)
   * and starts writing it: its size at once, and when it is stored.
   */
  saveSnapshot(
    aggregateId: string,
    current: AggregateState<State>,
  ): { readonly bytes: number; readonly written: Promise<void> } {
    const record: SnapshotRecord<State> = {
      snapshotVersion: this.snapshotVersion,
      state: current.state,
      version: current.version,
      lastSeq: current.lastSeq,
      lastHash: current.lastHash,
    };
    const bytes = sealSnapshot(serialize(record), this.macKeys?.[0]);
    return {
      bytes: bytes.length,
      written: this.store.snapshots.save(snapshotKey(aggregateId), bytes),
    };
  }

  private async loadSnapshot(
    aggregateId: string,
  ): Promise<LoadedAggregate<State> | undefined> {
    const stored = await this.store.snapshots.load(snapshotKey(aggregateId));
    if (stored === undefined) return undefined;
    const bytes = openSnapshot(stored, this.macKeys);
    if (bytes === undefined) {
      // Written by no key of this service: the state it holds may decide nothing.
      this.log?.error(
        { aggregateId },
        'aggregate snapshot not sealed by this service; replaying its commits',
      );
      return undefined;
    }
    try {
      const record = deserialize(bytes) as SnapshotRecord<State>;
      if (record.snapshotVersion !== this.snapshotVersion) return undefined;
      return {
        state: this.revive(record.state),
        version: record.version,
        lastSeq: record.lastSeq,
        lastHash: record.lastHash,
        snapshot: { version: record.version, bytes: stored.length },
      };
    } catch (err) {
      // A snapshot only saves time: without it the aggregate is replayed, and the next one written replaces it.
      this.log?.warn(
        { err, aggregateId },
        'aggregate snapshot unreadable; replaying its commits',
      );
      return undefined;
    }
  }

  private verify(
    aggregateId: string,
    stored: Pick<StoredCommit, 'seq' | 'data'>,
    prevHash: Uint8Array,
    decoded?: Commit,
  ): Commit {
    const sealed = splitSealed(stored.data);
    if (sealed === undefined)
      throw new IntegrityError(
        `commit ${stored.seq} of ${aggregateId} carries no hash`,
      );
    if (!sameHash(chainHash(prevHash, sealed.unsealed), sealed.hash)) {
      throw new IntegrityError(
        `commit ${stored.seq} of ${aggregateId} breaks the hash chain`,
      );
    }
    if (
      this.macKeys !== undefined &&
      (sealed.mac === undefined ||
        !this.macKeys.some((key) =>
          sameHash(commitMac(key, sealed.hash), sealed.mac!),
        ))
    ) {
      throw new IntegrityError(
        `commit ${stored.seq} of ${aggregateId} was not written by this service`,
      );
    }
    const commit = decoded ?? decodeCommit(stored.data);
    if (
      !sameHash(commit.prevHash, prevHash) ||
      commit.aggregateId !== aggregateId
    ) {
      throw new IntegrityError(
        `commit ${stored.seq} of ${aggregateId} does not follow its predecessor`,
      );
    }
    return commit;
  }
}

function snapshotKey(aggregateId: string): string {
  return `agg/${aggregateId}`;
}
