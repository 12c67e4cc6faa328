import type { MessageInitShape } from '@bufbuild/protobuf';
import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';
import type {
  PageInfoSchema,
  PageRequest,
} from '@cim/proto/cim/common/v1/paging_pb';
import { show } from './domain/rules.js';

/** Page size when a request asks for 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger requested page sizes are cut down to this. */
export const MAX_PAGE_SIZE = 500;

const CURSOR_PREFIX = 'k:';

/** An opaque page token: the last key of the previous page, so later pages are stable under inserts. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(CURSOR_PREFIX + lastKey, 'utf8').toString('base64url');
}

/** The key a page token carries; VALIDATION_FAILED for anything encodeCursor did not make. */
export function decodeCursor(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const key = text.slice(CURSOR_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(CURSOR_PREFIX) ||
    !isSubjectToken(key) ||
    encodeCursor(key) !== token
  ) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `page_token ${show(token)} is not a token this query issued`,
    );
  }
  return key;
}

/** Where a page starts and how long it is. */
export interface PageWindow {
  readonly size: number;
  readonly after: string | undefined;
}

/** Reads a PageRequest: size 0 → 50, at most 500; the token decoded. */
export function readPage(page: PageRequest | undefined): PageWindow {
  const requested = page?.pageSize ?? 0;
  const token = page?.pageToken ?? '';
  return {
    size:
      requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE),
    after: token === '' ? undefined : decodeCursor(token),
  };
}

/** Takes one page from entries already positioned after the cursor and in key order. */
export function takePage<V, O>(
  entries: Iterable<readonly [string, V]>,
  { size }: PageWindow,
  total: number,
  render: (value: V, key: string) => O,
): {
  readonly items: O[];
  readonly info: MessageInitShape<typeof PageInfoSchema>;
} {
  const items: O[] = [];
  let last: string | undefined;
  let more = false;
  for (const [key, value] of entries) {
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(render(value, key));
    last = key;
  }
  return {
    items,
    info: {
      nextPageToken: more && last !== undefined ? encodeCursor(last) : '',
      totalSize: BigInt(total),
    },
  };
}
