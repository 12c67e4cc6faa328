/**
 * A loaded aggregate without the mark of the snapshot it was loaded from:
 * what a load from a snapshot plus its tail must have in common with a full
 * replay.
 */
export function withoutSnapshotMark<T extends { readonly snapshot: unknown }>(
  loaded: T,
): Omit<T, 'snapshot'> {
  const { snapshot: _mark, ...aggregate } = loaded;
  return aggregate;
}
