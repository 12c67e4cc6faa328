import type { ConceptualspacesEvent } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import type { CommitMeta } from '@cim/service';
import { evolve } from './domain/evolve.js';
import { metricPoint } from './domain/geometry.js';
import {
  initialState,
  reviveSpaceState,
  type PresentSpace,
} from './domain/state.js';
import {
  buildIndex,
  emptyIndex,
  insertEntry,
  markStale,
  needsRebuild,
  type ConceptIndex,
  type IndexEntry,
} from './concept-index.js';

/**
 * The read model of one space: the space as the aggregate folds it, plus the
 * similarity index over its concepts. The space's collections are persistent
 * maps and the index shares its trees between versions, so each event builds
 * a new row in amortised O(log² n) without copying: earlier rows stay valid
 * for any query still reading them.
 */
export interface SpaceRow {
  readonly space: PresentSpace;
  readonly index: ConceptIndex;
  /** Aggregate version after the last event folded in. */
  readonly version: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** Whether an index entry is the current placement of its concept in `space`. */
export function liveIn(space: PresentSpace) {
  return (id: string, stamp: number): boolean =>
    space.concepts.get(id)?.stamp === stamp;
}

/** A fresh index over every concept of the space. */
export function indexSpace(space: PresentSpace): ConceptIndex {
  const entries: IndexEntry[] = [];
  for (const [id, concept] of space.concepts) {
    entries.push({
      id,
      stamp: concept.stamp,
      point: metricPoint(space.dimensions, concept.coordinates),
    });
  }
  return buildIndex(space.dimensions.length, entries);
}

/**
 * Folds one event into the space's row: undefined until the space is
 * created, never dropped afterwards (deleted spaces still answer reads).
 */
export function project(
  row: SpaceRow | undefined,
  event: ConceptualspacesEvent,
  meta: CommitMeta,
): SpaceRow | undefined {
  if (row === undefined) {
    if (event.body.case !== 'created') return undefined;
    const space = evolve(initialState(), event) as PresentSpace;
    return {
      space,
      index: emptyIndex(space.dimensions.length),
      version: meta.version,
      createdAtMs: meta.occurredAtMs,
      updatedAtMs: meta.occurredAtMs,
    };
  }
  const space = evolve(row.space, event) as PresentSpace;
  return {
    space,
    index: reindex(row.index, row.space, space, event),
    version: meta.version,
    createdAtMs: row.createdAtMs,
    updatedAtMs: meta.occurredAtMs,
  };
}

function reindex(
  index: ConceptIndex,
  before: PresentSpace,
  after: PresentSpace,
  { body }: ConceptualspacesEvent,
): ConceptIndex {
  switch (body.case) {
    case 'dimensionAdded':
      return indexSpace(after);
    case 'conceptAdded':
    case 'conceptMoved':
    case 'conceptRemoved': {
      const id = body.value.conceptId;
      const old = before.concepts.get(id);
      const now = after.concepts.get(id);
      let next = index;
      if (old !== undefined && old.stamp !== now?.stamp) next = markStale(next);
      if (now !== undefined && now.stamp !== old?.stamp) {
        next = insertEntry(
          next,
          {
            id,
            stamp: now.stamp,
            point: metricPoint(after.dimensions, now.coordinates),
          },
          liveIn(after),
        );
      }
      return needsRebuild(next) ? indexSpace(after) : next;
    }
    default:
      return index;
  }
}

/** Restores a row from its structured clone (see reviveSpaceState); the index is plain data. */
export function reviveSpaceRow(cloned: unknown): SpaceRow {
  const row = cloned as SpaceRow;
  return { ...row, space: reviveSpaceState(row.space) as PresentSpace };
}
