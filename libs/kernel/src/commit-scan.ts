/** The fields of a commit a verifier needs, read without decoding the rest. */
export interface CommitFields {
  aggregateId: string;
  version: bigint;
  eventCount: number;
  prevHash: Uint8Array | undefined;
}

/**
 * Where those fields lie in the encoded commit, for readers that want no
 * allocation per commit: byte ranges into the scanned bytes instead of
 * copies. Filled in place by scanCommitLayout; reuse one per reader.
 */
export interface CommitLayout {
  aggregateIdStart: number;
  aggregateIdEnd: number;
  /** The version as the varint reads it (exact up to 2^53). */
  version: number;
  eventCount: number;
  /** -1 when the commit has no prev_hash. */
  prevHashStart: number;
  prevHashEnd: number;
}

/** A layout to fill with scanCommitLayout. */
export function commitLayout(): CommitLayout {
  return {
    aggregateIdStart: 0,
    aggregateIdEnd: 0,
    version: 0,
    eventCount: 0,
    prevHashStart: -1,
    prevHashEnd: -1,
  };
}

const decoder = new TextDecoder();

/**
 * Reads aggregate_id (5), version (6), the number of events (7) and
 * prev_hash (12) from an encoded Commit by walking its fields, several times
 * faster than a full decode. Returns undefined on malformed bytes.
 */
export function scanCommit(bytes: Uint8Array): CommitFields | undefined {
  const layout = commitLayout();
  if (!scanCommitLayout(bytes, bytes.length, layout)) return undefined;
  return {
    aggregateId: decoder.decode(
      bytes.subarray(layout.aggregateIdStart, layout.aggregateIdEnd),
    ),
    version: BigInt(layout.version),
    eventCount: layout.eventCount,
    prevHash:
      layout.prevHashStart < 0
        ? undefined
        : bytes.subarray(layout.prevHashStart, layout.prevHashEnd),
  };
}

/** The aggregate id of a scanned commit, decoded as UTF-8. */
export function aggregateIdAt(bytes: Uint8Array, layout: CommitLayout): string {
  const start = layout.aggregateIdStart;
  return decoder.decode(
    new Uint8Array(
      bytes.buffer,
      bytes.byteOffset + start,
      layout.aggregateIdEnd - start,
    ),
  );
}

/**
 * scanCommit over `bytes[0, end)` into `out`, without allocating: false on
 * malformed bytes (then `out` holds garbage). A later occurrence of a field
 * wins, as in scanCommit.
 */
export function scanCommitLayout(
  bytes: Uint8Array,
  end: number,
  out: CommitLayout,
): boolean {
  out.aggregateIdStart = 0;
  out.aggregateIdEnd = 0;
  out.version = 0;
  out.eventCount = 0;
  out.prevHashStart = -1;
  out.prevHashEnd = -1;
  let pos = 0;
  while (pos < end) {
    // The tag, a varint: at most 10 bytes, read with arithmetic rather than
    // bit operations as values reach 2^64 (`scale` is 2 ** shift, exactly).
    let tag = 0;
    for (let shift = 0, scale = 1; ; shift += 7, scale *= 128) {
      if (shift > 63 || pos >= end) return false;
      const b = bytes[pos++]!;
      tag += (b & 0x7f) * scale;
      if (b < 0x80) break;
    }
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0 || wire === 2) {
      let value = 0;
      for (let shift = 0, scale = 1; ; shift += 7, scale *= 128) {
        if (shift > 63 || pos >= end) return false;
        const b = bytes[pos++]!;
        value += (b & 0x7f) * scale;
        if (b < 0x80) break;
      }
      if (wire === 0) {
        if (field === 6) out.version = value;
        continue;
      }
      if (pos + value > end) return false;
      if (field === 5) {
        out.aggregateIdStart = pos;
        out.aggregateIdEnd = pos + value;
      } else if (field === 7) {
        out.eventCount++;
      } else if (field === 12) {
        out.prevHashStart = pos;
        out.prevHashEnd = pos + value;
      }
      pos += value;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      return false;
    }
  }
  return pos === end;
}

// A sealed commit ends with its hash, field 13 (tag (13 << 3 | LEN), length
// 32, 32 bytes), and may then carry the mac, field 14, laid out the same.
const HASH_TAG = (13 << 3) | 2;
const MAC_TAG = (14 << 3) | 2;
const DIGEST_BYTES = 32;
const SUFFIX_BYTES = 2 + DIGEST_BYTES;

/**
 * Where the hash field of stored commit bytes starts, which is the length of
 * the commit without hash (and mac); -1 when the bytes do not end with a hash
 * field. The offsets splitSealed cuts at, without the subarrays: the hash is
 * bytes[at + 2, at + 34).
 */
export function sealedHashAt(bytes: Uint8Array): number {
  let end = bytes.length;
  if (
    end >= SUFFIX_BYTES &&
    bytes[end - SUFFIX_BYTES] === MAC_TAG &&
    bytes[end - SUFFIX_BYTES + 1] === DIGEST_BYTES
  ) {
    end -= SUFFIX_BYTES;
  }
  const at = end - SUFFIX_BYTES;
  if (at < 0 || bytes[at] !== HASH_TAG || bytes[at + 1] !== DIGEST_BYTES)
    return -1;
  return at;
}
