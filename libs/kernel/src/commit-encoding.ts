import type { EventRecord } from '@cim/proto/cim/common/v1/envelope_pb';

/** The commit fields in encoding order; see envelope.proto. */
export interface CommitContent {
  readonly commitId: string;
  readonly commandId: string;
  readonly domain: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: bigint;
  readonly events: readonly EventRecord[];
  readonly actor: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly occurredAtMs: number;
  readonly prevHash: Uint8Array;
}

const LEN = 2;
const VARINT = 0;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function stringField(value: string): number {
  if (value === '') return 0;
  const length = Buffer.byteLength(value, 'utf8');
  return 1 + varintSize(length) + length;
}

function bytesField(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

/**
 * Encodes a commit without its hash and mac straight into one buffer of
 * `unsealed + reserve` bytes, the reserve left for the hash (and mac) fields
 * the caller writes after hashing: no message objects, no growing writer, no
 * copy. The bytes are ordinary protobuf, decoded by the generated Commit schema.
 */
export function encodeCommitFields(
  fields: CommitContent,
  reserve: number,
): { buffer: Buffer; unsealed: number } {
  const seconds = Math.floor(fields.occurredAtMs / 1000);
  const nanos = (fields.occurredAtMs - seconds * 1000) * 1_000_000;
  const timestampSize =
    (seconds === 0 ? 0 : 1 + varintSize(seconds)) +
    (nanos === 0 ? 0 : 1 + varintSize(nanos));
  const version = Number(fields.version);
  const eventSizes = fields.events.map(
    (e) =>
      stringField(e.eventId) +
      stringField(e.eventType) +
      bytesField(e.payload.length),
  );
  const size =
    stringField(fields.commitId) +
    stringField(fields.commandId) +
    stringField(fields.domain) +
    stringField(fields.aggregateType) +
    stringField(fields.aggregateId) +
    (version === 0 ? 0 : 1 + varintSize(version)) +
    eventSizes.reduce((sum, n) => sum + 1 + varintSize(n) + n, 0) +
    stringField(fields.actor) +
    stringField(fields.correlationId) +
    stringField(fields.causationId) +
    (fields.occurredAtMs === 0
      ? 0
      : 1 + varintSize(timestampSize) + timestampSize) +
    bytesField(fields.prevHash.length);
  const buffer = Buffer.allocUnsafe(size + reserve);
  out = buffer;
  at = 0;
  string(1, fields.commitId);
  string(2, fields.commandId);
  string(3, fields.domain);
  string(4, fields.aggregateType);
  string(5, fields.aggregateId);
  if (version !== 0) {
    tag(6, VARINT);
    varint(version);
  }
  for (let i = 0; i < fields.events.length; i++) {
    const e = fields.events[i]!;
    tag(7, LEN);
    varint(eventSizes[i]!);
    string(1, e.eventId);
    string(2, e.eventType);
    bytes(3, e.payload);
  }
  string(8, fields.actor);
  string(9, fields.correlationId);
  string(10, fields.causationId);
  if (fields.occurredAtMs !== 0) {
    tag(11, LEN);
    varint(timestampSize);
    if (seconds !== 0) {
      tag(1, VARINT);
      varint(seconds);
    }
    if (nanos !== 0) {
      tag(2, VARINT);
      varint(nanos);
    }
  }
  bytes(12, fields.prevHash);
  const unsealed = at;
  out = EMPTY;
  return { buffer, unsealed };
}

// The writer's state while one commit is encoded (synchronously, start to end):
// module-level functions over it spare four closures per commit.
const EMPTY = Buffer.alloc(0);
let out: Buffer = EMPTY;
let at = 0;

function varint(value: number): void {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
}

function tag(field: number, wire: number): void {
  varint(field * 8 + wire);
}

function string(field: number, value: string): void {
  if (value === '') return;
  tag(field, LEN);
  varint(Buffer.byteLength(value, 'utf8'));
  at += out.write(value, at, 'utf8');
}

function bytes(field: number, value: Uint8Array): void {
  if (value.length === 0) return;
  tag(field, LEN);
  varint(value.length);
  out.set(value, at);
  at += value.length;
}
