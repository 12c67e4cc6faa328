import { hash } from 'node:crypto';

// Inputs are copied into one reused buffer and hashed with the one-shot
// `crypto.hash`, about twice as fast as a streaming `createHash` for the few
// hundred bytes of a commit. Digests come back as binary strings (one char
// per byte): asking `crypto.hash` for a Buffer costs a native allocation per
// call, which for small inputs takes longer than the hashing itself and
// fragments the malloc heap that the rest of the process (signature checks)
// allocates from.
let scratch = new Uint8Array(4096);
// Views of scratch[0, length) by length, so hashing a prefix allocates nothing.
let views: Array<Uint8Array | undefined> = [];
const CACHED_VIEWS = 4096;

function reserve(length: number): void {
  if (length <= scratch.length) return;
  scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  views = [];
}

function scratchView(length: number): Uint8Array {
  if (length > CACHED_VIEWS) return new Uint8Array(scratch.buffer, 0, length);
  return (views[length] ??= new Uint8Array(scratch.buffer, 0, length));
}

/** Copies bytes[start, end) into scratch at `at`. */
function copyIn(bytes: Uint8Array, start: number, end: number, at: number) {
  if (end - start <= 64) {
    for (let i = start; i < end; i++) scratch[at++] = bytes[i]!;
  } else {
    scratch.set(
      new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start),
      at,
    );
  }
}

/** SHA-256 of the concatenation of `parts`, as a Buffer. */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  reserve(length);
  let at = 0;
  for (const part of parts) {
    copyIn(part, 0, part.length, at);
    at += part.length;
  }
  return digestBytes(hash('sha256', scratchView(length), 'binary'));
}

/**
 * SHA-256 of `a[aStart, aEnd) ‖ b[bStart, bEnd)` as a binary string (char i
 * is byte i of the digest). Allocates nothing but the 32-char string.
 */
export function sha256Binary(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): string {
  const split = aEnd - aStart;
  const length = split + bEnd - bStart;
  reserve(length);
  copyIn(a, aStart, aEnd, 0);
  copyIn(b, bStart, bEnd, split);
  return hash('sha256', scratchView(length), 'binary');
}

/** SHA-256 of `prefix ‖ left ‖ right` where left and right are binary strings (chars below 256). */
export function sha256OfBinary(
  prefix: number,
  left: string,
  right: string,
): string {
  const length = 1 + left.length + right.length;
  reserve(length);
  scratch[0] = prefix;
  let at = 1;
  for (let i = 0; i < left.length; i++) scratch[at++] = left.charCodeAt(i);
  for (let i = 0; i < right.length; i++) scratch[at++] = right.charCodeAt(i);
  return hash('sha256', scratchView(length), 'binary');
}

/** HMAC block size of SHA-256 (RFC 2104's B). */
const HMAC_BLOCK = 64;

// The padded keys of the last key seen, with room after each for what it is hashed with.
let hmacKey: Uint8Array | undefined;
let innerPad = new Uint8Array(0);
const outerPad = new Uint8Array(HMAC_BLOCK + 32);

/**
 * HMAC-SHA256(key, message) as a binary string, from its definition
 * H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)) with two one-shot hashes: a third of
 * what `createHmac` costs for the short messages it is used on (commit
 * hashes), where building the Hmac object outweighs the hashing.
 */
export function hmacSha256Binary(key: Uint8Array, message: Uint8Array): string {
  if (key !== hmacKey || innerPad.length < HMAC_BLOCK + message.length) {
    const block = new Uint8Array(HMAC_BLOCK);
    block.set(
      key.length > HMAC_BLOCK
        ? digestBytes(hash('sha256', key, 'binary'))
        : key,
    );
    innerPad = new Uint8Array(HMAC_BLOCK + Math.max(message.length, 32));
    for (let i = 0; i < HMAC_BLOCK; i++) {
      innerPad[i] = block[i]! ^ 0x36;
      outerPad[i] = block[i]! ^ 0x5c;
    }
    hmacKey = key;
  }
  innerPad.set(message, HMAC_BLOCK);
  const inner = hash(
    'sha256',
    innerPad.subarray(0, HMAC_BLOCK + message.length),
    'binary',
  );
  for (let i = 0; i < inner.length; i++)
    outerPad[HMAC_BLOCK + i] = inner.charCodeAt(i);
  return hash('sha256', outerPad, 'binary');
}

/** True when the binary string `digest` holds exactly the bytes `bytes[start, end)`. */
export function digestEquals(
  digest: string,
  bytes: Uint8Array,
  start: number,
  end: number,
): boolean {
  if (digest.length !== end - start) return false;
  for (let i = 0; i < digest.length; i++)
    if (digest.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/** The bytes of a binary-string digest, as a Buffer. */
export function digestBytes(digest: string): Uint8Array {
  return Buffer.from(digest, 'binary');
}
