import { lowerBound, upperBound } from '@cim/kernel';

/** Ids a chunk holds before it splits in two. */
const CHUNK = 512;

/**
 * A mutable set of strings kept in code-unit order (the order cursors use),
 * stored as a list of sorted chunks: add, delete and has cost O(log n + 512),
 * and iterating from any id costs O(log n) to start. Secondary indexes of the
 * read model use it for stable, id-ordered pages.
 */
export class SortedIds {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    const chunk = this.chunks[this.chunkFor(id)];
    return chunk !== undefined && chunk[lowerBound(chunk, id)] === id;
  }

  /** Adds an id; false when it was already there. */
  add(id: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([id]);
      this.count = 1;
      return true;
    }
    const c = Math.min(this.chunkFor(id), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, id);
    if (chunk[at] === id) return false;
    chunk.splice(at, 0, id);
    this.count++;
    if (chunk.length > 2 * CHUNK) {
      this.chunks.splice(c + 1, 0, chunk.splice(CHUNK));
    }
    return true;
  }

  /** Removes an id; false when it was not there. */
  delete(id: string): boolean {
    const c = this.chunkFor(id);
    const chunk = this.chunks[c];
    if (chunk === undefined) return false;
    const at = lowerBound(chunk, id);
    if (chunk[at] !== id) return false;
    chunk.splice(at, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** The ids greater than `after` (all when undefined), in order. */
  *from(after?: string): Generator<string, void, undefined> {
    let c = after === undefined ? 0 : this.chunkFor(after);
    let at =
      after === undefined || this.chunks[c] === undefined
        ? 0
        : upperBound(this.chunks[c]!, after);
    for (; c < this.chunks.length; c++, at = 0) {
      const chunk = this.chunks[c]!;
      for (let i = at; i < chunk.length; i++) yield chunk[i]!;
    }
  }

  /** The first chunk whose last id is >= `id` (chunks.length when none is). */
  private chunkFor(id: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
