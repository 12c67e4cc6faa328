import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';
import { GraphType, type Relationship } from '@cim/proto/cim/graph/v1/graph_pb';

/** Size limits on what a command may carry; the message size limit bounds the rest (metadata). */
export const LIMITS = {
  name: 200,
  description: 4000,
  type: 128,
  label: 500,
  tag: 64,
  tags: 50,
  text: 1000,
  conceptualPoint: 4096,
} as const;

/** Graph types whose directed edges must never close a cycle. */
export function isAcyclicType(graphType: GraphType): boolean {
  return (
    graphType === GraphType.WORKFLOW || graphType === GraphType.DEVELOPMENT
  );
}

/** A value quoted for an error message, cut short so a huge input cannot bloat the reply. */
export function show(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Throws VALIDATION_FAILED with `message`. */
export function invalid(message: string): never {
  throw new DomainError(ErrorCode.VALIDATION_FAILED, message);
}

/** Ids become NATS subject tokens and keys: `[A-Za-z0-9_-]{1,128}`. */
export function requireId(value: string, field: string): void {
  if (!isSubjectToken(value)) {
    invalid(`${field} must match [A-Za-z0-9_-]{1,128}, got ${show(value)}`);
  }
}

/** A text that must not be blank and must fit `max` characters. */
export function requireText(value: string, field: string, max: number): void {
  if (value.trim() === '') invalid(`${field} must not be blank`);
  limitText(value, field, max);
}

/** A text that may be empty but must fit `max` characters. */
export function limitText(value: string, field: string, max: number): void {
  if (value.length > max) {
    invalid(`${field} must be at most ${max} characters, got ${value.length}`);
  }
}

/** At most LIMITS.tags distinct, non-blank tags of at most LIMITS.tag characters. */
export function validateTags(tags: readonly string[], field = 'tags'): void {
  if (tags.length > LIMITS.tags) {
    invalid(
      `${field} must hold at most ${LIMITS.tags} tags, got ${tags.length}`,
    );
  }
  const seen = new Set<string>();
  tags.forEach((tag, i) => {
    requireText(tag, `${field}[${i}]`, LIMITS.tag);
    if (seen.has(tag)) invalid(`${field}[${i}] repeats the tag ${show(tag)}`);
    seen.add(tag);
  });
}

/** Edge weights are finite; shortest-path queries additionally need them non-negative. */
export function validateWeight(
  weight: number | undefined,
  field = 'weight',
): void {
  if (weight !== undefined && !Number.isFinite(weight)) {
    invalid(`${field} must be a finite number, got ${weight}`);
  }
}

/** Coordinates in a conceptual space: finite, at most LIMITS.conceptualPoint of them. */
export function validateConceptualPoint(point: readonly number[]): void {
  if (point.length > LIMITS.conceptualPoint) {
    invalid(
      `conceptual_point must have at most ${LIMITS.conceptualPoint} dimensions, got ${point.length}`,
    );
  }
  point.forEach((x, i) => {
    if (!Number.isFinite(x)) {
      invalid(`conceptual_point[${i}] must be a finite number, got ${x}`);
    }
  });
}

/** Checks the variant fields of a relationship; an absent relationship is valid. */
export function validateRelationship(
  relationship: Relationship | undefined,
): void {
  const kind = relationship?.kind;
  switch (kind?.case) {
    case 'dependency':
      limitText(kind.value.kind, 'relationship.dependency.kind', LIMITS.type);
      if (!Number.isFinite(kind.value.strength)) {
        invalid(
          `relationship.dependency.strength must be a finite number, got ${kind.value.strength}`,
        );
      }
      return;
    case 'similarity': {
      const { score } = kind.value;
      if (!(score >= 0 && score <= 1)) {
        invalid(
          `relationship.similarity.score must be within [0, 1], got ${score}`,
        );
      }
      return;
    }
    case 'association':
      limitText(
        kind.value.relation,
        'relationship.association.relation',
        LIMITS.type,
      );
      return;
    case 'conditional':
      limitText(
        kind.value.condition,
        'relationship.conditional.condition',
        LIMITS.text,
      );
      return;
    case 'custom':
      requireText(kind.value.name, 'relationship.custom.name', LIMITS.type);
      return;
    case 'hierarchy':
    case 'sequence':
    case 'parallel':
    case 'triggers':
    case 'produces':
    case undefined:
      return;
  }
}
