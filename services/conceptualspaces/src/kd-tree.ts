// A static k-d tree over metric points (geometry.ts) for nearest-neighbour
// and range search under any weighted Minkowski metric of the space. The
// tree's shape does not depend on the metric: each node keeps the bounding
// box of its points, and a search bounds the distance from the query to a
// box per dimension (0 inside the interval; the nearer end outside it, along
// the shorter arc for circular dimensions; 0 or 1 for categories), combining
// the bounds with the same weights, power and summation order as the
// distance itself. Every bound is therefore at most the distance to any point
// in the box, even in floating point, so pruning never drops a true answer:
// the same weights, contexts and p work without a rebuild.
import {
  MetricKind,
  combine,
  difference,
  term,
  type Geometry,
} from './domain/geometry.js';

/** Points per leaf: a leaf scan is cheaper than descending further below this. */
const LEAF_SIZE = 12;

/**
 * A static k-d tree: points reordered so that every node covers one
 * contiguous range, with per-node bounding boxes. Plain data and typed
 * arrays only, so it survives a structured clone (projection snapshots).
 */
export interface KdTree {
  readonly size: number;
  readonly dims: number;
  /** Concept ids, in tree order. */
  readonly ids: readonly string[];
  /** The placement stamp of each point, in tree order. */
  readonly stamps: Float64Array;
  /** size × dims metric values, in tree order. */
  readonly coords: Float64Array;
  /** Per node: its range [first, end) of points. */
  readonly first: Int32Array;
  readonly end: Int32Array;
  /** Per node: its children, -1 for a leaf. */
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Per node: nodes × dims box corners. */
  readonly lo: Float64Array;
  readonly hi: Float64Array;
}

/** Points to build a tree from: ids, stamps and size × dims metric values, in any order. */
export interface PointSet {
  readonly dims: number;
  readonly ids: readonly string[];
  readonly stamps: ArrayLike<number>;
  readonly coords: Float64Array;
}

/** Builds a balanced tree in O(n log n): median splits on the widest dimension of each box. */
export function buildKdTree(points: PointSet): KdTree {
  const { dims } = points;
  const size = points.ids.length;
  const perm = new Int32Array(size);
  for (let i = 0; i < size; i++) perm[i] = i;
  // Rows move with their indices, so every pass over a range reads memory in order.
  const coords = points.coords.slice(0, size * dims);
  // Median splits leave leaves of at least LEAF_SIZE / 2 points.
  const capacity = Math.max(1, Math.ceil((4 * size) / LEAF_SIZE) + 1);
  const first = new Int32Array(capacity);
  const end = new Int32Array(capacity);
  const left = new Int32Array(capacity);
  const right = new Int32Array(capacity);
  const lo = new Float64Array(capacity * dims);
  const hi = new Float64Array(capacity * dims);
  let nodes = 0;

  const build = (from: number, to: number): number => {
    const node = nodes++;
    first[node] = from;
    end[node] = to;
    left[node] = -1;
    right[node] = -1;
    const base = node * dims;
    for (let d = 0; d < dims; d++) {
      // One tight pass per dimension with the extremes in locals.
      let min = Infinity;
      let max = -Infinity;
      for (let i = from; i < to; i++) {
        const v = coords[i * dims + d]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      lo[base + d] = min;
      hi[base + d] = max;
    }
    if (to - from <= LEAF_SIZE) return node;
    let split = 0;
    let widest = -1;
    for (let d = 0; d < dims; d++) {
      const spread = hi[base + d]! - lo[base + d]!;
      if (spread > widest) {
        widest = spread;
        split = d;
      }
    }
    // Identical points cannot be split: keep them in one (large) leaf.
    if (widest <= 0) return node;
    const mid = (from + to) >>> 1;
    select(perm, coords, dims, split, from, to - 1, mid);
    left[node] = build(from, mid);
    right[node] = build(mid, to);
    return node;
  };
  if (size > 0) build(0, size);

  const ids = new Array<string>(size);
  const stamps = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    ids[i] = points.ids[perm[i]!]!;
    stamps[i] = points.stamps[perm[i]!]!;
  }
  return {
    size,
    dims,
    ids,
    stamps,
    coords,
    first: first.slice(0, nodes),
    end: end.slice(0, nodes),
    left: left.slice(0, nodes),
    right: right.slice(0, nodes),
    lo: lo.slice(0, nodes * dims),
    hi: hi.slice(0, nodes * dims),
  };
}

/**
 * Reorders rows lo..hi (and their perm entries) so that row k holds the k-th
 * smallest value in dimension d, smaller ones before it and larger ones
 * after (Hoare quickselect).
 */
