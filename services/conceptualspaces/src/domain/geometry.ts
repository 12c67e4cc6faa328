// The math of §2.4 over normalised values. Distances are weighted Minkowski
// combinations of per-dimension differences, each of which is a metric on
// its dimension (absolute difference, arc length on the unit circle, the
// discrete 0/1 metric), so for p ≥ 1 the combination satisfies the metric
// axioms: the property tests check them on sampled points, and the k-d tree
// relies on them. Everything a distance is compared with is computed by the
// same functions in the same order, so an index and a linear scan agree bit
// for bit.
import { invalid } from '@cim/kernel';
import { DimensionKind } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import type {
  DimensionState,
  HalfSpaceState,
  MetricState,
  WeightState,
} from './state.js';

/** How the normalised values of a dimension differ. */
export const MetricKind = { linear: 0, circular: 1, categorical: 2 } as const;
/** A value of MetricKind. */
export type MetricKind = (typeof MetricKind)[keyof typeof MetricKind];

/** The metric of a space resolved in one context: all a distance needs. */
export interface Geometry {
  readonly kinds: Uint8Array;
  readonly weights: Float64Array;
  /** At least 1; Infinity for Chebyshev. */
  readonly p: number;
}

/** How values of a dimension kind are compared. */
export function metricKindOf(kind: DimensionKind): MetricKind {
  switch (kind) {
    case DimensionKind.CIRCULAR:
      return MetricKind.circular;
    case DimensionKind.CATEGORICAL:
      return MetricKind.categorical;
    default:
      return MetricKind.linear;
  }
}

/** A weight's value in `context` ('' for none): a contextual weight without an override uses its base. */
export function resolveWeight(weight: WeightState, context: string): number {
  switch (weight.kind) {
    case 'constant':
      return weight.value;
    case 'contextual':
      return (
        (context === '' ? undefined : weight.overrides.get(context)) ??
        weight.base
      );
    case 'attentional':
      return weight.current;
  }
}

/** Every context a space knows: those its dimensions name and those its contextual weights override, sorted. */
export function knownContexts(
  dimensions: readonly DimensionState[],
  metric: MetricState,
): string[] {
  const contexts = new Set<string>();
  for (const dimension of dimensions) {
    if (dimension.context !== '') contexts.add(dimension.context);
  }
  for (const weight of metric.weights) {
    if (weight.kind === 'contextual') {
      for (const context of weight.overrides.keys()) contexts.add(context);
    }
  }
  return [...contexts].sort();
}

/** The space's metric with weights resolved in `context` (its current one by default). */
export function geometryOf(
  dimensions: readonly DimensionState[],
  metric: MetricState,
  context: string = metric.context,
): Geometry {
  const n = dimensions.length;
  const kinds = new Uint8Array(n);
  const weights = new Float64Array(n);
  dimensions.forEach((dimension, i) => {
    kinds[i] = metricKindOf(dimension.kind);
    const weight = metric.weights[i];
    weights[i] = weight === undefined ? 1 : resolveWeight(weight, context);
  });
  return { kinds, weights, p: metric.p };
}

/** Reduces an angle to [0, 360); other kinds keep their value. */
export function canonicalValue(
  dimension: DimensionState,
  value: number,
): number {
  if (dimension.kind !== DimensionKind.CIRCULAR) return value;
  const reduced = ((value % 360) + 360) % 360;
  // -0 and a sum that rounds up to 360 both mean 0.
  return reduced === 360 || reduced === 0 ? 0 : reduced;
}

/** Whether a value lies in a dimension's range: min ≤ v < max, only min when min = max, any finite angle. */
export function inRange(dimension: DimensionState, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  if (dimension.kind === DimensionKind.CIRCULAR) return true;
  if (dimension.min === dimension.max) return value === dimension.min;
  return value >= dimension.min && value < dimension.max;
}

/**
 * Checks a point against the space (one value per dimension, each in range)
 * and returns it in canonical form (angles in [0, 360)); VALIDATION_FAILED
 * naming `field` otherwise.
 */
