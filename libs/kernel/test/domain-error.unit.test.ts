import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode, errorCodeName } from '@cim/kernel';

describe('DomainError', () => {
  describe('when constructed', () => {
    it('carries its code, message, details and cause', () => {
      const cause = new Error('underlying');
      const error = new DomainError(ErrorCode.NOT_FOUND, 'no graph g-1', {
        details: { graphId: 'g-1' },
        cause,
      });
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('DomainError');
      expect(error.code).toBe(ErrorCode.NOT_FOUND);
      expect(error.message).toBe('no graph g-1');
      expect(error.details).toEqual({ graphId: 'g-1' });
      expect(error.cause).toBe(cause);
    });

    it('defaults details to an empty record', () => {
      expect(
        new DomainError(ErrorCode.VALIDATION_FAILED, 'bad').details,
      ).toEqual({});
    });
  });

  describe('when checking a value with DomainError.is', () => {
    it('accepts a DomainError', () => {
      expect(
        DomainError.is(new DomainError(ErrorCode.ALREADY_EXISTS, 'exists')),
      ).toBe(true);
    });

    it('accepts an Error rebuilt with the name and code, as from a reply', () => {
      const rebuilt = Object.assign(new Error('no graph g-1'), {
        name: 'DomainError',
        code: ErrorCode.NOT_FOUND,
      });
      expect(rebuilt).not.toBeInstanceOf(DomainError);
      expect(DomainError.is(rebuilt)).toBe(true);
    });

    it('accepts an Error made in another realm', () => {
      const foreign: unknown = runInNewContext(
        'Object.assign(new Error("no graph g-1"), { name: "DomainError", code: 2 })',
      );
      expect(foreign).not.toBeInstanceOf(Error);
      expect(DomainError.is(foreign)).toBe(true);
    });

    it('accepts a structured clone once its name and code are restored', () => {
      const original = new DomainError(
        ErrorCode.INVALID_TRANSITION,
        'archived',
      );
      const copy = structuredClone(original);
      expect(copy).not.toBeInstanceOf(DomainError);
      Object.assign(copy, { name: original.name, code: original.code });
      expect(DomainError.is(copy)).toBe(true);
    });

    it('accepts an instance of a class from another copy of the module', () => {
      class OtherCopy extends Error {
        override readonly name = 'DomainError';
        readonly code = ErrorCode.BUSINESS_RULE_VIOLATION;
      }
      expect(DomainError.is(new OtherCopy('cycle'))).toBe(true);
    });

    it('rejects a plain object of the same shape, which is not an Error', () => {
      expect(
        DomainError.is({
          name: 'DomainError',
          code: ErrorCode.NOT_FOUND,
          message: 'no graph g-1',
        }),
      ).toBe(false);
    });

    it('rejects an Error named DomainError without a code', () => {
      const error = new Error('x');
      error.name = 'DomainError';
      expect(DomainError.is(error)).toBe(false);
    });

    it('rejects an Error with a code under another name', () => {
      expect(
        DomainError.is(
          Object.assign(new Error('x'), {
            name: 'UnavailableError',
            code: ErrorCode.UNAVAILABLE,
          }),
        ),
      ).toBe(false);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a string', 'DomainError'],
      ['a number', 2],
    ])('rejects %s', (_label, value) => {
      expect(DomainError.is(value)).toBe(false);
    });
  });
});

describe('errorCodeName', () => {
  describe('when given a known code', () => {
    it.each([
      [ErrorCode.UNSPECIFIED, 'UNSPECIFIED'],
      [ErrorCode.VALIDATION_FAILED, 'VALIDATION_FAILED'],
      [ErrorCode.NOT_FOUND, 'NOT_FOUND'],
      [ErrorCode.ALREADY_EXISTS, 'ALREADY_EXISTS'],
      [ErrorCode.INVALID_TRANSITION, 'INVALID_TRANSITION'],
      [ErrorCode.BUSINESS_RULE_VIOLATION, 'BUSINESS_RULE_VIOLATION'],
      [ErrorCode.CONCURRENCY_CONFLICT, 'CONCURRENCY_CONFLICT'],
      [ErrorCode.UNAUTHORIZED, 'UNAUTHORIZED'],
      [ErrorCode.UNAVAILABLE, 'UNAVAILABLE'],
      [ErrorCode.INTERNAL, 'INTERNAL'],
    ])('names %i %s', (code, name) => {
      expect(errorCodeName(code)).toBe(name);
    });
  });

  describe('when given a code from a newer schema', () => {
    it('answers UNSPECIFIED', () => {
      expect(errorCodeName(99 as ErrorCode)).toBe('UNSPECIFIED');
    });
  });
});
