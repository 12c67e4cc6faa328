import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  digestBytes,
  digestEquals,
  hmacSha256Binary,
  sha256,
  sha256Binary,
  sha256OfBinary,
} from '../src/sha256.js';

const reference = (...parts: readonly Uint8Array[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};
const hex = (digest: string): string =>
  Buffer.from(digest, 'latin1').toString('hex');
const bytes = (length: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) & 0xff);

describe('sha256', () => {
  it('hashes the concatenation of its parts', () => {
    const a = bytes(40);
    const b = bytes(300, 2);
    expect(Buffer.from(sha256(a, b)).toString('hex')).toBe(reference(a, b));
    expect(Buffer.from(sha256()).toString('hex')).toBe(reference());
  });

  it('returns a Buffer of 32 bytes', () => {
    const digest = sha256(bytes(10));
    expect(Buffer.isBuffer(digest)).toBe(true);
    expect(digest).toHaveLength(32);
  });

  it('stays right across inputs larger than its buffer', () => {
    for (const length of [100, 4096, 4097, 10_000, 100, 70_000, 33]) {
      const input = bytes(length, length);
      expect({
        length,
        hash: Buffer.from(sha256(input)).toString('hex'),
      }).toEqual({
        length,
        hash: reference(input),
      });
    }
  });
});

describe('sha256Binary', () => {
  it('hashes a[aStart, aEnd) ‖ b[bStart, bEnd) for every split of short and long inputs', () => {
    const a = bytes(200, 3);
    const b = bytes(9000, 4);
    for (const [aStart, aEnd] of [
      [0, 0],
      [0, 1],
      [5, 37],
      [0, 64],
      [3, 68],
      [0, 200],
    ] as const) {
      for (const [bStart, bEnd] of [
        [0, 0],
        [7, 40],
        [1, 65],
        [100, 500],
        [0, 4100],
        [10, 9000],
      ] as const) {
        expect(hex(sha256Binary(a, aStart, aEnd, b, bStart, bEnd))).toBe(
          reference(a.subarray(aStart, aEnd), b.subarray(bStart, bEnd)),
        );
      }
    }
  });

  it('reads views at an offset in their buffer', () => {
    const backing = bytes(1000, 5);
    const view = new Uint8Array(backing.buffer, 123, 500);
    const pooled = Buffer.from(bytes(300, 6));
    expect(hex(sha256Binary(view, 10, 30, view, 50, 450))).toBe(
      reference(view.subarray(10, 30), view.subarray(50, 450)),
    );
    expect(hex(sha256Binary(pooled, 0, 32, pooled, 0, 300))).toBe(
      reference(pooled.subarray(0, 32), pooled),
    );
  });

  it('returns one char per digest byte', () => {
    const digest = sha256Binary(bytes(1), 0, 1, bytes(1), 0, 0);
    expect(digest).toHaveLength(32);
    expect(Buffer.from(digestBytes(digest)).toString('hex')).toBe(
      reference(bytes(1)),
    );
  });
});

describe('sha256OfBinary', () => {
  it('hashes a prefix byte and two binary strings as bytes', () => {
    const left = sha256Binary(bytes(5), 0, 5, bytes(0), 0, 0);
    const right = sha256Binary(bytes(9), 0, 9, bytes(0), 0, 0);
    expect(hex(sha256OfBinary(1, left, right))).toBe(
      reference(
        Uint8Array.of(1),
        Buffer.from(left, 'latin1'),
        Buffer.from(right, 'latin1'),
      ),
    );
  });
});

describe('digestEquals', () => {
  const digest = sha256Binary(bytes(3), 0, 3, bytes(0), 0, 0);
  const stored = new Uint8Array(40);
  stored.set(Buffer.from(digest, 'latin1'), 4);

  it('is true for the same bytes at the given range', () => {
    expect(digestEquals(digest, stored, 4, 36)).toBe(true);
  });

  it('is false when any byte differs', () => {
    for (let i = 4; i < 36; i++) {
      const changed = Uint8Array.from(stored);
      changed[i] = changed[i]! ^ 0x80;
      expect({ i, equal: digestEquals(digest, changed, 4, 36) }).toEqual({
        i,
        equal: false,
      });
    }
  });

  it('is false when the lengths differ', () => {
    expect(digestEquals(digest, stored, 4, 35)).toBe(false);
    expect(digestEquals(digest, stored, 4, 37)).toBe(false);
  });
});

describe('hmacSha256Binary', () => {
  it('equals createHmac for keys shorter than, equal to and longer than a block, and any message', () => {
    const keys = [
      bytes(0),
      bytes(32, 3),
      bytes(64, 4),
      bytes(65, 5),
      bytes(200, 6),
    ];
    const messages = [
      bytes(0),
      bytes(32, 7),
      bytes(31, 8),
      bytes(500, 9),
      bytes(32, 10),
    ];
    // Alternating keys and lengths: the pads kept from the previous call must never leak into the next.
    for (const key of keys) {
      for (const message of messages) {
        expect(hex(hmacSha256Binary(key, message))).toBe(
          createHmac('sha256', key).update(message).digest('hex'),
        );
      }
    }
  });
});