export function checkPoint(
  dimensions: readonly DimensionState[],
  values: readonly number[],
  field: string,
): number[] {
  if (values.length !== dimensions.length) {
    invalid(
      `${field} must have ${dimensions.length} values (one per dimension), got ${values.length}`,
    );
  }
  return dimensions.map((dimension, i) => {
    const value = values[i]!;
    if (!inRange(dimension, value)) {
      invalid(
        `${field}[${i}] = ${value} is outside dimension ${dimension.id} [${dimension.min}, ${dimension.max})`,
      );
    }
    return canonicalValue(dimension, value);
  });
}

/** A raw value as distances compare it: in [0, 1) for linear and circular dimensions, the category code for categorical ones. */
export function metricValue(dimension: DimensionState, value: number): number {
  switch (dimension.kind) {
    case DimensionKind.CATEGORICAL:
      return Math.floor(value);
    case DimensionKind.CIRCULAR:
      return canonicalValue(dimension, value) / 360;
    default:
      return unitValue(dimension, value);
  }
}

/** A raw value scaled to [0, 1): (v − min) / (max − min), 0 on a zero-width range. */
export function unitValue(dimension: DimensionState, value: number): number {
  const span = dimension.max - dimension.min;
  return span > 0 ? (value - dimension.min) / span : 0;
}

/** A raw point in metric values. */
export function metricPoint(
  dimensions: readonly DimensionState[],
  values: readonly number[],
): Float64Array {
  const point = new Float64Array(dimensions.length);
  dimensions.forEach((dimension, i) => {
    point[i] = metricValue(dimension, values[i] ?? 0);
  });
  return point;
}

/** A raw point in unit values (every kind scaled to [0, 1)). */
export function unitPoint(
  dimensions: readonly DimensionState[],
  values: readonly number[],
): Float64Array {
  const point = new Float64Array(dimensions.length);
  dimensions.forEach((dimension, i) => {
    point[i] = unitValue(dimension, values[i] ?? 0);
  });
  return point;
}

/** The difference of two metric values: |a − b|, the shorter arc on the unit circle, or 0/1 for categories. */
export function difference(kind: number, a: number, b: number): number {
  if (kind === MetricKind.categorical) return a === b ? 0 : 1;
  const d = Math.abs(a - b);
  return kind === MetricKind.circular ? Math.min(d, 1 - d) : d;
}

/** One dimension's share of a powered distance: w·d^p (w·d for Chebyshev). */
export function term(weight: number, diff: number, p: number): number {
  if (p === 2) return weight * diff * diff;
  if (p === 1 || p === Infinity) return weight * diff;
  return weight * Math.pow(diff, p);
}

/** Adds a term to a powered distance: a sum, or the maximum for Chebyshev. */
export function combine(acc: number, t: number, p: number): number {
  return p === Infinity ? Math.max(acc, t) : acc + t;
}

/** The distance a powered distance stands for: its p-th root. */
export function rootOf(powered: number, p: number): number {
  if (p === 1 || p === Infinity) return powered;
  if (p === 2) return Math.sqrt(powered);
  return Math.pow(powered, 1 / p);
}

/** The powered distance a distance stands for: its p-th power. */
export function powerOf(distance: number, p: number): number {
  if (p === 1 || p === Infinity) return distance;
  if (p === 2) return distance * distance;
  return Math.pow(distance, p);
}

/** Σ wᵢ dᵢ^p (max wᵢ dᵢ for Chebyshev) between two metric points stored at offsets of flat arrays. */
export function poweredDistance(
  g: Geometry,
  a: ArrayLike<number>,
  aOffset: number,
  b: ArrayLike<number>,
  bOffset: number,
): number {
  const { kinds, weights, p } = g;
  let acc = 0;
  for (let i = 0; i < kinds.length; i++) {
    acc = combine(
      acc,
      term(
        weights[i]!,
        difference(kinds[i]!, a[aOffset + i]!, b[bOffset + i]!),
        p,
      ),
      p,
    );
  }
  return acc;
}

/** The weighted Minkowski distance between two metric points. */
export function distance(
  g: Geometry,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  return rootOf(poweredDistance(g, a, 0, b, 0), g.p);
}

/** The same distance with another p (the space's weights and dimension kinds). */
export function distanceWithP(
  g: Geometry,
  p: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  return distance({ ...g, p }, a, b);
}

/** 1 − cos over weighted unit points; undefined when either is the zero vector. */
export function cosineDistance(
  weights: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number | undefined {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const w = weights[i]!;
    dot += w * a[i]! * b[i]!;
    na += w * a[i]! * a[i]!;
    nb += w * b[i]! * b[i]!;
  }
  if (na === 0 || nb === 0) return undefined;
  const cos = Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
  return 1 - cos;
}

