import type { Msg } from '@nats-io/nats-core';
import { AppendError, AppendFailure, failureOf } from './errors.js';

/** What JetStream acknowledged for one stored message. */
export interface Ack {
  /** Stream sequence of the stored message (of the first copy, for a duplicate). */
  readonly seq: number;
  /** True when the msg id was seen inside the duplicate window and nothing new was stored. */
  readonly duplicate: boolean;
}

interface PubAckJson {
  readonly seq?: number;
  readonly duplicate?: boolean;
  readonly error?: {
    readonly code?: number;
    readonly err_code?: number;
    readonly description?: string;
  };
}

const decoder = new TextDecoder();
const SEQ = /"seq"\s*:\s*(\d+)/;
const DUPLICATE = /"duplicate"\s*:\s*true/;

/** Reads a JetStream publish ack, or the error that stands in its place. */
export function parseAck(msg: Msg): Ack | AppendError {
  const status = msg.headers?.code ?? 0;
  if (status !== 0 && status !== 200) {
    // 503: no stream listens on the subject (or JetStream is down).
    return new AppendError(
      status === 503 ? AppendFailure.unavailable : AppendFailure.rejected,
      `append refused: ${status} ${msg.headers?.description ?? ''}`.trim(),
    );
  }
  const text = decoder.decode(msg.data);
  // The common ack, `{"stream":"CIM_X","seq":12}` (and `"duplicate":true`), read without building an object.
  if (!text.includes('"error"')) {
    const seq = SEQ.exec(text);
    if (seq !== null) {
      const value = Number(seq[1]);
      if (Number.isSafeInteger(value))
        return { seq: value, duplicate: DUPLICATE.test(text) };
    }
  }
  let body: PubAckJson;
  try {
    body = JSON.parse(text) as PubAckJson;
  } catch (cause) {
    return new AppendError(
      AppendFailure.rejected,
      'append answered with an unreadable ack',
      0,
      { cause },
    );
  }
  if (body.error !== undefined) {
    const apiCode = body.error.err_code ?? 0;
    const description = body.error.description ?? 'append rejected';
    return new AppendError(
      failureOf(apiCode, description),
      description,
      apiCode,
    );
  }
  if (typeof body.seq !== 'number') {
    return new AppendError(
      AppendFailure.rejected,
      'append ack carries no sequence',
    );
  }
  return { seq: body.seq, duplicate: body.duplicate === true };
}
