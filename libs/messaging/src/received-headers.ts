import type { MsgHdrs } from '@nats-io/nats-core';

/** A received message, or a micro-service request wrapping one. */
export interface ReceivedMessage {
  readonly headers?: MsgHdrs | undefined;
}

/** What nats.js 3.4 keeps of a received message before its headers are read. */
interface MsgInternals {
  readonly msg?: unknown;
  readonly _msg?: { readonly hdr?: unknown };
  readonly _rdata?: unknown;
  readonly _headers?: unknown;
}

/**
 * The header block of a received message as nats.js holds it (the bytes
 * before the payload), or undefined when that is not at hand: the headers
 * were decoded already, or the client keeps them otherwise.
 */
function rawHeaderBlock(message: ReceivedMessage): Uint8Array | undefined {
  const outer = message as MsgInternals;
  // A micro-service request wraps the client's message in `msg`.
  const inner = (
    typeof outer.msg === 'object' && outer.msg !== null ? outer.msg : outer
  ) as MsgInternals;
  if (inner._headers !== undefined) return undefined;
  const hdr = inner._msg?.hdr;
  const data = inner._rdata;
  if (typeof hdr !== 'number' || !(data instanceof Uint8Array))
    return undefined;
  return hdr > 0 ? data.subarray(0, hdr) : EMPTY;
}

const EMPTY = new Uint8Array(0);

/** True when {@link forEachHeader} reads this message's header bytes itself (the client is one it knows). */
export function readsRawHeaders(message: ReceivedMessage): boolean {
  return rawHeaderBlock(message) !== undefined;
}

/**
 * Calls `visit` with the name and value of every header line of a received
 * message, in order (a name sent twice is visited twice). Where the client
 * keeps the header bytes it received, they are read here in one pass: what
 * `msg.headers` would build, a map with every name canonicalised, searched
 * and checked character by character, cost more per command than the rest
 * of reading its metadata. Names and values come out as nats.js's decoding
 * gives them (value trimmed, status line skipped); otherwise `msg.headers`
 * is used.
 */
export function forEachHeader(
  message: ReceivedMessage,
  visit: (name: string, value: string) => void,
): void {
  const raw = rawHeaderBlock(message);
  if (raw === undefined) {
    const { headers } = message;
    if (headers !== undefined)
      for (const [name, values] of headers)
        for (const value of values) visit(name, value);
    return;
  }
  if (raw.length === 0) return;
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString(
    'utf8',
  );
  // The first line is `NATS/1.0` and an optional status.
  let at = text.indexOf('\r\n');
  if (at < 0) return;
  at += 2;
  while (at < text.length) {
    let end = text.indexOf('\r\n', at);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', at);
    if (colon > at && colon < end) {
      // The usual single space after the colon is skipped here, not by a
      // slice and a trim; anything else at either end goes through trim().
      let from = colon + 1;
      let to = end;
      while (from < to && text.charCodeAt(from) === 0x20) from++;
      while (to > from && text.charCodeAt(to - 1) === 0x20) to--;
      let value = text.slice(from, to);
      if (
        from < to &&
        (oddEdge(text.charCodeAt(from)) || oddEdge(text.charCodeAt(to - 1)))
      )
        value = value.trim();
      visit(text.slice(at, colon), value);
    }
    at = end + 2;
  }
}

/** A character at a value's edge that String#trim might remove: a control character, or beyond ASCII. */
function oddEdge(code: number): boolean {
  return code < 0x21 || code > 0x7e;
}