// Relative slack for half-space tests, so points built on a boundary (a
// convex combination of members, a Voronoi vertex) are not lost to rounding.
const SLACK = 1e-9;

/** Whether n·x − offset ≥ 0, up to a relative rounding slack. */
export function inHalfSpace(
  { normal, offset }: HalfSpaceState,
  x: readonly number[],
): boolean {
  let value = -offset;
  let scale = Math.abs(offset);
  for (let i = 0; i < normal.length; i++) {
    const t = normal[i]! * (x[i] ?? 0);
    value += t;
    scale += Math.abs(t);
  }
  return value >= -SLACK * scale;
}

/** Whether a point lies in every half-space (the whole space when there are none). */
export function inRegion(
  boundaries: readonly HalfSpaceState[],
  x: readonly number[],
): boolean {
  return boundaries.every((boundary) => inHalfSpace(boundary, x));
}

/** The arithmetic mean of raw points (convex regions contain the centroid of their members). */
export function centroid(points: readonly (readonly number[])[]): number[] {
  const first = points[0];
  if (first === undefined) return [];
  const sum = new Array<number>(first.length).fill(0);
  for (const point of points) {
    point.forEach((value, i) => {
      sum[i]! += value;
    });
  }
  return sum.map((total) => total / points.length);
}

/** How one raw unit of a dimension scales into unit values, when every dimension is read as linear. */
function linearScale(dimension: DimensionState): number {
  const span = dimension.max - dimension.min;
  return span > 0 ? 1 / span : 0;
}

/**
 * The half-space of raw points at least as close to `p` as to `q` under the
 * weighted Euclidean metric over unit values, every dimension read as
 * linear: n·x ≥ n·(p + q)/2 with nᵢ = wᵢsᵢ²(pᵢ − qᵢ), sᵢ the unit scale of
 * dimension i. The offset is taken at the midpoint rather than as
 * Σ nᵢ(pᵢ² − qᵢ²)/(2(pᵢ − qᵢ)) (the same value) to avoid cancellation when p
 * and q nearly coincide. Undefined when no weighted dimension tells them apart.
 */
export function bisector(
  dimensions: readonly DimensionState[],
  weights: ArrayLike<number>,
  p: readonly number[],
  q: readonly number[],
): HalfSpaceState | undefined {
  let offset = 0;
  let any = false;
  const normal = dimensions.map((dimension, i) => {
    const s = linearScale(dimension);
    const pi = p[i]!;
    const qi = q[i]!;
    const n = weights[i]! * s * s * (pi - qi);
    offset += (n * (pi + qi)) / 2;
    if (n !== 0) any = true;
    return n;
  });
  return any ? { normal, offset } : undefined;
}

/** Salience-weighted similarity 1 / (1 + √(Σ sᵢΔᵢ² / Σ sᵢ)) between metric points. */
export function salienceSimilarity(
  kinds: ArrayLike<number>,
  salience: readonly number[],
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  let weighted = 0;
  let total = 0;
  salience.forEach((s, i) => {
    const d = difference(kinds[i]!, a[i]!, b[i]!);
    weighted += s * d * d;
    total += s;
  });
  return 1 / (1 + Math.sqrt(weighted / total));
}

/** Mean of min/max over the dimensions where either unit value is non-zero; 1 when there are none. */
export function featureOverlap(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const hi = Math.max(a[i]!, b[i]!);
    if (hi > 0) {
      sum += Math.min(a[i]!, b[i]!) / hi;
      count++;
    }
  }
  return count === 0 ? 1 : sum / count;
}

/** Dynamic time warping of two metric-point sequences, with the space distance as the local cost. */
export function dynamicTimeWarping(
  g: Geometry,
  a: readonly Float64Array[],
  b: readonly Float64Array[],
): number {
  let previous = new Float64Array(b.length + 1).fill(Infinity);
  let current = new Float64Array(b.length + 1);
  previous[0] = 0;
  for (const x of a) {
    current.fill(Infinity);
    for (let j = 1; j <= b.length; j++) {
      const cost = distance(g, x, b[j - 1]!);
      current[j] =
        cost + Math.min(previous[j]!, previous[j - 1]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}
