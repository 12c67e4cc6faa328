import type { MsgHdrs } from '@nats-io/nats-core';

/**
 * The headers of one append, kept as two short lists and encoded in one go.
 * nats.js's own headers object canonicalises every name character by
 * character, searches its names on every append and checks each value with a
 * regular expression: per commit that cost more, and allocated more, than the
 * rest of the publish. These headers carry only the event store's own names
 * and values it made (ids, sequence numbers), so none of that is needed; a
 * value with a line break is still refused, as it would end the header block.
 *
 * nats.js's publish asks the headers it is given only to `encode()` (pinned
 * by a test); {@link AppendHeaders.forPublish} hands them over in that shape.
 */
export class AppendHeaders {
  private readonly names: string[] = [];
  private readonly values: string[] = [];

  constructor(msgId: string, expectedLastSubjectSequence: number) {
    this.append('Nats-Msg-Id', msgId);
    this.append(
      'Nats-Expected-Last-Subject-Sequence',
      String(expectedLastSubjectSequence),
    );
  }

  /** Adds a header; names are the caller's constants, written as given. */
  append(name: string, value: string): void {
    if (value.includes('\r') || value.includes('\n'))
      throw new TypeError(`header ${name}: a value cannot hold a line break`);
    this.names.push(name);
    this.values.push(value);
  }

  /** Removes every header of that name. */
  delete(name: string): void {
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] === name) {
        this.names.splice(i, 1);
        this.values.splice(i, 1);
      }
    }
  }

  /** The header block as NATS sends it: `NATS/1.0`, one `Name: value` line each, and a blank line. */
  encode(): Uint8Array {
    let block = 'NATS/1.0\r\n';
    for (let i = 0; i < this.names.length; i++)
      block += `${this.names[i]}: ${this.values[i]}\r\n`;
    // A short string is copied into Node's shared pool: no buffer of its own per message.
    return Buffer.from(`${block}\r\n`, 'utf8');
  }

  /** These headers as the `headers` option of nats.js's publish, which only encodes them. */
  forPublish(): MsgHdrs {
    return this as unknown as MsgHdrs;
  }
}
