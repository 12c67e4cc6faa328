// Content identifiers (domains.md §1.1): CIDv1 = varint(version 1) ‖
// varint(codec) ‖ multihash, where multihash = varint(hash code) ‖
// varint(digest length) ‖ digest; written as multibase base32 (RFC 4648
// lower-case alphabet, no padding) behind the prefix `b`. Pure code: the
// SHA-256 digest itself is computed at the edge (content-store.ts).

/** Multicodec codes this domain names. */
export const Multicodec = {
  raw: 0x55,
  dagCbor: 0x71,
  dagJson: 0x0129,
  sha2_256: 0x12,
} as const;

/** Bytes in a SHA-256 digest. */
export const SHA256_BYTES = 32;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE32_INDEX = new Map([...BASE32].map((c, i) => [c, i]));
const MULTIBASE_BASE32 = 'b';
/** Varints above this are refused: every code this domain knows fits, and it keeps numbers exact. */
const MAX_VARINT = 2 ** 31 - 1;

/** Encodes a non-negative integer as an unsigned LEB128 varint (the multiformats varint). */
export function encodeVarint(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_VARINT) {
    throw new RangeError(`varint out of range: ${value}`);
  }
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * Decodes the varint at `offset`: its value and the offset after it, or
 * undefined when the bytes end first, it is not minimal, or it is too large.
 */
export function decodeVarint(
  bytes: Uint8Array,
  offset: number,
): { readonly value: number; readonly next: number } | undefined {
  let value = 0;
  let factor = 1;
  for (let i = offset; i < bytes.length && i < offset + 5; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * factor;
    if ((byte & 0x80) === 0) {
      // A trailing zero byte would make a second spelling of the same number.
      if (byte === 0 && i > offset) return undefined;
      return value > MAX_VARINT ? undefined : { value, next: i + 1 };
    }
    factor *= 128;
  }
  return undefined;
}

/** RFC 4648 base32, lower-case alphabet, without padding. */
export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes unpadded lower-case RFC 4648 base32; undefined for any other
 * character, an impossible length, or non-zero trailing bits (a second
 * spelling of the same bytes).
 */
export function decodeBase32(text: string): Uint8Array | undefined {
  const remainder = text.length % 8;
  if (remainder === 1 || remainder === 3 || remainder === 6) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (const c of text) {
    const value = BASE32_INDEX.get(c);
    if (value === undefined) return undefined;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

/** The parts of a CIDv1. */
export interface ParsedCid {
  readonly codec: number;
  readonly hashCode: number;
  readonly digest: Uint8Array;
}

/** The binary form of a CIDv1 with the given codec and multihash. */
export function cidBytes(
  codec: number,
  hashCode: number,
  digest: Uint8Array,
): Uint8Array {
  const head = [
    ...encodeVarint(1),
    ...encodeVarint(codec),
    ...encodeVarint(hashCode),
    ...encodeVarint(digest.length),
  ];
  const out = new Uint8Array(head.length + digest.length);
  out.set(head);
  out.set(digest, head.length);
  return out;
}

/** The string form (`b` + base32) of a CIDv1. */
export function formatCid(
  codec: number,
  hashCode: number,
  digest: Uint8Array,
): string {
  return MULTIBASE_BASE32 + encodeBase32(cidBytes(codec, hashCode, digest));
}

/** The CID of opaque bytes whose SHA-256 digest is `digest`: CIDv1, codec raw. */
export function rawSha256Cid(digest: Uint8Array): string {
  if (digest.length !== SHA256_BYTES) {
    throw new RangeError(
      `a SHA-256 digest has ${SHA256_BYTES} bytes, got ${digest.length}`,
    );
  }
  return formatCid(Multicodec.raw, Multicodec.sha2_256, digest);
}

/**
 * Parses the string form of a CIDv1 (multibase base32 lower, `b…`);
 * undefined for anything else (CIDv0, other bases, upper case, truncated or
 * trailing bytes, a digest length that disagrees with the bytes).
 */
export function parseCid(text: string): ParsedCid | undefined {
  if (!text.startsWith(MULTIBASE_BASE32) || text.length > 200) return undefined;
  const bytes = decodeBase32(text.slice(1));
  if (bytes === undefined) return undefined;
  const version = decodeVarint(bytes, 0);
  if (version?.value !== 1) return undefined;
  const codec = decodeVarint(bytes, version.next);
  if (codec === undefined) return undefined;
  const hashCode = decodeVarint(bytes, codec.next);
  if (hashCode === undefined) return undefined;
  const length = decodeVarint(bytes, hashCode.next);
  if (length === undefined || bytes.length - length.next !== length.value) {
    return undefined;
  }
  return {
    codec: codec.value,
    hashCode: hashCode.value,
    digest: bytes.slice(length.next),
  };
}

/** True for the CIDs document content has: CIDv1, codec raw, a SHA-256 multihash. */
export function isContentCid(text: string): boolean {
  const cid = parseCid(text);
  return (
    cid !== undefined &&
    cid.codec === Multicodec.raw &&
    cid.hashCode === Multicodec.sha2_256 &&
    cid.digest.length === SHA256_BYTES
  );
}
