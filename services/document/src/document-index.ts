import type { DocumentType } from '@cim/proto/cim/document/v1/document_pb';
import type { Rows } from '@cim/service';
import { SortedMap } from '@cim/kernel';
import { positionKey, type DocumentRow } from './projection.js';
import { SearchIndex } from './search-index.js';
import { words } from './text-terms.js';

type IdSet = SortedMap<true>;

const NONE: IdSet = SortedMap.empty();

/**
 * Secondary indexes over all documents, for the queries that span them:
 * document ids by tag, type, owner, content CID (every CID a history holds)
 * and principal, and a full-text SearchIndex over each head content's terms
 * and the title. Each id index is a sorted id set, so a page costs O(log n + page
 * size). The rows give no change feed, so `refresh` catches up when the
 * projection's stream position has moved since the last query: one pass
 * comparing row identities (rows are immutable values), re-indexing only the
 * rows that changed, each in O(tags + grants + new history entries).
 */
export class DocumentIndex {
  private position = -1n;
  private readonly seen = new Map<string, DocumentRow>();
  private everything: IdSet = NONE;
  private readonly byTag = new Map<string, IdSet>();
  private readonly byType = new Map<DocumentType, IdSet>();
  private readonly byOwner = new Map<string, IdSet>();
  private readonly byCid = new Map<string, IdSet>();
  private readonly byPrincipal = new Map<string, IdSet>();
  private readonly text = new SearchIndex();

  constructor(private readonly rows: Rows<DocumentRow>) {}

  /** Brings the indexes up to the rows at stream position `position`. */
  refresh(position: bigint): void {
    if (position === this.position && this.seen.size === this.rows.size) {
      return;
    }
    if (this.rows.size < this.seen.size) this.clear();
    for (const [id, row] of this.rows.entries()) {
      const old = this.seen.get(id);
      if (old === row) continue;
      this.reindex(id, old, row);
      this.seen.set(id, row);
    }
    this.position = position;
  }

  /** Every document id. */
  all(): IdSet {
    return this.everything;
  }

  withTag(tag: string): IdSet {
    return this.byTag.get(tag) ?? NONE;
  }

  ofType(type: DocumentType): IdSet {
    return this.byType.get(type) ?? NONE;
  }

  ownedBy(owner: string): IdSet {
    return this.byOwner.get(owner) ?? NONE;
  }

  holding(cid: string): IdSet {
    return this.byCid.get(cid) ?? NONE;
  }

  grantedTo(principal: string): IdSet {
    return this.byPrincipal.get(principal) ?? NONE;
  }

  /** The full-text index: head content terms plus title words, by document id. */
  fullText(): SearchIndex {
    return this.text;
  }

  private clear(): void {
    this.seen.clear();
    this.everything = NONE;
    for (const index of [
      this.byTag,
      this.byType,
      this.byOwner,
      this.byCid,
      this.byPrincipal,
    ])
      index.clear();
    this.text.clear();
  }

  private reindex(
    id: string,
    old: DocumentRow | undefined,
    row: DocumentRow,
  ): void {
    if (old === undefined) this.everything = this.everything.set(id, true);
    if (old?.tags !== row.tags) {
      for (const tag of old?.tags ?? []) remove(this.byTag, tag, id);
      for (const tag of row.tags) add(this.byTag, tag, id);
    }
    if (old?.documentType !== row.documentType) {
      if (old !== undefined) remove(this.byType, old.documentType, id);
      add(this.byType, row.documentType, id);
    }
    if (old?.owner !== row.owner) {
      if (old !== undefined) remove(this.byOwner, old.owner, id);
      add(this.byOwner, row.owner, id);
    }
    // Histories and grants only grow: index what is new.
    if (old?.history !== row.history) {
      const after =
        old === undefined ? undefined : positionKey(old.history.size - 1);
      for (const entry of row.history.values(after)) {
        add(this.byCid, entry.contentCid, id);
      }
    }
    if (old?.text !== row.text || old?.title !== row.title) {
      const { counts, length } = searchable(row);
      this.text.put(id, counts, length);
    }
    if (old?.access !== row.access) {
      for (const principal of row.access.keys()) {
        add(this.byPrincipal, principal, id);
      }
    }
  }
}

/** What full-text search finds a document by: its head content's terms and the words of its title. */
function searchable(row: DocumentRow): {
  counts: Map<string, number>;
  length: number;
} {
  const counts = new Map<string, number>();
  const { text } = row;
  text?.terms.forEach((term, i) => counts.set(term, text.counts[i] ?? 1));
  const title = words(row.title);
  for (const word of title) counts.set(word, (counts.get(word) ?? 0) + 1);
  return { counts, length: (text?.length ?? 0) + title.length };
}

function add<K>(index: Map<K, IdSet>, key: K, id: string): void {
  index.set(key, (index.get(key) ?? NONE).set(id, true));
}

function remove<K>(index: Map<K, IdSet>, key: K, id: string): void {
  const ids = index.get(key)?.delete(id);
  if (ids === undefined || ids.size === 0) index.delete(key);
  else index.set(key, ids);
}
