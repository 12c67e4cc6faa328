import { performance } from 'node:perf_hooks';
import { UnavailableError } from '@cim/messaging';

/**
 * How long one I/O step of a command's `prepare` may wait: its own bound
 * `boundMs`, or what is left before the caller's `deadline` when that is
 * sooner. Throws UNAVAILABLE when the caller's time has run out already, so
 * that a command whose caller has gone is not worked on further.
 */
export function boundByDeadline(
  boundMs: number,
  deadline: number | undefined,
): number {
  if (deadline === undefined) return boundMs;
  const left = Math.floor(deadline - performance.now());
  if (left <= 0)
    throw new UnavailableError(
      "the caller's time ran out while the command was being prepared; nothing was applied",
    );
  return Math.min(boundMs, left);
}