function select(
  perm: Int32Array,
  coords: Float64Array,
  dims: number,
  d: number,
  lo: number,
  hi: number,
  k: number,
): void {
  const key = (i: number) => coords[i * dims + d]!;
  const swap = (i: number, j: number) => {
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
    for (let a = i * dims, b = j * dims, e = a + dims; a < e; a++, b++) {
      const v = coords[a]!;
      coords[a] = coords[b]!;
      coords[b] = v;
    }
  };
  while (hi > lo) {
    // Median of three as the pivot keeps sorted input from going quadratic.
    const m = (lo + hi) >>> 1;
    if (key(m) < key(lo)) swap(m, lo);
    if (key(hi) < key(lo)) swap(hi, lo);
    if (key(hi) < key(m)) swap(hi, m);
    const pivot = key(m);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (key(i) < pivot) i++;
      while (key(j) > pivot) j--;
      if (i <= j) {
        swap(i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/** One answer of a search: a point and its powered distance (Σ wᵢdᵢ^p, or the max for Chebyshev). */
export interface Neighbour {
  readonly id: string;
  readonly stamp: number;
  readonly powered: number;
}

/**
 * The k best points seen so far, by (powered distance, id): a max-heap whose
 * root is the worst kept point. Points above `limit` are never kept.
 */
export class NearestSet {
  private readonly powered: number[] = [];
  private readonly ids: string[] = [];
  private readonly stamps: number[] = [];

  constructor(
    private readonly k: number,
    private readonly limit: number,
    private readonly exclude: string | undefined,
    private readonly live: (id: string, stamp: number) => boolean,
  ) {}

  /** A point farther than this (powered) can never be kept; equal ones may, by id. */
  worst(): number {
    return this.powered.length < this.k ? this.limit : this.powered[0]!;
  }

  /** Offers a point; keeps it when it beats the worst kept one (or the set is not full). */
  offer(powered: number, id: string, stamp: number): void {
    const size = this.powered.length;
    if (size < this.k) {
      if (powered > this.limit || !this.admits(id, stamp)) return;
      this.powered.push(powered);
      this.ids.push(id);
      this.stamps.push(stamp);
      this.up(size);
      return;
    }
    const top = this.powered[0]!;
    if (powered > top || (powered === top && id >= this.ids[0]!)) return;
    if (!this.admits(id, stamp)) return;
    this.powered[0] = powered;
    this.ids[0] = id;
    this.stamps[0] = stamp;
    this.down(0);
  }

  /** The kept points, nearest first, equal distances by id. */
  sorted(): Neighbour[] {
    return this.ids
      .map((id, i) => ({
        id,
        stamp: this.stamps[i]!,
        powered: this.powered[i]!,
      }))
      .sort((a, b) =>
        a.powered !== b.powered ? a.powered - b.powered : a.id < b.id ? -1 : 1,
      );
  }

  private admits(id: string, stamp: number): boolean {
    return id !== this.exclude && this.live(id, stamp);
  }

  private above(i: number, j: number): boolean {
    const a = this.powered[i]!;
    const b = this.powered[j]!;
    return a > b || (a === b && this.ids[i]! > this.ids[j]!);
  }

  private swap(i: number, j: number): void {
    [this.powered[i], this.powered[j]] = [this.powered[j]!, this.powered[i]!];
    [this.ids[i], this.ids[j]] = [this.ids[j]!, this.ids[i]!];
    [this.stamps[i], this.stamps[j]] = [this.stamps[j]!, this.stamps[i]!];
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.powered.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && this.above(l, top)) top = l;
      if (r < n && this.above(r, top)) top = r;
      if (top === i) return;
      this.swap(i, top);
      i = top;
    }
  }
}

/**
 * Offers every point of coords[from..to) to `set`, each point's sum cut
 * short once it passes the worst kept distance (terms are non-negative).
 */
export function scanRange(
  g: Geometry,
  query: Float64Array,
  ids: readonly string[],
  stamps: ArrayLike<number>,
  coords: Float64Array,
  from: number,
  to: number,
  set: NearestSet,
): void {
  const { kinds, weights, p } = g;
  const dims = kinds.length;
  let worst = set.worst();
  for (let i = from; i < to; i++) {
    const at = i * dims;
    let acc = 0;
    for (let d = 0; d < dims && acc <= worst; d++) {
      acc = combine(
        acc,
        term(weights[d]!, difference(kinds[d]!, query[d]!, coords[at + d]!), p),
        p,
      );
    }
    if (acc > worst) continue;
    set.offer(acc, ids[i]!, stamps[i]!);
    worst = set.worst();
  }
}

/** A lower bound of the powered distance from `query` to any point in a node's box; stops early above `worst`. */
function boxBound(
  g: Geometry,
  tree: KdTree,
  node: number,
  query: Float64Array,
  worst: number,
): number {
  const { kinds, weights, p } = g;
  const dims = kinds.length;
  const base = node * dims;
  let acc = 0;
  for (let d = 0; d < dims; d++) {
    const x = query[d]!;
    const l = tree.lo[base + d]!;
    const h = tree.hi[base + d]!;
    let delta = 0;
    const kind = kinds[d]!;
    if (kind === MetricKind.categorical) {
      delta = x < l || x > h ? 1 : 0;
    } else if (x < l) {
      delta =
        kind === MetricKind.circular ? Math.min(l - x, 1 - (h - x)) : l - x;
    } else if (x > h) {
      delta =
        kind === MetricKind.circular ? Math.min(x - h, 1 - (x - l)) : x - h;
    }
    acc = combine(acc, term(weights[d]!, delta, p), p);
    if (acc > worst) return acc;
  }
  return acc;
}

/** Offers the tree's points to `set`, skipping every box whose bound exceeds the worst kept distance. */
export function searchKdTree(
  g: Geometry,
  tree: KdTree,
  query: Float64Array,
  set: NearestSet,
): void {
  if (tree.size === 0) return;
  const visit = (node: number, bound: number): void => {
    if (bound > set.worst()) return;
    const l = tree.left[node]!;
    if (l < 0) {
      scanRange(
        g,
        query,
        tree.ids,
        tree.stamps,
        tree.coords,
        tree.first[node]!,
        tree.end[node]!,
        set,
      );
      return;
    }
    const r = tree.right[node]!;
    const worst = set.worst();
    const bl = boxBound(g, tree, l, query, worst);
    const br = boxBound(g, tree, r, query, worst);
    if (bl <= br) {
      visit(l, bl);
      visit(r, br);
    } else {
      visit(r, br);
      visit(l, bl);
    }
  };
  visit(0, boxBound(g, tree, 0, query, set.worst()));
}
