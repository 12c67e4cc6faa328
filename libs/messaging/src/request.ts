import {
  headers as natsHeaders,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';
import { errorFromReply, isErrorReply, UnavailableError } from './errors.js';
import { Header } from './headers.js';

/** Options of one request. */
export interface RequestOptions {
  readonly headers?: MsgHdrs | Readonly<Record<string, string>>;
  /** Milliseconds until the request fails with UnavailableError; default 5000. */
  readonly timeoutMs?: number;
}

/**
 * Sends a request and resolves with the reply's bytes. An error reply is
 * thrown as the error it carries (DomainError, UnavailableError, RemoteError);
 * no responder, a time-out or a closed connection is thrown as UnavailableError.
 * Unless given as MsgHdrs, its headers say how long it waits (Cim-Timeout-Ms).
 */
export async function request(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array,
  options: RequestOptions = {},
): Promise<Uint8Array> {
  const timeout = options.timeoutMs ?? 5000;
  const headers = toHeaders(options.headers, timeout);
  const reply = await nc
    .request(subject, payload, { timeout, headers })
    .catch((cause: unknown) => {
      throw unavailable(subject, cause);
    });
  if (isErrorReply(reply)) throw errorFromReply(reply);
  return reply.data;
}

/** Headers given as MsgHdrs go as they are; otherwise the request's own, with Cim-Timeout-Ms unless given. */
function toHeaders(
  value: RequestOptions['headers'],
  timeoutMs: number,
): MsgHdrs {
  if (value !== undefined && isMsgHdrs(value)) return value;
  const h = natsHeaders();
  for (const [k, v] of Object.entries(value ?? {})) h.set(k, v);
  if (!h.has(Header.timeout)) h.set(Header.timeout, String(timeoutMs));
  return h;
}

function isMsgHdrs(value: object): value is MsgHdrs {
  return (
    typeof (value as MsgHdrs).keys === 'function' &&
    typeof (value as MsgHdrs).set === 'function'
  );
}

function unavailable(subject: string, cause: unknown): UnavailableError {
  const reason =
    cause instanceof Error &&
    /no responders/i.test(`${cause.message} ${String(cause.cause)}`)
      ? 'no service is answering'
      : cause instanceof Error && cause.name === 'TimeoutError'
        ? 'the service did not answer in time'
        : 'the message bus is unreachable';
  return new UnavailableError(`${subject}: ${reason}`, { cause });
}
