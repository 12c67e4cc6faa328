import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Marks a sealed snapshot: these bytes, then HMAC-SHA256 of the rest under a mac key, then the serialised snapshot. */
const SEALED = Buffer.from('cim-snapshot-hmac-sha256:');
const SEAL_BYTES = SEALED.length + 32;

function mac(key: KeyObject, bytes: Uint8Array): Buffer {
  return createHmac('sha256', key).update(bytes).digest();
}

/**
 * Seals serialised snapshot bytes with `key` (the service's active mac key),
 * so that a snapshot changed in its KV bucket, which sits outside the hash
 * chain, is refused instead of believed. Without a key (integrity off) the
 * bytes stay bare.
 */
export function sealSnapshot(
  bytes: Uint8Array,
  key: KeyObject | undefined,
): Uint8Array {
  if (key === undefined) return bytes;
  return Buffer.concat([SEALED, mac(key, bytes), bytes]);
}

/**
 * The serialised snapshot inside stored bytes; undefined when `keys` are
 * given and none of them made its seal (or it has none). Without keys a seal
 * is skipped unchecked.
 */
export function openSnapshot(
  stored: Uint8Array,
  keys: readonly KeyObject[] | undefined,
): Uint8Array | undefined {
  const sealed =
    stored.length >= SEAL_BYTES &&
    SEALED.equals(stored.subarray(0, SEALED.length));
  if (keys === undefined) return sealed ? stored.subarray(SEAL_BYTES) : stored;
  if (!sealed) return undefined;
  const seal = stored.subarray(SEALED.length, SEAL_BYTES);
  const bytes = stored.subarray(SEAL_BYTES);
  return keys.some((key) => timingSafeEqual(mac(key, bytes), seal))
    ? bytes
    : undefined;
}
