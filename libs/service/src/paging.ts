import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalid, isSubjectToken, show } from '@cim/kernel';
import type {
  PageInfoSchema,
  PageRequest,
} from '@cim/proto/cim/common/v1/paging_pb';
import type { Rows } from './types.js';

/** Page size when a request asks for 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger requested page sizes are cut down to this. */
export const MAX_PAGE_SIZE = 500;

/** The PageInfo of an answer, as a query handler returns it. */
export type PageInfoInit = MessageInitShape<typeof PageInfoSchema>;

/** Where a page starts (after `after`, a decoded token; from the start when undefined) and how long it is. */
export interface PageWindow<Cursor = string> {
  readonly size: number;
  readonly after: Cursor | undefined;
}

const CURSOR_PREFIX = 'k:';

/** An opaque page token: the last key of the previous page, so later pages are stable under inserts. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(CURSOR_PREFIX + lastKey, 'utf8').toString('base64url');
}

/**
 * The key a page token carries. Throws VALIDATION_FAILED for anything
 * encodeCursor did not make from a key `valid` accepts (by default a
 * subject token, as aggregate ids are).
 */
export function decodeCursor(
  token: string,
  valid: (key: string) => boolean = isSubjectToken,
): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const key = text.slice(CURSOR_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(CURSOR_PREFIX) ||
    !valid(key) ||
    encodeCursor(key) !== token
  ) {
    rejectPageToken(token);
  }
  return key;
}

/** Throws VALIDATION_FAILED for a page token the query did not issue; for cursor formats of a service's own. */
export function rejectPageToken(token: string): never {
  invalid(`page_token ${show(token)} is not a token this query issued`);
}

/** The page size a request asks for: 0 (or no request) → DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE. */
export function pageSize(page: PageRequest | undefined): number {
  const requested = page?.pageSize ?? 0;
  return requested === 0
    ? DEFAULT_PAGE_SIZE
    : Math.min(requested, MAX_PAGE_SIZE);
}

/**
 * Reads a PageRequest: its pageSize and the key its token carries
 * (VALIDATION_FAILED for a token decodeCursor refuses).
 */
export function readPage(
  page: PageRequest | undefined,
  valid: (key: string) => boolean = isSubjectToken,
): PageWindow {
  const token = page?.pageToken ?? '';
  return {
    size: pageSize(page),
    after: token === '' ? undefined : decodeCursor(token, valid),
  };
}

/**
 * Takes one page from keyed entries already positioned after the cursor and
 * in key order. When more entries follow, `cursor` makes the next page token
 * from the page's last entry (by default encodeCursor of its key).
 */
export function takePage<V, O>(
  entries: Iterable<readonly [string, V]>,
  { size }: { readonly size: number },
  total: number,
  render: (value: V, key: string) => O,
  cursor: (value: V, key: string) => string = (_, key) => encodeCursor(key),
): { readonly items: O[]; readonly info: PageInfoInit } {
  const items: O[] = [];
  let last: readonly [string, V] | undefined;
  let more = false;
  for (const entry of entries) {
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(render(entry[1], entry[0]));
    last = entry;
  }
  return {
    items,
    info: {
      nextPageToken: more && last !== undefined ? cursor(last[1], last[0]) : '',
      totalSize: BigInt(total),
    },
  };
}

/**
 * The ids of a projection's rows in code-unit order, for list queries, kept
 * beside the rows. Only for projections that never drop a row: ids then only
 * ever arrive and a change of `rows.size` reveals them. Catching up costs one
 * O(n) scan plus sorting the new ids; a page then starts in O(log n).
 */
export class SortedRowIds<Row> {
  private ids: string[] = [];
  private readonly known = new Set<string>();

  constructor(private readonly rows: Rows<Row>) {}

  /** All row ids, sorted; the array is replaced, never changed, when rows arrive. */
  sorted(): readonly string[] {
    if (this.rows.size !== this.ids.length) this.catchUp();
    return this.ids;
  }

  private catchUp(): void {
    if (this.rows.size < this.ids.length) {
      // Rows were replaced wholesale (a rebuilt projection): start over.
      this.ids = [];
      this.known.clear();
    }
    const fresh: string[] = [];
    for (const [id] of this.rows.entries()) {
      if (this.known.has(id)) continue;
      this.known.add(id);
      fresh.push(id);
    }
    // Default sort compares UTF-16 code units, the order SortedMap and cursors use.
    fresh.sort();
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ids.length || j < fresh.length) {
      if (
        j === fresh.length ||
        (i < this.ids.length && this.ids[i]! < fresh[j]!)
      )
        merged.push(this.ids[i++]!);
      else merged.push(fresh[j++]!);
    }
    this.ids = merged;
  }
}
