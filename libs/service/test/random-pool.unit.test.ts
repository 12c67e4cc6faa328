import { describe, expect, it } from '@jest/globals';
import { RandomPool } from '../src/random-pool.js';

describe('RandomPool', () => {
  it('draws bytes that do not repeat, across refills of the block', () => {
    const pool = new RandomPool(64);
    const seen = new Set<string>();
    // 100 draws of 12 bytes from a 64-byte block: about 20 refills.
    for (let i = 0; i < 100; i++) seen.add(pool.view(12).toString('hex'));
    expect(seen.size).toBe(100);
  });

  it('gives bytes of their own that later draws leave alone', () => {
    const pool = new RandomPool(32);
    const kept = pool.bytes(32);
    const copy = Buffer.from(kept);
    pool.view(32); // refills the block the first draw came from
    expect(kept.equals(copy)).toBe(true);
    expect(kept).toHaveLength(32);
  });

  it('refuses a draw larger than its block', () => {
    expect(() => new RandomPool(16).view(17)).toThrow(RangeError);
  });
});
