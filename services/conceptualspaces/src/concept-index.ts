// The similarity index of a space's read model: static k-d trees kept by the
// logarithmic method (Bentley & Saxe): new points collect in a small buffer;
// a full buffer becomes a tree and is merged with every tree no larger than
// it, so the trees have roughly doubling sizes, each point is rebuilt
// O(log n) times over its life and a search visits O(log n) trees. Moved and
// removed concepts leave stale entries behind, recognised by their placement
// stamp and dropped at the next merge; once they outnumber the live ones the
// whole index is rebuilt. Trees are never changed after they are built, so
// every index value stays valid while later ones share its trees.
import { powerOf, rootOf, type Geometry } from './domain/geometry.js';
import {
  NearestSet,
  buildKdTree,
  scanRange,
  searchKdTree,
  type KdTree,
  type Neighbour,
  type PointSet,
} from './kd-tree.js';

/** Points collected before they become a tree. */
const BUFFER_SIZE = 64;
/** Relative slack on a powered threshold, so rounding in the power cannot drop a point at the threshold. */
const THRESHOLD_SLACK = 1e-12;

/** One indexed placement of a concept. */
export interface IndexEntry {
  readonly id: string;
  readonly stamp: number;
  /** Metric values, one per dimension. */
  readonly point: Float64Array;
}

/** The index of one space: trees by decreasing size plus a small buffer. */
export interface ConceptIndex {
  readonly dims: number;
  readonly trees: readonly KdTree[];
  readonly buffer: readonly IndexEntry[];
  /** Entries in trees and buffer, stale ones included. */
  readonly entries: number;
  /** Stale entries: placements of concepts that have since moved or gone. */
  readonly stale: number;
}

/** Whether an entry is a concept's current placement. */
export type Liveness = (id: string, stamp: number) => boolean;

/** An index with nothing in it. */
export function emptyIndex(dims: number): ConceptIndex {
  return { dims, trees: [], buffer: [], entries: 0, stale: 0 };
}

/** An index of one tree over the given (live) entries, built in O(n log n). */
export function buildIndex(
  dims: number,
  entries: Iterable<IndexEntry>,
): ConceptIndex {
  const list = [...entries];
  if (list.length === 0) return emptyIndex(dims);
  return {
    dims,
    trees: [treeOf(dims, list)],
    buffer: [],
    entries: list.length,
    stale: 0,
  };
}

/** An index of one tree over points given as flat arrays (all taken as live), built in O(n log n). */
export function buildIndexFromPoints(points: PointSet): ConceptIndex {
  const size = points.ids.length;
  if (size === 0) return emptyIndex(points.dims);
  return {
    dims: points.dims,
    trees: [buildKdTree(points)],
    buffer: [],
    entries: size,
    stale: 0,
  };
}

function treeOf(dims: number, entries: readonly IndexEntry[]): KdTree {
  const coords = new Float64Array(entries.length * dims);
  entries.forEach((entry, i) => {
    for (let d = 0; d < dims; d++) coords[i * dims + d] = entry.point[d]!;
  });
  return buildKdTree({
    dims,
    ids: entries.map((e) => e.id),
    stamps: entries.map((e) => e.stamp),
    coords,
  });
}

function* treeEntries(tree: KdTree): Generator<IndexEntry> {
  for (let i = 0; i < tree.size; i++) {
    yield {
      id: tree.ids[i]!,
      stamp: tree.stamps[i]!,
      point: tree.coords.subarray(i * tree.dims, (i + 1) * tree.dims),
    };
  }
}

/**
 * Adds a placement. A full buffer becomes a tree, merged with the trees no
 * larger than it; entries `live` rejects are dropped from what is merged.
 */
export function insertEntry(
  index: ConceptIndex,
  entry: IndexEntry,
  live: Liveness,
): ConceptIndex {
  const buffer = [...index.buffer, entry];
  if (buffer.length < BUFFER_SIZE) {
    return { ...index, buffer, entries: index.entries + 1 };
  }
  const trees = [...index.trees];
  const merged: IndexEntry[] = [];
  let dropped = 0;
  const keep = (from: Iterable<IndexEntry>) => {
    for (const e of from) {
      if (live(e.id, e.stamp)) merged.push(e);
      else dropped++;
    }
  };
  keep(buffer);
  while (trees.length > 0 && trees[trees.length - 1]!.size <= merged.length) {
    keep(treeEntries(trees.pop()!));
  }
  if (merged.length > 0) trees.push(treeOf(index.dims, merged));
  return {
    dims: index.dims,
    trees,
    buffer: [],
    entries: index.entries + 1 - dropped,
    stale: index.stale - dropped,
  };
}

/** Records that one indexed placement went stale (its concept moved or was removed). */
export function markStale(index: ConceptIndex): ConceptIndex {
  return { ...index, stale: index.stale + 1 };
}

/** Whether stale entries outnumber live ones enough to rebuild from the live concepts. */
export function needsRebuild(index: ConceptIndex): boolean {
  return index.entries >= 2 * BUFFER_SIZE && index.stale * 2 > index.entries;
}

/** What a search asks for. */
export interface SearchOptions {
  /** At most this many answers. */
  readonly k: number;
  /** Only points at most this far; none when undefined. */
  readonly threshold?: number | undefined;
  /** A concept id never to answer (the query concept itself). */
  readonly exclude?: string | undefined;
  readonly live: Liveness;
}

/** One answer: a concept and its distance. */
export interface Nearest {
  readonly id: string;
  readonly distance: number;
}

function finish(
  g: Geometry,
  found: Neighbour[],
  threshold: number | undefined,
): Nearest[] {
  const answers = found.map((n) => ({
    id: n.id,
    distance: rootOf(n.powered, g.p),
  }));
  return threshold === undefined
    ? answers
    : answers.filter((a) => a.distance <= threshold);
}

function setFor(g: Geometry, options: SearchOptions): NearestSet {
  const limit =
    options.threshold === undefined
      ? Infinity
      : powerOf(options.threshold, g.p) * (1 + THRESHOLD_SLACK);
  return new NearestSet(options.k, limit, options.exclude, options.live);
}

/**
 * The k nearest live concepts to a metric point (within the threshold, when
 * given), nearest first, equal distances by id: a search of every tree,
 * largest first, and a scan of the buffer.
 */
export function nearest(
  index: ConceptIndex,
  g: Geometry,
  query: Float64Array,
  options: SearchOptions,
): Nearest[] {
  const set = setFor(g, options);
  for (const tree of index.trees) searchKdTree(g, tree, query, set);
  scanBuffer(g, index.buffer, query, set);
  return finish(g, set.sorted(), options.threshold);
}

/**
 * The same answer by a linear scan of every entry, for checking the index
 * and for measuring what it saves.
 */
export function scanNearest(
  index: ConceptIndex,
  g: Geometry,
  query: Float64Array,
  options: SearchOptions,
): Nearest[] {
  const set = setFor(g, options);
  for (const tree of index.trees) {
    scanRange(g, query, tree.ids, tree.stamps, tree.coords, 0, tree.size, set);
  }
  scanBuffer(g, index.buffer, query, set);
  return finish(g, set.sorted(), options.threshold);
}

function scanBuffer(
  g: Geometry,
  buffer: readonly IndexEntry[],
  query: Float64Array,
  set: NearestSet,
): void {
  for (const entry of buffer) {
    scanRange(g, query, [entry.id], [entry.stamp], entry.point, 0, 1, set);
  }
}
