import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { isUuid, uuidv7, uuidv7Time } from '@cim/kernel';

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

/** The 128 bits of a hyphenated UUID as a hex string of 32 digits. */
const hexOf = (id: string): string => id.replaceAll('-', '');

describe('uuidv7', () => {
  describe('when given a time', () => {
    it('sets the version nibble to 7', () => {
      for (let i = 0; i < 1000; i++) expect(uuidv7(NOW)[14]).toBe('7');
    });

    it('sets the RFC 9562 variant bits to 10', () => {
      for (let i = 0; i < 1000; i++) {
        const variant = Number.parseInt(uuidv7(NOW)[19]!, 16);
        expect(variant >> 2).toBe(0b10);
      }
    });

    it('writes the time as the first 48 bits, big-endian', () => {
      expect(hexOf(uuidv7(NOW)).slice(0, 12)).toBe(
        NOW.toString(16).padStart(12, '0'),
      );
    });

    it('writes time 0 as twelve zero digits', () => {
      expect(uuidv7(0).startsWith('00000000-0000-7')).toBe(true);
    });

    it('keeps every bit of the largest 48-bit time', () => {
      const max = 2 ** 48 - 1;
      expect(uuidv7(max).startsWith('ffffffff-ffff-7')).toBe(true);
      expect(uuidv7Time(uuidv7(max))).toBe(max);
    });

    it('carries the time across the 32-bit boundary', () => {
      for (const now of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 255]) {
        expect(uuidv7Time(uuidv7(now))).toBe(now);
      }
    });

    it('is a lower-case hyphenated UUID', () => {
      expect(isUuid(uuidv7(NOW))).toBe(true);
    });
  });

  describe('when called without a time', () => {
    it('uses the clock', () => {
      const before = Date.now();
      const time = uuidv7Time(uuidv7());
      const after = Date.now();
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
    });
  });

  describe('when ids are made in later milliseconds', () => {
    it('sorts them as strings in creation order', () => {
      const ids: string[] = [];
      for (let ms = 0; ms < 2000; ms++) ids.push(uuidv7(NOW + ms * 37));
      expect([...ids].sort()).toEqual(ids);
    });

    it('keeps the order across byte carries in the time', () => {
      const ids = [0xff, 0xffff, 2 ** 32 - 1]
        .flatMap((base) => [base, base + 1])
        .map((now) => uuidv7(2 ** 40 + now));
      expect([...ids].sort()).toEqual(ids);
    });
  });

  describe('when many ids share one millisecond', () => {
    it('makes 100 000 distinct ids', () => {
      const ids = new Set<string>();
      for (let i = 0; i < 100_000; i++) ids.add(uuidv7(NOW));
      expect(ids.size).toBe(100_000);
    });
  });
});

describe('uuidv7Time', () => {
  describe('when given a UUIDv7', () => {
    it('returns the milliseconds it was made with', () => {
      for (const now of [0, 1, NOW, NOW + 1, 2 ** 47]) {
        expect(uuidv7Time(uuidv7(now))).toBe(now);
      }
    });
  });
});

describe('isUuid', () => {
  describe('when the value is a UUID', () => {
    it('accepts a UUIDv7', () => {
      expect(isUuid('01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b')).toBe(true);
    });

    it('accepts a UUID of another version', () => {
      expect(isUuid(randomUUID())).toBe(true);
    });
  });

  describe('when the value is not a lower-case hyphenated UUID', () => {
    it.each([
      ['empty', ''],
      ['upper case', '01941B2C-3D4E-7F00-8A1B-2C3D4E5F6A7B'],
      ['without hyphens', '01941b2c3d4e7f008a1b2c3d4e5f6a7b'],
      ['in braces', '{01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b}'],
      ['one digit short', '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7'],
      ['one digit long', '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b0'],
      ['with a non-hex digit', '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7g'],
      ['with surrounding space', ' 01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b'],
      ['with a trailing newline', '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b\n'],
    ])('rejects %s', (_label, value) => {
      expect(isUuid(value)).toBe(false);
    });
  });
});
