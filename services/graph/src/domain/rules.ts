import { invalid, limitText, requireFinite, requireText } from '@cim/kernel';
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

/** Edge weights are finite; shortest-path queries additionally need them non-negative. */
export function validateWeight(
  weight: number | undefined,
  field = 'weight',
): void {
  if (weight !== undefined) requireFinite(weight, field);
}

/** Coordinates in a conceptual space: finite, at most LIMITS.conceptualPoint of them. */
export function validateConceptualPoint(point: readonly number[]): void {
  if (point.length > LIMITS.conceptualPoint) {
    invalid(
      `conceptual_point must have at most ${LIMITS.conceptualPoint} dimensions, got ${point.length}`,
    );
  }
  point.forEach((x, i) => requireFinite(x, `conceptual_point[${i}]`));
}

/** Checks the variant fields of a relationship; an absent relationship is valid. */
export function validateRelationship(
  relationship: Relationship | undefined,
): void {
  const kind = relationship?.kind;
  switch (kind?.case) {
    case 'dependency':
      limitText(kind.value.kind, 'relationship.dependency.kind', LIMITS.type);
      requireFinite(kind.value.strength, 'relationship.dependency.strength');
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
