/** Index of the first key not less than `key` in code-unit-sorted `keys` (binary search). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first key greater than `key` in code-unit-sorted `keys` (binary search): where the page after that cursor starts. */
export function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Most keys in one chunk; a fuller chunk splits in two. */
const CHUNK = 256;

/**
 * A mutable map with string keys kept in code-unit order, for read models
 * that one owner folds in place. Lookups go through a Map; order lives in
 * sorted chunks of at most 256 keys, so an insert or a delete moves at most
 * that many keys and a key larger than all (time-ordered ids) moves none.
 * Unlike {@link SortedMap}, an update allocates nothing beyond the entry, so
 * a read model that lives for minutes does not turn every event into
 * garbage for the old generation; in exchange, earlier versions are not
 * kept, and iterating while the index changes is not supported. Its fields
 * are plain data, so a structured clone keeps them and `SortedIndex.revive`
 * restores the class.
 */
export class SortedIndex<V> {
  private constructor(
    private readonly byKey: Map<string, V>,
    /** Non-empty, each sorted, all keys of one below all keys of the next. */
    private readonly chunks: string[][],
  ) {}

  /** A new, empty index. */
  static empty<V>(): SortedIndex<V> {
    return new SortedIndex<V>(new Map(), []);
  }

  /**
   * Restores an index from its structured clone (a node:v8 snapshot keeps
   * the fields but not the class), reviving each value with `value` when
   * given: O(1) without `value`, O(n) with it.
   */
  static revive<V>(cloned: unknown, value?: (cloned: V) => V): SortedIndex<V> {
    const { byKey, chunks } = cloned as {
      readonly byKey: Map<string, V>;
      readonly chunks: string[][];
    };
    if (value === undefined) return new SortedIndex(byKey, chunks);
    const revived = new Map<string, V>();
    for (const [key, v] of byKey) revived.set(key, value(v));
    return new SortedIndex(revived, chunks);
  }

  /** Number of entries, O(1). */
  get size(): number {
    return this.byKey.size;
  }

  get(key: string): V | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Binds `key` to `value`, in place. */
  set(key: string, value: V): void {
    const { byKey, chunks } = this;
    const before = byKey.size;
    byKey.set(key, value);
    if (byKey.size === before) return; // rebound: its place in order stays
    const last = chunks[chunks.length - 1];
    if (last === undefined) {
      chunks.push([key]);
      return;
    }
    // Time-ordered ids arrive in order: append without a search.
    const at =
      key > last[last.length - 1]! ? chunks.length - 1 : this.find(key);
    const chunk = chunks[at]!;
    chunk.splice(lowerBound(chunk, key), 0, key);
    if (chunk.length > CHUNK) {
      chunks.splice(at + 1, 0, chunk.splice(chunk.length >>> 1));
    }
  }

  /** Removes `key`, in place; false when it was absent. */
  delete(key: string): boolean {
    if (!this.byKey.delete(key)) return false;
    const at = this.find(key);
    const chunk = this.chunks[at]!;
    chunk.splice(lowerBound(chunk, key), 1);
    if (chunk.length === 0) this.chunks.splice(at, 1);
    return true;
  }

  /** Entries in key order, starting after `after` (exclusive) when given. */
  *entries(after?: string): Generator<[string, V], void, undefined> {
    const { byKey, chunks } = this;
    let c = 0;
    let i = 0;
    if (after !== undefined) {
      c = this.findAfter(after);
      if (c < chunks.length) i = upperBound(chunks[c]!, after);
    }
    for (; c < chunks.length; c++, i = 0) {
      const chunk = chunks[c]!;
      for (; i < chunk.length; i++) {
        const key = chunk[i]!;
        yield [key, byKey.get(key)!];
      }
    }
  }

  /** Keys in order, starting after `after` (exclusive) when given. */
  *keys(after?: string): Generator<string, void, undefined> {
    for (const [key] of this.entries(after)) yield key;
  }

  /** Values in key order, starting after `after` (exclusive) when given. */
  *values(after?: string): Generator<V, void, undefined> {
    for (const [, value] of this.entries(after)) yield value;
  }

  [Symbol.iterator](): Generator<[string, V], void, undefined> {
    return this.entries();
  }

  /** The chunk that holds `key`, or where it belongs: the first whose last key is not below it, else the last. */
  private find(key: string): number {
    const { chunks } = this;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first chunk holding a key greater than `key`; chunks.length when none does. */
  private findAfter(key: string): number {
    const { chunks } = this;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (chunk[chunk.length - 1]! <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
