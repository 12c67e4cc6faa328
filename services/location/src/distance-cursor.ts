import { isSubjectToken } from '@cim/kernel';
import type { PageRequest } from '@cim/proto/cim/common/v1/paging_pb';
import { pageSize, rejectPageToken, type PageWindow } from '@cim/service';

const DISTANCE_PREFIX = 'd:';

/** A position in a list ordered by distance, then id. */
export interface DistanceCursor {
  readonly distanceM: number;
  readonly id: string;
}

/** A page token for lists ordered by distance then id. */
export function distanceCursor(distanceM: number, lastId: string): string {
  return Buffer.from(
    `${DISTANCE_PREFIX}${distanceM}:${lastId}`,
    'utf8',
  ).toString('base64url');
}

/** The window of a distance-ordered list; VALIDATION_FAILED for a token distanceCursor did not make. */
export function distanceWindow(
  page: PageRequest | undefined,
): PageWindow<DistanceCursor> {
  const token = page?.pageToken ?? '';
  if (token === '') return { size: pageSize(page), after: undefined };
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const colon = text.indexOf(':', DISTANCE_PREFIX.length);
  const distanceM = Number(text.slice(DISTANCE_PREFIX.length, colon));
  const id = text.slice(colon + 1);
  // Node's base64url decoder skips characters it does not know; re-encoding catches them.
  if (
    !text.startsWith(DISTANCE_PREFIX) ||
    colon < 0 ||
    !(Number.isFinite(distanceM) && distanceM >= 0) ||
    !isSubjectToken(id) ||
    distanceCursor(distanceM, id) !== token
  ) {
    rejectPageToken(token);
  }
  return { size: pageSize(page), after: { distanceM, id } };
}
