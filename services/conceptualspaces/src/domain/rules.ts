import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';

/** Size limits on what a command may carry; the message size limit bounds the rest. */
export const LIMITS = {
  name: 200,
  text: 500,
  dimensions: 64,
  categories: 1000,
  regions: 1000,
  boundaries: 256,
  members: 10_000,
  /** DiscoverRegions compares every pair of concepts. */
  discovery: 2000,
  /** Graph changes waiting for a missing graph version, per graph. */
  pending: 1024,
} as const;

/** A value quoted for an error message, cut short so a huge input cannot bloat the reply. */
export function show(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Throws VALIDATION_FAILED with `message`. */
export function invalid(message: string): never {
  throw new DomainError(ErrorCode.VALIDATION_FAILED, message);
}

/** Throws BUSINESS_RULE_VIOLATION with `message`. */
export function violation(message: string): never {
  throw new DomainError(ErrorCode.BUSINESS_RULE_VIOLATION, message);
}

/** Throws NOT_FOUND with `message`. */
export function notFound(message: string): never {
  throw new DomainError(ErrorCode.NOT_FOUND, message);
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

/** A finite number. */
export function requireFinite(value: number, field: string): void {
  if (!Number.isFinite(value)) {
    invalid(`${field} must be a finite number, got ${value}`);
  }
}
