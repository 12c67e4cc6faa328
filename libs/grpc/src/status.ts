import { DomainError, ErrorCode, errorCodeName } from '@cim/kernel';
import { Metadata, status } from '@grpc/grpc-js';

/** Trailing-metadata key that carries the CIM error code name (`NOT_FOUND`), so codes sharing a gRPC status stay apart. */
export const ERROR_CODE_METADATA_KEY = 'cim-error-code';

/** A gRPC status code with the message a client may see. */
export interface GrpcStatus {
  readonly code: status;
  readonly details: string;
}

/**
 * Maps any thrown value to the gRPC status a client sees: DomainError codes by
 * the architecture's table, UnavailableError (by name) or an error whose code
 * is UNAVAILABLE to UNAVAILABLE, and everything else to INTERNAL with the
 * generic message "internal error", so no internal detail leaks.
 */
export function statusFor(error: unknown): GrpcStatus {
  const code = errorCodeOf(error);
  const message = error instanceof Error ? error.message : '';
  switch (code) {
    case ErrorCode.VALIDATION_FAILED:
      return { code: status.INVALID_ARGUMENT, details: message };
    case ErrorCode.NOT_FOUND:
      return { code: status.NOT_FOUND, details: message };
    case ErrorCode.ALREADY_EXISTS:
      return { code: status.ALREADY_EXISTS, details: message };
    case ErrorCode.INVALID_TRANSITION:
    case ErrorCode.BUSINESS_RULE_VIOLATION:
      return { code: status.FAILED_PRECONDITION, details: message };
    case ErrorCode.CONCURRENCY_CONFLICT:
      return { code: status.ABORTED, details: message };
    case ErrorCode.UNAUTHORIZED:
      return {
        code: isUnauthenticated(error)
          ? status.UNAUTHENTICATED
          : status.PERMISSION_DENIED,
        details: message,
      };
    case ErrorCode.UNAVAILABLE:
      return { code: status.UNAVAILABLE, details: message };
    case ErrorCode.UNSPECIFIED:
    case ErrorCode.INTERNAL:
      return { code: status.INTERNAL, details: 'internal error' };
  }
}

/**
 * The full status a grpc-js server sends for a thrown value: `statusFor` plus
 * trailing metadata `cim-error-code` with the CIM code name (`INTERNAL` for
 * unexpected errors). Pass it to a unary callback or emit it on a stream.
 */
export function serverStatusFor(error: unknown): {
  code: status;
  details: string;
  metadata: Metadata;
} {
  const metadata = new Metadata();
  metadata.set(
    ERROR_CODE_METADATA_KEY,
    errorCodeName(codeOrInternal(errorCodeOf(error))),
  );
  return { ...statusFor(error), metadata };
}

/** The CIM error code a thrown value stands for; INTERNAL when it is not a known error. */
export function errorCodeOf(error: unknown): ErrorCode {
  if (DomainError.is(error)) return codeOrInternal(error.code);
  if (!(error instanceof Error)) return ErrorCode.INTERNAL;
  // Checked by name: @cim/messaging owns UnavailableError and this lib must not depend on it.
  if (error.name === 'UnavailableError') return ErrorCode.UNAVAILABLE;
  if ('code' in error && error.code === ErrorCode.UNAVAILABLE)
    return ErrorCode.UNAVAILABLE;
  return ErrorCode.INTERNAL;
}

function codeOrInternal(code: ErrorCode): ErrorCode {
  return ErrorCode[code] === undefined || code === ErrorCode.UNSPECIFIED
    ? ErrorCode.INTERNAL
    : code;
}

function isUnauthenticated(error: unknown): boolean {
  return DomainError.is(error) && error.details['reason'] === 'unauthenticated';
}
