// Exact nearest-neighbour search over the conceptual points of one graph's
// nodes. A graph is small enough for a linear scan: O(n·d) distance work plus
// a bounded heap of k, so O(n·d + n log k) per query and O(k) memory.

/** A candidate: an id and its point. */
export interface PointEntry {
  readonly id: string;
  readonly point: readonly number[];
}

/** One match: an id and its Euclidean distance to the target. */
export interface PointMatch {
  readonly id: string;
  readonly distance: number;
}

/** What a search asks for. */
export interface NearestQuery {
  readonly target: readonly number[];
  /** At most this many matches; at least 1. */
  readonly k: number;
  /** Only points at a distance ≤ threshold; none when undefined. */
  readonly threshold?: number | undefined;
  /** An id left out of the answer (the target node itself). */
  readonly exclude?: string | undefined;
}

/** Matches nearest first; `truncated` when more points qualified than the k returned. */
export interface NearestResult {
  readonly matches: readonly PointMatch[];
  readonly truncated: boolean;
}

/** Euclidean distance between two points of the same dimension. */
export function euclidean(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** Total order of matches: distance, then id. */
function before(x: PointMatch, y: PointMatch): boolean {
  return x.distance < y.distance || (x.distance === y.distance && x.id < y.id);
}

/**
 * The k points nearest to `target` among those of the same dimension (others
 * are skipped), nearest first and equal distances by id. Exact: every
 * candidate is measured; a max-heap keeps the best k seen.
 */
export function nearestPoints(
  candidates: Iterable<PointEntry>,
  { target, k, threshold, exclude }: NearestQuery,
): NearestResult {
  // heap[0] is the worst of the best k so far.
  const heap: PointMatch[] = [];
  let qualified = 0;
  for (const { id, point } of candidates) {
    if (id === exclude || point.length !== target.length) continue;
    const distance = euclidean(point, target);
    if (threshold !== undefined && !(distance <= threshold)) continue;
    qualified++;
    const match = { id, distance };
    if (heap.length < k) {
      heap.push(match);
      siftUp(heap, heap.length - 1);
    } else if (before(match, heap[0]!)) {
      heap[0] = match;
      siftDown(heap, 0);
    }
  }
  const matches = heap.sort((x, y) => (before(x, y) ? -1 : 1));
  return { matches, truncated: qualified > matches.length };
}

function siftUp(heap: PointMatch[], index: number): void {
  let i = index;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[parent]!, heap[i]!)) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function siftDown(heap: PointMatch[], index: number): void {
  let i = index;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let worst = i;
    if (l < heap.length && before(heap[worst]!, heap[l]!)) worst = l;
    if (r < heap.length && before(heap[worst]!, heap[r]!)) worst = r;
    if (worst === i) return;
    [heap[worst], heap[i]] = [heap[i]!, heap[worst]!];
    i = worst;
  }
}
