// Dimensions, weights and metrics: the checks CreateConceptualSpace,
// AddQualityDimension and ReplaceDimensionWeights make, and the conversions
// between their proto messages and the state.
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  invalid,
  limitText,
  requireFinite,
  requireId,
  requireText,
  show,
} from '@cim/kernel';
import {
  DimensionKind,
  type DimensionWeight,
  type DimensionWeightSchema,
  type Metric,
  type MetricSchema,
  type QualityDimension,
  type QualityDimensionSchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { LIMITS } from './rules.js';
import type { DimensionState, MetricState, WeightState } from './state.js';

/** Checks a dimension and returns it with its effective range; VALIDATION_FAILED naming `field` otherwise. */
export function checkDimension(
  dimension: QualityDimension | undefined,
  field: string,
): DimensionState {
  if (dimension === undefined) invalid(`${field} is required`);
  const { dimensionId, name, min, max, categories, context } = dimension;
  requireId(dimensionId, `${field}.dimension_id`);
  requireText(name, `${field}.name`, LIMITS.name);
  if (context !== '') requireId(context, `${field}.context`);
  const kind =
    dimension.kind === DimensionKind.UNSPECIFIED
      ? DimensionKind.CONTINUOUS
      : dimension.kind;
  switch (kind) {
    case DimensionKind.CONTINUOUS:
      requireFinite(min, `${field}.min`);
      requireFinite(max, `${field}.max`);
      if (min > max) {
        invalid(`${field} has a bad range: min ${min} is above max ${max}`);
      }
      if (categories.length > 0) {
        invalid(
          `${field}.categories are only for categorical and ordinal dimensions`,
        );
      }
      return { id: dimensionId, name, kind, min, max, categories: [], context };
    case DimensionKind.CATEGORICAL:
    case DimensionKind.ORDINAL: {
      noRange(min, max, field, 'its categories');
      if (categories.length === 0 || categories.length > LIMITS.categories) {
        invalid(
          `${field}.categories must hold 1 to ${LIMITS.categories} names, got ${categories.length}`,
        );
      }
      const seen = new Set<string>();
      categories.forEach((category, i) => {
        requireText(category, `${field}.categories[${i}]`, LIMITS.name);
        if (seen.has(category)) {
          invalid(`${field}.categories[${i}] repeats ${show(category)}`);
        }
        seen.add(category);
      });
      return {
        id: dimensionId,
        name,
        kind,
        min: 0,
        max: categories.length,
        categories: [...categories],
        context,
      };
    }
    case DimensionKind.CIRCULAR:
      noRange(min, max, field, 'the circle');
      if (categories.length > 0) {
        invalid(
          `${field}.categories are only for categorical and ordinal dimensions`,
        );
      }
      return {
        id: dimensionId,
        name,
        kind,
        min: 0,
        max: 360,
        categories: [],
        context,
      };
    default:
      return invalid(
        `${field}.kind ${dimension.kind} is not a known dimension kind`,
      );
  }
}

function noRange(min: number, max: number, field: string, what: string): void {
  if (min !== 0 || max !== 0) {
    invalid(`${field} takes its range from ${what}: leave min and max 0`);
  }
}

function nonNegative(value: number, field: string): void {
  requireFinite(value, field);
  if (value < 0) invalid(`${field} must not be negative, got ${value}`);
}

/** Checks a weight (finite, non-negative; attentional min ≤ max) and clamps an attentional current into [min, max]. */
export function checkWeight(
  weight: DimensionWeight | undefined,
  field: string,
): WeightState {
  const kind = weight?.kind;
  switch (kind?.case) {
    case undefined:
      return invalid(`${field} must be constant, contextual or attentional`);
    case 'constant':
      nonNegative(kind.value, `${field}.constant`);
      return { kind: 'constant', value: kind.value };
    case 'contextual': {
      const { base, overrides } = kind.value;
      nonNegative(base, `${field}.contextual.base`);
      const entries = Object.entries(overrides).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      for (const [context, value] of entries) {
        requireId(context, `${field}.contextual.overrides key`);
        nonNegative(value, `${field}.contextual.overrides[${context}]`);
      }
      return { kind: 'contextual', base, overrides: new Map(entries) };
    }
    case 'attentional': {
      const { current, min, max } = kind.value;
      nonNegative(min, `${field}.attentional.min`);
      nonNegative(max, `${field}.attentional.max`);
      requireFinite(current, `${field}.attentional.current`);
      if (min > max) {
        invalid(`${field}.attentional.min ${min} is above max ${max}`);
      }
      return {
        kind: 'attentional',
        current: Math.min(max, Math.max(min, current)),
        min,
        max,
      };
    }
  }
}

/** Checks one weight per dimension. */
export function checkWeights(
  weights: readonly DimensionWeight[],
  count: number,
  field: string,
): WeightState[] {
  if (weights.length !== count) {
    invalid(
      `${field} must hold one weight per dimension (${count}), got ${weights.length}`,
    );
  }
  return weights.map((weight, i) => checkWeight(weight, `${field}[${i}]`));
}

/**
 * Checks a metric for `count` dimensions: p ≥ 1 (Infinity allowed), one
 * weight per dimension (none means weight 1 each); an absent metric is the
 * unweighted Euclidean one. The context is checked by the caller.
 */
export function checkMetric(
  metric: Metric | undefined,
  count: number,
): MetricState {
  if (metric === undefined) {
    return {
      weights: Array.from({ length: count }, () => ({
        kind: 'constant',
        value: 1,
      })),
      p: 2,
      context: '',
    };
  }
  const p = metric.minkowskiP;
  if (!(p >= 1)) invalid(`metric.minkowski_p must be at least 1, got ${p}`);
  if (metric.currentContext !== '') {
    requireId(metric.currentContext, 'metric.current_context');
  }
  const weights =
    metric.weights.length === 0
      ? Array.from({ length: count }, (): WeightState => ({
          kind: 'constant',
          value: 1,
        }))
      : checkWeights(metric.weights, count, 'metric.weights');
  return { weights, p, context: metric.currentContext };
}

/** Checks the text fields of a space definition. */
export function checkSpaceName(name: string): void {
  requireText(name, 'name', LIMITS.name);
}

/** Checks a reason text. */
export function checkReason(reason: string): void {
  limitText(reason, 'reason', LIMITS.text);
}

type DimensionInit = MessageInitShape<typeof QualityDimensionSchema>;
type WeightInit = MessageInitShape<typeof DimensionWeightSchema>;
type MetricInit = MessageInitShape<typeof MetricSchema>;

/** A dimension as its proto message. */
export function dimensionMessage(dimension: DimensionState): DimensionInit {
  return {
    dimensionId: dimension.id,
    name: dimension.name,
    kind: dimension.kind,
    min: dimension.min,
    max: dimension.max,
    categories: [...dimension.categories],
    context: dimension.context,
  };
}

/** A dimension from its (already checked) proto message. */
export function dimensionState(
  dimension: QualityDimension | undefined,
): DimensionState {
  return {
    id: dimension?.dimensionId ?? '',
    name: dimension?.name ?? '',
    kind: dimension?.kind ?? DimensionKind.CONTINUOUS,
    min: dimension?.min ?? 0,
    max: dimension?.max ?? 0,
    categories: dimension?.categories ?? [],
    context: dimension?.context ?? '',
  };
}

/** A weight as its proto message. */
export function weightMessage(weight: WeightState): WeightInit {
  switch (weight.kind) {
    case 'constant':
      return { kind: { case: 'constant', value: weight.value } };
    case 'contextual':
      return {
        kind: {
          case: 'contextual',
          value: {
            base: weight.base,
            overrides: Object.fromEntries(weight.overrides),
          },
        },
      };
    case 'attentional':
      return {
        kind: {
          case: 'attentional',
          value: { current: weight.current, min: weight.min, max: weight.max },
        },
      };
  }
}

/** A weight from its (already checked) proto message; an unreadable one counts as constant 1. */
export function weightState(weight: DimensionWeight | undefined): WeightState {
  const kind = weight?.kind;
  switch (kind?.case) {
    case 'constant':
      return { kind: 'constant', value: kind.value };
    case 'contextual':
      return {
        kind: 'contextual',
        base: kind.value.base,
        overrides: new Map(
          Object.entries(kind.value.overrides).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        ),
      };
    case 'attentional':
      return {
        kind: 'attentional',
        current: kind.value.current,
        min: kind.value.min,
        max: kind.value.max,
      };
    case undefined:
      return { kind: 'constant', value: 1 };
  }
}

/** A metric as its proto message. */
export function metricMessage(metric: MetricState): MetricInit {
  return {
    weights: metric.weights.map(weightMessage),
    minkowskiP: metric.p,
    currentContext: metric.context,
  };
}

/** A metric from its (already checked) proto message. */
export function metricState(metric: Metric | undefined): MetricState {
  return {
    weights: (metric?.weights ?? []).map(weightState),
    p: metric?.minkowskiP ?? 2,
    context: metric?.currentContext ?? '',
  };
}
