import { create } from '@bufbuild/protobuf';
import {
  ChildFactsSchema,
  HierarchyLinkSchema,
  ParentFactsSchema,
  type ChildFacts,
  type HierarchyLink,
  type LocationEvent,
  type LocationType,
  type ParentFacts,
} from '@cim/proto/cim/location/v1/location_pb';
import type { CommitMeta, Rows } from '@cim/service';
import { LIMITS } from './domain/index.js';
import { project, type LocationRow } from './projection.js';
import { SortedIds } from './sorted-ids.js';
import { SpatialIndex } from './spatial-index.js';

/** Children named in an ArchiveLocation refusal. */
const SAMPLE_CHILDREN = 10;

/** A location's ancestors as the read model holds them, and the cycle they run into, if any. */
export interface Ancestry {
  /** The parent first, up to a root or the cycle. */
  readonly ancestors: LocationRow[];
  /** The ids of the cycle the parent chain runs into, in parent order; empty when none. */
  readonly cycle: string[];
}

/**
 * The read side of one service instance: the runtime's rows plus the
 * secondary indexes the queries and the cross-location checks need (a
 * spatial index over coordinates, locations by type, children by parent).
 * The runtime gives the rows to the query handlers only, and a Rows
 * interface has no change feed, so the indexes are kept by wrapping the pure
 * per-row fold: `project` calls the pure `project` of projection.ts, then updates the indexes
 * with the difference between the row before and after, O(log n) per event.
 * Rows loaded from a snapshot never pass through `project`, so `bind`
 * rebuilds the indexes from the rows once, when the runtime hands them over.
 */
export class LocationReadModel {
  private rows: Rows<LocationRow> | undefined;
  /** Coordinates of every location that has them, archived ones included. */
  readonly points = new SpatialIndex();
  private readonly allOfType = new Map<LocationType, SortedIds>();
  private readonly liveOfType = new Map<LocationType, SortedIds>();
  private readonly children = new Map<string, SortedIds>();
  private readonly liveChildren = new Map<string, number>();

  /** The fold to give the runtime: the pure projection, plus index upkeep once bound. */
  readonly project = (
    row: LocationRow | undefined,
    event: LocationEvent,
    meta: CommitMeta,
  ): LocationRow | undefined => {
    const next = project(row, event, meta);
    if (this.rows !== undefined) this.reindex(meta.aggregateId, row, next);
    return next;
  };

  /** Takes the runtime's rows and rebuilds every index from them. */
  bind(rows: Rows<LocationRow>): this {
    this.rows = rows;
    this.points.clear();
    this.allOfType.clear();
    this.liveOfType.clear();
    this.children.clear();
    this.liveChildren.clear();
    for (const [id, row] of rows.entries()) this.reindex(id, undefined, row);
    return this;
  }

  /** One location's row. */
  row(locationId: string): LocationRow | undefined {
    return this.bound().get(locationId);
  }

  /** Locations of a type by id, archived ones only when asked. */
  ofType(type: LocationType, includeArchived: boolean): SortedIds {
    return (
      (includeArchived ? this.allOfType : this.liveOfType).get(type) ??
      new SortedIds()
    );
  }

  /** Direct children by id, archived ones included. */
  childrenOf(locationId: string): SortedIds {
    return this.children.get(locationId) ?? new SortedIds();
  }

  /** Ancestors by following parents; stops at an unknown location or where the chain repeats. */
  ancestry(locationId: string, limit = Number.POSITIVE_INFINITY): Ancestry {
    const path = [locationId];
    const seen = new Map([[locationId, 0]]);
    const ancestors: LocationRow[] = [];
    let parentId = this.row(locationId)?.parentId ?? '';
    while (parentId !== '' && ancestors.length < limit) {
      const at = seen.get(parentId);
      if (at !== undefined) return { ancestors, cycle: path.slice(at) };
      const parent = this.row(parentId);
      if (parent === undefined) break;
      seen.set(parentId, path.length);
      path.push(parentId);
      ancestors.push(parent);
      parentId = parent.parentId;
    }
    return { ancestors, cycle: [] };
  }

