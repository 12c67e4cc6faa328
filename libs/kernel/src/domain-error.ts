import { ErrorCode } from '@cim/proto/cim/common/v1/errors_pb';

export { ErrorCode };

/** The codes a business rule may answer with; UNAVAILABLE and INTERNAL belong to infrastructure. */
export type DomainErrorCode =
  | ErrorCode.VALIDATION_FAILED
  | ErrorCode.NOT_FOUND
  | ErrorCode.ALREADY_EXISTS
  | ErrorCode.INVALID_TRANSITION
  | ErrorCode.BUSINESS_RULE_VIOLATION
  | ErrorCode.CONCURRENCY_CONFLICT
  | ErrorCode.UNAUTHORIZED;

/** A business rule refused the request. Answered to the caller; never retried. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly details: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ErrorOptions & { details?: Record<string, string> } = {},
  ) {
    super(message, options);
    this.details = options.details ?? {};
  }

  /** Checks shape, so it holds for errors rebuilt from a reply, from another module copy or from another realm. */
  static is(value: unknown): value is DomainError {
    return isError(value) && value.name === 'DomainError' && 'code' in value;
  }
}

// `instanceof Error` is false for an Error made in another realm (a vm context, or
// structuredClone under jest); the internal tag is not. domain-error.unit.test.ts checks both.
function isError(value: unknown): value is Error {
  return (
    value instanceof Error ||
    Object.prototype.toString.call(value) === '[object Error]'
  );
}

/** The proto name of a code without its prefix, as logs and CLIs print it (`NOT_FOUND`). */
export function errorCodeName(code: ErrorCode): string {
  return ErrorCode[code] ?? 'UNSPECIFIED';
}
