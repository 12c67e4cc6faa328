/** The fields of a commit a verifier needs, read without decoding the rest. */
export interface CommitFields {
  aggregateId: string;
  version: bigint;
  eventCount: number;
  prevHash: Uint8Array | undefined;
}

const decoder = new TextDecoder();

/**
 * Reads aggregate_id (5), version (6), the number of events (7) and
 * prev_hash (12) from an encoded Commit by walking its fields, several times
 * faster than a full decode. Returns undefined on malformed bytes.
 */
export function scanCommit(bytes: Uint8Array): CommitFields | undefined {
  const out: CommitFields = {
    aggregateId: '',
    version: 0n,
    eventCount: 0,
    prevHash: undefined,
  };
  let pos = 0;
  const varint = (): number | undefined => {
    let result = 0;
    let shift = 0;
    while (pos < bytes.length) {
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) return undefined;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const value = varint();
      if (value === undefined) return undefined;
      if (field === 6) out.version = BigInt(value);
    } else if (wire === 2) {
      const length = varint();
      if (length === undefined || pos + length > bytes.length) return undefined;
      if (field === 5)
        out.aggregateId = decoder.decode(bytes.subarray(pos, pos + length));
      else if (field === 7) out.eventCount++;
      else if (field === 12) out.prevHash = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      return undefined;
    }
  }
  return pos === bytes.length ? out : undefined;
}
