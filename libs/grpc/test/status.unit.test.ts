import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@cim/kernel';
import { status } from '@grpc/grpc-js';
import {
  ERROR_CODE_METADATA_KEY,
  serverStatusFor,
  statusFor,
} from '../src/index.js';

class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
}

const cases: ReadonlyArray<readonly [string, unknown, status, string, string]> =
  [
    [
      'VALIDATION_FAILED',
      new DomainError(ErrorCode.VALIDATION_FAILED, 'name is empty'),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
      'name is empty',
    ],
    [
      'NOT_FOUND',
      new DomainError(ErrorCode.NOT_FOUND, 'no node n1'),
      status.NOT_FOUND,
      'NOT_FOUND',
      'no node n1',
    ],
    [
      'ALREADY_EXISTS',
      new DomainError(ErrorCode.ALREADY_EXISTS, 'n1 exists'),
      status.ALREADY_EXISTS,
      'ALREADY_EXISTS',
      'n1 exists',
    ],
    [
      'INVALID_TRANSITION',
      new DomainError(ErrorCode.INVALID_TRANSITION, 'archived'),
      status.FAILED_PRECONDITION,
      'INVALID_TRANSITION',
      'archived',
    ],
    [
      'BUSINESS_RULE_VIOLATION',
      new DomainError(ErrorCode.BUSINESS_RULE_VIOLATION, 'cycle'),
      status.FAILED_PRECONDITION,
      'BUSINESS_RULE_VIOLATION',
      'cycle',
    ],
    [
      'CONCURRENCY_CONFLICT',
      new DomainError(ErrorCode.CONCURRENCY_CONFLICT, 'stale'),
      status.ABORTED,
      'CONCURRENCY_CONFLICT',
      'stale',
    ],
    [
      'UNAUTHORIZED',
      new DomainError(ErrorCode.UNAUTHORIZED, 'not allowed'),
      status.PERMISSION_DENIED,
      'UNAUTHORIZED',
      'not allowed',
    ],
    [
      'UNAUTHORIZED without credentials',
      new DomainError(ErrorCode.UNAUTHORIZED, 'no token', {
        details: { reason: 'unauthenticated' },
      }),
      status.UNAUTHENTICATED,
      'UNAUTHORIZED',
      'no token',
    ],
    [
      'UnavailableError',
      new UnavailableError('graph: no service is answering'),
      status.UNAVAILABLE,
      'UNAVAILABLE',
      'graph: no service is answering',
    ],
    [
      'an error with code UNAVAILABLE',
      Object.assign(new Error('bus down'), { code: ErrorCode.UNAVAILABLE }),
      status.UNAVAILABLE,
      'UNAVAILABLE',
      'bus down',
    ],
    [
      'a DomainError with code UNAVAILABLE',
      new DomainError(ErrorCode.UNAVAILABLE, 'store down'),
      status.UNAVAILABLE,
      'UNAVAILABLE',
      'store down',
    ],
    [
      'a DomainError with code INTERNAL',
      new DomainError(ErrorCode.INTERNAL, 'secret'),
      status.INTERNAL,
      'INTERNAL',
      'internal error',
    ],
    [
      'a DomainError with code UNSPECIFIED',
      new DomainError(ErrorCode.UNSPECIFIED, 'secret'),
      status.INTERNAL,
      'INTERNAL',
      'internal error',
    ],
    [
      'a DomainError with an unknown code',
      new DomainError(99 as ErrorCode, 'secret'),
      status.INTERNAL,
      'INTERNAL',
      'internal error',
    ],
    [
      'a plain Error',
      new Error('secret: db password wrong'),
      status.INTERNAL,
      'INTERNAL',
      'internal error',
    ],
    [
      'a thrown string',
      'secret',
      status.INTERNAL,
      'INTERNAL',
      'internal error',
    ],
    ['undefined', undefined, status.INTERNAL, 'INTERNAL', 'internal error'],
  ];

describe('statusFor', () => {
  it.each(cases)('maps %s', (_name, error, code, _errorCode, details) => {
    expect(statusFor(error)).toEqual({ code, details });
  });
});

describe('serverStatusFor', () => {
  it.each(cases)(
    'puts the code name of %s in cim-error-code',
    (_name, error, code, errorCode, details) => {
      const answer = serverStatusFor(error);
      expect(answer.code).toBe(code);
      expect(answer.details).toBe(details);
      expect(answer.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([errorCode]);
    },
  );
});
