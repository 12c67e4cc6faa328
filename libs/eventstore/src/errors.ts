import { JetStreamApiError } from '@nats-io/jetstream';

/** Why an append failed. */
export const AppendFailure = {
  /** The aggregate moved on: `Nats-Expected-Last-Subject-Sequence` did not match. Reload and decide again. */
  wrongLastSequence: 'wrong-last-sequence',
  /** No ack arrived in time or the connection dropped: the outcome is unknown; retry with the same msg id. */
  unavailable: 'unavailable',
  /**
   * No room: the server's or the account's JetStream storage is used up, or the stream reached a
   * limit an operator set (max bytes, max messages). Nothing was stored; the same message can be
   * sent again once there is room.
   */
  full: 'full',
  /** The commit is larger than the server or the stream accepts; sending it again cannot help. */
  tooLarge: 'too-large',
  /** The server refused the message for another reason (stream missing, ...). */
  rejected: 'rejected',
} as const;
export type AppendFailure = (typeof AppendFailure)[keyof typeof AppendFailure];

/** An append that did not land. `retryable` says whether resending the same message can help. */
export class AppendError extends Error {
  override readonly name = 'AppendError';

  constructor(
    readonly failure: AppendFailure,
    message: string,
    /** The JetStream API error code, when the server gave one (10071 = wrong last sequence). */
    readonly apiCode = 0,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Whether resending the same message can help: at once when unavailable, once there is room when full. */
  get retryable(): boolean {
    return (
      this.failure === AppendFailure.unavailable ||
      this.failure === AppendFailure.full
    );
  }

  static is(value: unknown): value is AppendError {
    return (
      value instanceof Error &&
      value.name === 'AppendError' &&
      'failure' in value
    );
  }
}

/** JetStream's error code for a failed `Nats-Expected-Last-Subject-Sequence`. */
export const JS_WRONG_LAST_SEQUENCE = 10071;

/**
 * The JetStream API codes of a store without room: account resources exceeded (10002),
 * insufficient resources (10023: the server's max_file_store or max_memory_store, which
 * defaults to most of the disk it found at start), insufficient memory (10028) and
 * insufficient storage (10047).
 */
const NO_ROOM_CODES: ReadonlySet<number> = new Set([
  10002, 10023, 10028, 10047,
]);
/** Store failed (10077); with `discard: new`, a stream at its max bytes or max messages says so under it. */
const JS_STORE_FAILED = 10077;
const STREAM_LIMIT = /^maximum (bytes|messages)/;
/** Message (10054) or its headers (10097) larger than the stream or server allows. */
const TOO_LARGE_CODES: ReadonlySet<number> = new Set([10054, 10097]);

/**
 * True for a JetStream API error that says the store has no room: a KV or
 * object-store write (a vault key, content bytes) refused as a commit would be.
 */
export function isNoRoom(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    failureOf(error.code, error.message) === AppendFailure.full
  );
}

/** What an API error code (and its description) in a publish ack means for the append. */
export function failureOf(apiCode: number, description: string): AppendFailure {
  if (apiCode === JS_WRONG_LAST_SEQUENCE)
    return AppendFailure.wrongLastSequence;
  if (NO_ROOM_CODES.has(apiCode)) return AppendFailure.full;
  if (apiCode === JS_STORE_FAILED && STREAM_LIMIT.test(description))
    return AppendFailure.full;
  if (TOO_LARGE_CODES.has(apiCode)) return AppendFailure.tooLarge;
  return AppendFailure.rejected;
}
