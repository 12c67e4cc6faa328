import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DomainError, ErrorCode, errorCodeName } from '@cim/kernel';
import { ErrorSchema } from '@cim/proto/cim/common/v1/errors_pb';
import {
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
} from '@nats-io/nats-core';
import { Header } from './headers.js';

/**
 * The service could not be reached or did not answer in time. The request may
 * or may not have been applied; retrying a command with the same id is safe.
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  readonly code = ErrorCode.UNAVAILABLE;
  readonly retryable = true;

  static is(value: unknown): value is UnavailableError {
    return value instanceof Error && value.name === 'UnavailableError';
  }
}

/** The reply bytes and headers of an error answer. */
export interface ErrorReply {
  readonly headers: MsgHdrs;
  readonly body: Uint8Array;
}

/**
 * Encodes an error answer: a cim.common.v1.Error body plus the NATS micro
 * headers `Nats-Service-Error-Code` (the ErrorCode number) and
 * `Nats-Service-Error` (`<CODE_NAME>: <message>`), as a micro service's
 * `respondError` writes them.
 */
export function errorReply(
  code: ErrorCode,
  message: string,
  details: Record<string, string> = {},
): ErrorReply {
  const headers = natsHeaders();
  headers.set(Header.errorCode, String(code));
  headers.set(Header.errorMessage, errorLine(code, message));
  return {
    headers,
    body: toBinary(
      ErrorSchema,
      create(ErrorSchema, { code, message, details }),
    ),
  };
}

/** The one-line description an error reply's `Nats-Service-Error` header carries. */
export function errorLine(code: ErrorCode, message: string): string {
  return `${errorCodeName(code)}: ${message.replace(/[\r\n]+/g, ' ')}`;
}

/** Encodes the answer for any error: a DomainError keeps its code; everything else is INTERNAL with a generic message. */
export function errorReplyFor(error: unknown): ErrorReply {
  if (DomainError.is(error))
    return errorReply(error.code, error.message, { ...error.details });
  if (UnavailableError.is(error))
    return errorReply(ErrorCode.UNAVAILABLE, error.message);
  return errorReply(ErrorCode.INTERNAL, 'internal error');
}

/** True when a reply carries an error. */
export function isErrorReply(msg: Msg): boolean {
  return msg.headers?.has(Header.errorCode) === true;
}

/**
 * Rebuilds the error an error reply carries: a DomainError for domain codes,
 * UnavailableError for UNAVAILABLE, a plain Error (name RemoteError) otherwise.
 */
export function errorFromReply(msg: Msg): Error {
  let code = ErrorCode.INTERNAL;
  let message = msg.headers?.get(Header.errorMessage) ?? 'internal error';
  let details: Record<string, string> = {};
  // A non-CIM micro service (`respondError`) sends no body: the headers are all there is.
  if (msg.data.length > 0) {
    try {
      const body = fromBinary(ErrorSchema, msg.data);
      code = body.code;
      message = body.message;
      details = body.details;
    } catch {
      // A body that is not a cim.common.v1.Error: the headers are all there is.
    }
  }
  if (code === ErrorCode.UNAVAILABLE) return new UnavailableError(message);
  if (code === ErrorCode.INTERNAL || code === ErrorCode.UNSPECIFIED) {
    return Object.assign(new Error(message), {
      name: 'RemoteError',
      code: ErrorCode.INTERNAL,
    });
  }
  return new DomainError(code, message, { details });
}
