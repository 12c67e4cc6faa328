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

  /** Checks shape, so it holds for errors rebuilt from a reply or from another module copy. */
  static is(value: unknown): value is DomainError {
    return (
      value instanceof Error && value.name === 'DomainError' && 'code' in value
    );
  }
}

/** The proto name of a code without its prefix, as logs and CLIs print it (`NOT_FOUND`). */
export function errorCodeName(code: ErrorCode): string {
  return ErrorCode[code] ?? 'UNSPECIFIED';
}
