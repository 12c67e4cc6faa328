/** BM25 term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25 document-length normalisation. */
export const BM25_B = 0.75;

/** One match: a document id and its BM25 score. */
export interface ScoredId {
  readonly id: string;
  readonly score: number;
}

interface Entry {
  readonly terms: readonly string[];
  readonly length: number;
}

/**
 * An inverted index over documents: term → (document id → term frequency),
 * with each document's length, answering conjunctive queries ranked by BM25
 * (Robertson's idf `ln(1 + (N − n + 0.5) / (n + 0.5))`, k1 = 1.2, b = 0.75),
 * N being every indexed document. A query walks the shortest posting list
 * and probes the others, so it costs O(shortest list × query terms) plus
 * sorting the matches.
 */
export class SearchIndex {
  private readonly postings = new Map<string, Map<string, number>>();
  private readonly entries = new Map<string, Entry>();
  private totalLength = 0;

  /** Documents indexed. */
  get size(): number {
    return this.entries.size;
  }

  /** Indexes (or re-indexes) a document: term counts and its length in words; no terms removes it. */
  put(id: string, counts: ReadonlyMap<string, number>, length: number): void {
    this.remove(id);
    if (counts.size === 0) return;
    for (const [term, count] of counts) {
      let posting = this.postings.get(term);
      if (posting === undefined) {
        posting = new Map();
        this.postings.set(term, posting);
      }
      posting.set(id, count);
    }
    const entry = { terms: [...counts.keys()], length: Math.max(1, length) };
    this.entries.set(id, entry);
    this.totalLength += entry.length;
  }

  remove(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    for (const term of entry.terms) {
      const posting = this.postings.get(term);
      posting?.delete(id);
      if (posting?.size === 0) this.postings.delete(term);
    }
    this.entries.delete(id);
    this.totalLength -= entry.length;
  }

  clear(): void {
    this.postings.clear();
    this.entries.clear();
    this.totalLength = 0;
  }

  /** Documents holding a term. */
  frequency(term: string): number {
    return this.postings.get(term)?.size ?? 0;
  }

  /**
   * The documents holding every one of `terms` (distinct) that `keep`
   * accepts, best score first, ties by id in code-unit order.
   */
  search(
    terms: readonly string[],
    keep: (id: string) => boolean = () => true,
  ): ScoredId[] {
    const lists: Array<[string, Map<string, number>]> = [];
    for (const term of terms) {
      const posting = this.postings.get(term);
      if (posting === undefined) return [];
      lists.push([term, posting]);
    }
    if (lists.length === 0) return [];
    lists.sort((a, b) => a[1].size - b[1].size);
    const n = this.entries.size;
    const averageLength = this.totalLength / n;
    const idf = lists.map(([, posting]) =>
      Math.log(1 + (n - posting.size + 0.5) / (posting.size + 0.5)),
    );
    const hits: ScoredId[] = [];
    const [, shortest] = lists[0]!;
    for (const id of shortest.keys()) {
      if (!lists.every(([, posting]) => posting.has(id)) || !keep(id)) {
        continue;
      }
      const length = this.entries.get(id)?.length ?? 1;
      const norm = BM25_K1 * (1 - BM25_B + (BM25_B * length) / averageLength);
      let score = 0;
      lists.forEach(([, posting], i) => {
        const tf = posting.get(id) ?? 0;
        score += (idf[i]! * (tf * (BM25_K1 + 1))) / (tf + norm);
      });
      hits.push({ id, score });
    }
    return hits.sort((a, b) =>
      a.score !== b.score ? b.score - a.score : a.id < b.id ? -1 : 1,
    );
  }
}
