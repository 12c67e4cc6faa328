import type { MessageInitShape } from '@bufbuild/protobuf';
import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';
import type {
  PageInfoSchema,
  PageRequest,
} from '@cim/proto/cim/common/v1/paging_pb';
import { show } from './domain/index.js';

/** Page size when a request asks for 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger requested page sizes are cut down to this. */
export const MAX_PAGE_SIZE = 500;

/** The PageInfo of an answer. */
export type PageInfoInit = MessageInitShape<typeof PageInfoSchema>;

/** Where a page starts: after `after` (a decoded token), `size` items long. */
export interface PageWindow<Cursor> {
  readonly size: number;
  readonly after: Cursor | undefined;
}

const ID_PREFIX = 'k:';
const DISTANCE_PREFIX = 'd:';

const encode = (text: string): string =>
  Buffer.from(text, 'utf8').toString('base64url');

function rejectToken(token: string): never {
  throw new DomainError(
    ErrorCode.VALIDATION_FAILED,
    `page_token ${show(token)} is not a token this query issued`,
  );
}

/** An opaque page token for lists ordered by id: the last id of the page. */
export function idCursor(lastId: string): string {
  return encode(ID_PREFIX + lastId);
}

/** A page token for lists ordered by distance then id. */
export function distanceCursor(distanceM: number, lastId: string): string {
  return encode(`${DISTANCE_PREFIX}${distanceM}:${lastId}`);
}

/** A position in a list ordered by distance, then id. */
export interface DistanceCursor {
  readonly distanceM: number;
  readonly id: string;
}

function readSize(page: PageRequest | undefined): number {
  const requested = page?.pageSize ?? 0;
  return requested === 0
    ? DEFAULT_PAGE_SIZE
    : Math.min(requested, MAX_PAGE_SIZE);
}

/** The window of an id-ordered list; VALIDATION_FAILED for a token idCursor did not make. */
export function idWindow(page: PageRequest | undefined): PageWindow<string> {
  const token = page?.pageToken ?? '';
  if (token === '') return { size: readSize(page), after: undefined };
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const id = text.slice(ID_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(ID_PREFIX) ||
    !isSubjectToken(id) ||
    idCursor(id) !== token
  ) {
    rejectToken(token);
  }
  return { size: readSize(page), after: id };
}

/** The window of a distance-ordered list; VALIDATION_FAILED for a token distanceCursor did not make. */
export function distanceWindow(
  page: PageRequest | undefined,
): PageWindow<DistanceCursor> {
  const token = page?.pageToken ?? '';
  if (token === '') return { size: readSize(page), after: undefined };
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const colon = text.indexOf(':', DISTANCE_PREFIX.length);
  const distanceM = Number(text.slice(DISTANCE_PREFIX.length, colon));
  const id = text.slice(colon + 1);
  if (
    !text.startsWith(DISTANCE_PREFIX) ||
    colon < 0 ||
    !(Number.isFinite(distanceM) && distanceM >= 0) ||
    !isSubjectToken(id) ||
    distanceCursor(distanceM, id) !== token
  ) {
    rejectToken(token);
  }
  return { size: readSize(page), after: { distanceM, id } };
}

/**
 * Takes one page from items already positioned after the cursor and in
 * order; `cursor` makes the token for the last item when more follow.
 */
export function takePage<T, O>(
  items: Iterable<T>,
  size: number,
  total: number,
  render: (item: T) => O,
  cursor: (item: T) => string,
): { readonly items: O[]; readonly info: PageInfoInit } {
  const page: O[] = [];
  let last: T | undefined;
  let more = false;
  for (const item of items) {
    if (page.length === size) {
      more = true;
      break;
    }
    page.push(render(item));
    last = item;
  }
  return {
    items: page,
    info: {
      nextPageToken: more && last !== undefined ? cursor(last) : '',
      totalSize: BigInt(total),
    },
  };
}
