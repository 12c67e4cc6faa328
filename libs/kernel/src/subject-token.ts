const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * True when `value` can stand as one NATS subject token: non-empty, no `.`,
 * `*`, `>` or whitespace (domains.md §1.5). Aggregate ids become subject
 * tokens, so every id a command names is checked with this first.
 */
export function isSubjectToken(value: string): boolean {
  return value.length > 0 && value.length <= 128 && TOKEN.test(value);
}
