/** Why an append failed. */
export const AppendFailure = {
  /** The aggregate moved on: `Nats-Expected-Last-Subject-Sequence` did not match. Reload and decide again. */
  wrongLastSequence: 'wrong-last-sequence',
  /** No ack arrived in time or the connection dropped: the outcome is unknown; retry with the same msg id. */
  unavailable: 'unavailable',
  /** The server refused the message (stream missing, message too large, ...). */
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

  get retryable(): boolean {
    return this.failure === AppendFailure.unavailable;
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
