import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { merkleRoot } from '@cim/kernel';
import { merkleLeaf, merkleRootOfLeaves } from '../src/merkle.js';

/** RFC 6962 §2.1 as written: MTH(D[n]) splits at the largest power of two smaller than n. */
function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  const h = (...parts: Uint8Array[]) => {
    const hash = createHash('sha256');
    for (const p of parts) hash.update(p);
    return new Uint8Array(hash.digest());
  };
  if (leaves.length === 0) return h();
  if (leaves.length === 1) return h(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return h(
    Uint8Array.of(1),
    referenceRoot(leaves.slice(0, k)),
    referenceRoot(leaves.slice(k)),
  );
}

describe('merkleRoot', () => {
  it('equals the RFC 6962 tree hash for every size up to 70 leaves', () => {
    const leaves = Array.from(
      { length: 70 },
      (_, i) =>
        new Uint8Array(createHash('sha256').update(`leaf ${i}`).digest()),
    );
    for (let n = 0; n <= leaves.length; n++) {
      expect(Buffer.from(merkleRoot(leaves.slice(0, n))).toString('hex')).toBe(
        Buffer.from(referenceRoot(leaves.slice(0, n))).toString('hex'),
      );
    }
  });

  it('changes when any leaf changes or leaves swap places', () => {
    const leaves = Array.from({ length: 9 }, (_, i) => Uint8Array.of(i));
    const root = Buffer.from(merkleRoot(leaves)).toString('hex');
    const swapped = [leaves[1]!, leaves[0]!, ...leaves.slice(2)];
    expect(Buffer.from(merkleRoot(swapped)).toString('hex')).not.toBe(root);
    const edited = [...leaves.slice(0, 8), Uint8Array.of(99)];
    expect(Buffer.from(merkleRoot(edited)).toString('hex')).not.toBe(root);
  });
});

describe('merkleRootOfLeaves', () => {
  const hashes = Array.from(
    { length: 70 },
    (_, i) => new Uint8Array(createHash('sha256').update(`leaf ${i}`).digest()),
  );
  // The leaves side by side in one buffer, as a verifier finds them in stored bytes.
  const packed = new Uint8Array(8 + 32 * hashes.length);
  hashes.forEach((h, i) => packed.set(h, 8 + 32 * i));

  it('equals the RFC 6962 tree hash for every size up to 70 leaves, from leaf hashes read in place', () => {
    for (let n = 0; n <= hashes.length; n++) {
      const level = Array.from({ length: n }, (_, i) =>
        merkleLeaf(packed, 8 + 32 * i, 8 + 32 * (i + 1)),
      );
      expect({
        n,
        root: Buffer.from(merkleRootOfLeaves(level, n), 'latin1').toString(
          'hex',
        ),
      }).toEqual({
        n,
        root: Buffer.from(referenceRoot(hashes.slice(0, n))).toString('hex'),
      });
    }
  });

  it('uses only the first `count` leaves of the array', () => {
    const level = hashes.map((h) => merkleLeaf(h, 0, 32));
    expect(
      Buffer.from(merkleRootOfLeaves(level, 5), 'latin1').toString('hex'),
    ).toBe(Buffer.from(referenceRoot(hashes.slice(0, 5))).toString('hex'));
  });
});
