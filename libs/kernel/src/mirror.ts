/**
 * True when a change that mirrors source version `incoming` of another
 * domain's aggregate comes after one that mirrored `applied` or a later
 * version: already applied, or overtaken (an old event redelivered after the
 * duplicate window). Either undefined: no order to keep, so not outdated.
 * Deciders of mirrored state answer such a change with no events.
 */
export function outdatedMirror(
  incoming: bigint | undefined,
  applied: bigint | undefined,
): boolean {
  return incoming !== undefined && applied !== undefined && incoming <= applied;
}