  /** Every location below this one, at any depth, each counted once even inside a cycle. */
  descendantCount(locationId: string): number {
    const seen = new Set([locationId]);
    const queue = [locationId];
    for (let i = 0; i < queue.length; i++) {
      for (const child of this.childrenOf(queue[i]!).from()) {
        if (seen.has(child)) continue;
        seen.add(child);
        queue.push(child);
      }
    }
    return seen.size - 1;
  }

  /** ParentFacts for a prospective parent: it and its ancestors, cut at a repeat or LIMITS.hierarchyDepth links. */
  parentFacts(parentId: string): ParentFacts {
    const ancestry: HierarchyLink[] = [];
    const parent = this.row(parentId);
    if (parent !== undefined) {
      ancestry.push(link(parent));
      for (const row of this.ancestry(parentId, LIMITS.hierarchyDepth - 1)
        .ancestors)
        ancestry.push(link(row));
    }
    return create(ParentFactsSchema, { ancestry });
  }

  /** A location as one hierarchy link, or undefined when unknown. */
  selfLink(locationId: string): HierarchyLink | undefined {
    const row = this.row(locationId);
    return row === undefined ? undefined : link(row);
  }

  /** How many live children a location has, and the first few by id. */
  childFacts(locationId: string): ChildFacts {
    const liveCount = this.liveChildren.get(locationId) ?? 0;
    const sampleIds: string[] = [];
    if (liveCount > 0) {
      for (const child of this.childrenOf(locationId).from()) {
        if (this.row(child)?.archived === false) sampleIds.push(child);
        if (sampleIds.length === SAMPLE_CHILDREN) break;
      }
    }
    return create(ChildFactsSchema, {
      liveCount: BigInt(liveCount),
      sampleIds,
    });
  }

  private bound(): Rows<LocationRow> {
    if (this.rows === undefined)
      throw new Error('the location read model is not bound to its rows yet');
    return this.rows;
  }

  private reindex(
    id: string,
    before: LocationRow | undefined,
    after: LocationRow | undefined,
  ): void {
    if (after?.coordinates !== undefined) {
      this.points.set(
        id,
        after.coordinates.latitude,
        after.coordinates.longitude,
      );
    } else if (before?.coordinates !== undefined) {
      this.points.delete(id);
    }
    if (
      before?.locationType !== after?.locationType ||
      before?.archived !== after?.archived
    ) {
      if (before !== undefined) {
        this.allOfType.get(before.locationType)?.delete(id);
        if (!before.archived)
          this.liveOfType.get(before.locationType)?.delete(id);
      }
      if (after !== undefined) {
        setOf(this.allOfType, after.locationType).add(id);
        if (!after.archived) setOf(this.liveOfType, after.locationType).add(id);
      }
    }
    if (
      before?.parentId !== after?.parentId ||
      before?.archived !== after?.archived
    ) {
      if (before !== undefined && before.parentId !== '') {
        this.children.get(before.parentId)?.delete(id);
        if (!before.archived) this.countChild(before.parentId, -1);
      }
      if (after !== undefined && after.parentId !== '') {
        setOf(this.children, after.parentId).add(id);
        if (!after.archived) this.countChild(after.parentId, 1);
      }
    }
  }

  private countChild(parentId: string, delta: number): void {
    const count = (this.liveChildren.get(parentId) ?? 0) + delta;
    if (count === 0) this.liveChildren.delete(parentId);
    else this.liveChildren.set(parentId, count);
  }
}

function setOf<K>(map: Map<K, SortedIds>, key: K): SortedIds {
  let set = map.get(key);
  if (set === undefined) {
    set = new SortedIds();
    map.set(key, set);
  }
  return set;
}

function link(row: LocationRow): HierarchyLink {
  return create(HierarchyLinkSchema, {
    locationId: row.locationId,
    parentId: row.parentId,
    archived: row.archived,
    linkSequence: row.parentSequence,
  });
}
