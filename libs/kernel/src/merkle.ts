import { sha256 } from './sha256.js';

/**
 * The Merkle tree hash of RFC 6962 (Certificate Transparency) over leaves in
 * order: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right);
 * the empty tree hashes to SHA-256(""). Built bottom-up, carrying an odd last
 * node up a level unchanged, which gives the same tree as the RFC's
 * split at the largest power of two.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256();
  let level: Uint8Array[] = leaves.map((leaf) => sha256(LEAF, leaf));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      next.push(sha256(NODE, level[i]!, level[i + 1]!));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
