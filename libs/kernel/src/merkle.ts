import { hash } from 'node:crypto';
import { digestBytes, sha256Binary, sha256OfBinary } from './sha256.js';

/**
 * The Merkle tree hash of RFC 6962 (Certificate Transparency) over leaves in
 * order: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right);
 * the empty tree hashes to SHA-256(""). Built bottom-up, carrying an odd last
 * node up a level unchanged, which gives the same tree as the RFC's
 * split at the largest power of two.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  const level = leaves.map((leaf) => merkleLeaf(leaf, 0, leaf.length));
  return digestBytes(merkleRootOfLeaves(level, level.length));
}

/** The leaf hash SHA-256(0x00 ‖ bytes[start, end)), as a binary string (char i is byte i). */
export function merkleLeaf(
  bytes: Uint8Array,
  start: number,
  end: number,
): string {
  return sha256Binary(LEAF, 0, 1, bytes, start, end);
}

/**
 * The tree hash over the first `count` leaf hashes of `level` (binary
 * strings from merkleLeaf), as a binary string. Works in place: `level` is
 * overwritten.
 */
export function merkleRootOfLeaves(level: string[], count: number): string {
  if (count === 0) return EMPTY_TREE;
  while (count > 1) {
    // Each pair's parent goes to index i/2, which is already read.
    let next = 0;
    for (let i = 0; i + 1 < count; i += 2)
      level[next++] = sha256OfBinary(NODE, level[i]!, level[i + 1]!);
    if (count % 2 === 1) level[next++] = level[count - 1]!;
    count = next;
  }
  return level[0]!;
}

const LEAF = Uint8Array.of(0);
const NODE = 1;
const EMPTY_TREE = hash('sha256', new Uint8Array(0), 'binary');
