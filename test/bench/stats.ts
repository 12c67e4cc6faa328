/** Percentiles and mean of a set of samples, in the samples' unit. */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The `p`-th percentile (0–100) of samples sorted in ascending order, by the
 * nearest-rank method: the smallest sample with at least p% of the samples at
 * or below it. Throws on an empty set.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises samples in any order; the input is not changed. Throws on an empty set. */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
  };
}

/** Operations per second for `count` operations that took `seconds`. */
export function rate(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}

/** The round with the median rate (the lower middle one of an even count): alternating rounds are compared by their medians. */
export function medianRound<T extends { readonly perSecond: number }>(
  rounds: readonly T[],
): T {
  if (rounds.length === 0) throw new Error('no rounds to take a median of');
  const sorted = [...rounds].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The median of numbers (the lower middle one of an even count); the input is not changed. */
export function median(values: readonly number[]): number {
  return medianRound(values.map((perSecond) => ({ perSecond }))).perSecond;
}
