import { notFound, show, violation } from '@cim/kernel';
import type {
  HierarchyLink,
  ParentFacts,
} from '@cim/proto/cim/location/v1/location_pb';
import { LIMITS } from './rules.js';

const path = (ids: readonly string[]): string => ids.map(show).join(' → ');

/**
 * Refuses a parent for `locationId` by the facts the service read: NOT_FOUND
 * when the read model does not know it; BUSINESS_RULE_VIOLATION when it is
 * archived, when `locationId` is among its ancestors (a cycle), when its own
 * ancestry already holds a cycle, or when the hierarchy would grow deeper
 * than LIMITS.hierarchyDepth.
 */
export function checkParent(
  locationId: string,
  parentId: string,
  facts: ParentFacts | undefined,
): void {
  const ancestry = facts?.ancestry ?? [];
  const parent = ancestry[0];
  if (parent === undefined || parent.locationId !== parentId) {
    notFound(`parent location ${show(parentId)} not found`);
  }
  if (parent.archived) {
    violation(`parent location ${show(parentId)} is archived`);
  }
  const ids = ancestry.map((link) => link.locationId);
  const at = ids.indexOf(locationId);
  if (at >= 0) {
    violation(
      `parent ${show(parentId)} would close a cycle: ${path([locationId, ...ids.slice(0, at + 1)])}`,
    );
  }
  const last = ancestry[ancestry.length - 1]!;
  if (last.parentId !== '' && ids.includes(last.parentId)) {
    violation(
      `the hierarchy above ${show(parentId)} holds a cycle through ${show(last.parentId)}`,
    );
  }
  if (ancestry.length >= LIMITS.hierarchyDepth) {
    violation(
      `the hierarchy would be deeper than ${LIMITS.hierarchyDepth} levels`,
    );
  }
}

/**
 * The cycle that the parent link of `self` closed, starting with `self` and
 * following parents, or undefined. A cycle whose latest link (highest
 * stream sequence) belongs to another location is left to that location's
 * own check, so concurrent checks break each cycle exactly once.
 */
export function closedCycle(
  self: HierarchyLink,
  facts: ParentFacts | undefined,
): string[] | undefined {
  const ancestry = facts?.ancestry ?? [];
  if (self.parentId === '' || ancestry[0]?.locationId !== self.parentId) {
    return undefined;
  }
  const at = ancestry.findIndex((link) => link.locationId === self.locationId);
  if (at < 0) return undefined;
  const others = ancestry.slice(0, at);
  return others.every((link) => link.linkSequence < self.linkSequence)
    ? [self.locationId, ...others.map((link) => link.locationId)]
    : undefined;
}
