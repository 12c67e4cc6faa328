import { describe, expect, it } from '@jest/globals';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  notFound,
  requireFinite,
  requireId,
  requireText,
  show,
  validateTags,
  violation,
} from '@cim/kernel';

/** Matches a thrown DomainError with `code` and exactly `message`. */
const domainError = (code: ErrorCode, message: string) =>
  expect.objectContaining({ name: 'DomainError', code, message });

const LIMITS = { tag: 8, tags: 3 } as const;

describe('show', () => {
  it('quotes a short value as JSON', () => {
    expect(show('g-1')).toBe('"g-1"');
    expect(show('say "hi"\n')).toBe('"say \\"hi\\"\\n"');
  });

  it('keeps a value of exactly 64 characters whole', () => {
    const value = 'x'.repeat(64);
    expect(show(value)).toBe(`"${value}"`);
  });

  it('cuts a longer value at 64 characters and marks the cut', () => {
    expect(show('x'.repeat(65))).toBe(`"${'x'.repeat(64)}…"`);
    expect(show('y'.repeat(100_000))).toHaveLength(64 + 3);
  });
});

describe('invalid, violation and notFound', () => {
  it.each([
    ['invalid', invalid, ErrorCode.VALIDATION_FAILED],
    ['violation', violation, ErrorCode.BUSINESS_RULE_VIOLATION],
    ['notFound', notFound, ErrorCode.NOT_FOUND],
  ])(
    '%s throws a DomainError with its code and the message',
    (_, fail, code) => {
      expect(() => fail('bad input')).toThrow(DomainError);
      expect(() => fail('bad input')).toThrow(domainError(code, 'bad input'));
    },
  );
});

describe('requireId', () => {
  it.each(['g-1', 'A_b-9', 'x'.repeat(128)])('accepts %j', (id) => {
    expect(() => requireId(id, 'graph_id')).not.toThrow();
  });

  it.each(['', 'a.b', 'a*', 'a>', 'a b', 'ü', 'x'.repeat(129)])(
    'rejects %j with VALIDATION_FAILED',
    (id) => {
      expect(() => requireId(id, 'graph_id')).toThrow(
        domainError(
          ErrorCode.VALIDATION_FAILED,
          `graph_id must match [A-Za-z0-9_-]{1,128}, got ${show(id)}`,
        ),
      );
    },
  );
});

describe('requireText', () => {
  it('accepts a text up to the limit', () => {
    expect(() => requireText('abc', 'name', 3)).not.toThrow();
  });

  it.each(['', '   ', '\t\n'])(
    'rejects the blank %j with VALIDATION_FAILED',
    (text) => {
      expect(() => requireText(text, 'name', 10)).toThrow(
        domainError(ErrorCode.VALIDATION_FAILED, 'name must not be blank'),
      );
    },
  );

  it('rejects a text over the limit with VALIDATION_FAILED', () => {
    expect(() => requireText('abcd', 'name', 3)).toThrow(
      domainError(
        ErrorCode.VALIDATION_FAILED,
        'name must be at most 3 characters, got 4',
      ),
    );
  });
});

describe('limitText', () => {
  it('accepts an empty text', () => {
    expect(() => limitText('', 'description', 3)).not.toThrow();
  });

  it('rejects a text over the limit with VALIDATION_FAILED', () => {
    expect(() => limitText('abcd', 'description', 3)).toThrow(
      domainError(
        ErrorCode.VALIDATION_FAILED,
        'description must be at most 3 characters, got 4',
      ),
    );
  });
});

describe('requireFinite', () => {
  it('accepts a finite number', () => {
    expect(() => requireFinite(-1.5, 'weight')).not.toThrow();
  });

  it.each([NaN, Infinity, -Infinity])(
    'rejects %p with VALIDATION_FAILED',
    (value) => {
      expect(() => requireFinite(value, 'weight')).toThrow(
        domainError(
          ErrorCode.VALIDATION_FAILED,
          `weight must be a finite number, got ${value}`,
        ),
      );
    },
  );
});

describe('validateTags', () => {
  it('accepts distinct tags within the limits', () => {
    expect(() => validateTags(['a', 'b', 'c'], 'tags', LIMITS)).not.toThrow();
    expect(() => validateTags([], 'tags', LIMITS)).not.toThrow();
  });

  it.each([
    [['a', 'b', 'c', 'd'], 'tags must hold at most 3 tags, got 4'],
    [['a', ' '], 'tags[1] must not be blank'],
    [['a', 'x'.repeat(9)], 'tags[1] must be at most 8 characters, got 9'],
    [['a', 'b', 'a'], 'tags[2] repeats the tag "a"'],
  ])('rejects %j with VALIDATION_FAILED', (tags, message) => {
    expect(() => validateTags(tags, 'tags', LIMITS)).toThrow(
      domainError(ErrorCode.VALIDATION_FAILED, message),
    );
  });

  it('names the field it was given', () => {
    expect(() => validateTags([''], 'hints.tags', LIMITS)).toThrow(
      domainError(
        ErrorCode.VALIDATION_FAILED,
        'hints.tags[0] must not be blank',
      ),
    );
  });
});
