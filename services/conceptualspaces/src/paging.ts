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

/** An opaque page token: the last id of the previous page, so later pages are stable under inserts. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(CURSOR_PREFIX + lastId, 'utf8').toString('base64url');
}

/** The id a page token carries; VALIDATION_FAILED for anything encodeCursor did not make. */
export function decodeCursor(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const id = text.slice(CURSOR_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(CURSOR_PREFIX) ||
    !isSubjectToken(id) ||
    encodeCursor(id) !== token
  ) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `page_token ${show(token)} is not a token this query issued`,
    );
  }
  return id;
}

/** The page a request asks for. */
export interface PageWindow {
  readonly size: number;
  readonly after: string | undefined;
}

/** Reads a page request: size 0 → 50, at most 500; the cursor's id. */
export function readPage(page: PageRequest | undefined): PageWindow {
  const requested = page?.pageSize ?? 0;
  const token = page?.pageToken ?? '';
  return {
    size:
      requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE),
    after: token === '' ? undefined : decodeCursor(token),
  };
}

/** Takes one page from entries already positioned after the cursor and in id order. */
export function takePage<V, O>(
  entries: Iterable<readonly [string, V]>,
  { size }: PageWindow,
  total: number,
  render: (value: V, id: string) => O,
): {
  readonly items: O[];
  readonly info: MessageInitShape<typeof PageInfoSchema>;
} {
  const items: O[] = [];
  let last: string | undefined;
  let more = false;
  for (const [id, value] of entries) {
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(render(value, id));
    last = id;
  }
  return {
    items,
    info: {
      nextPageToken: more && last !== undefined ? encodeCursor(last) : '',
      totalSize: BigInt(total),
    },
  };
}
