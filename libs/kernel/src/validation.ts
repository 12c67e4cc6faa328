import { DomainError, ErrorCode } from './domain-error.js';
import { isSubjectToken } from './subject-token.js';

/** Longest part of a value `show` quotes before it cuts the rest off with `…`. */
const SHOWN_CHARS = 64;

/** A value quoted for an error message, cut at 64 characters so a huge input cannot bloat the reply. */
export function show(value: string): string {
  return JSON.stringify(
    value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}…` : value,
  );
}

/** Throws DomainError VALIDATION_FAILED with `message`. */
export function invalid(message: string): never {
  throw new DomainError(ErrorCode.VALIDATION_FAILED, message);
}

/** Throws DomainError BUSINESS_RULE_VIOLATION with `message`. */
export function violation(message: string): never {
  throw new DomainError(ErrorCode.BUSINESS_RULE_VIOLATION, message);
}

/** Throws DomainError NOT_FOUND with `message`. */
export function notFound(message: string): never {
  throw new DomainError(ErrorCode.NOT_FOUND, message);
}

/**
 * Ids become NATS subject tokens and keys: `[A-Za-z0-9_-]{1,128}`.
 * Throws VALIDATION_FAILED naming `field` otherwise.
 */
export function requireId(value: string, field: string): void {
  if (!isSubjectToken(value)) {
    invalid(`${field} must match [A-Za-z0-9_-]{1,128}, got ${show(value)}`);
  }
}

/** A text that must not be blank and must fit `max` characters (UTF-16 code units); VALIDATION_FAILED otherwise. */
export function requireText(value: string, field: string, max: number): void {
  if (value.trim() === '') invalid(`${field} must not be blank`);
  limitText(value, field, max);
}

/** A text that may be empty but must fit `max` characters (UTF-16 code units); VALIDATION_FAILED otherwise. */
export function limitText(value: string, field: string, max: number): void {
  if (value.length > max) {
    invalid(`${field} must be at most ${max} characters, got ${value.length}`);
  }
}

/** A finite number (not NaN or ±Infinity); VALIDATION_FAILED otherwise. */
export function requireFinite(value: number, field: string): void {
  if (!Number.isFinite(value)) {
    invalid(`${field} must be a finite number, got ${value}`);
  }
}

/** How many tags a list may hold (`tags`) and how long one may be (`tag`). */
export interface TagLimits {
  readonly tag: number;
  readonly tags: number;
}

/**
 * At most `limits.tags` distinct, non-blank tags of at most `limits.tag`
 * characters each; VALIDATION_FAILED naming the first offending entry.
 */
export function validateTags(
  tags: readonly string[],
  field: string,
  limits: TagLimits,
): void {
  if (tags.length > limits.tags) {
    invalid(
      `${field} must hold at most ${limits.tags} tags, got ${tags.length}`,
    );
  }
  const seen = new Set<string>();
  tags.forEach((tag, i) => {
    requireText(tag, `${field}[${i}]`, limits.tag);
    if (seen.has(tag)) invalid(`${field}[${i}] repeats the tag ${show(tag)}`);
    seen.add(tag);
  });
}
