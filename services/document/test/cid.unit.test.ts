import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  Multicodec,
  cidBytes,
  decodeBase32,
  decodeVarint,
  encodeBase32,
  encodeVarint,
  formatCid,
  isContentCid,
  parseCid,
  rawSha256Cid,
} from '../src/domain/cid.js';

const sha256 = (bytes: string | Uint8Array): Uint8Array =>
  createHash('sha256').update(bytes).digest();

/** Base32 the slow, obvious way: bytes → bit string → 5-bit groups, zero-padded. */
function referenceBase32(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  const padded = bits.padEnd(Math.ceil(bits.length / 5) * 5, '0');
  let out = '';
  for (let i = 0; i < padded.length; i += 5) {
    out += 'abcdefghijklmnopqrstuvwxyz234567'[
      parseInt(padded.slice(i, i + 5), 2)
    ];
  }
  return out;
}

describe('CID encoding', () => {
  describe('known vectors', () => {
    it('gives the well-known CID of "hello world" under raw + sha2-256', () => {
      expect(rawSha256Cid(sha256('hello world'))).toBe(
        'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e',
      );
    });
    it('gives the well-known CID of the empty string under raw + sha2-256', () => {
      expect(rawSha256Cid(sha256(''))).toBe(
        'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
      );
    });
    it('lays out version, codec and multihash as in the CID spec', () => {
      const digest = sha256('hello world');
      expect([
        ...cidBytes(Multicodec.raw, Multicodec.sha2_256, digest).slice(0, 4),
      ]).toEqual([0x01, 0x55, 0x12, 0x20]);
    });
    it('encodes the RFC 4648 test vectors (lower case, unpadded)', () => {
      const vectors: Array<[string, string]> = [
        ['', ''],
        ['f', 'my'],
        ['fo', 'mzxq'],
        ['foo', 'mzxw6'],
        ['foob', 'mzxw6yq'],
        ['fooba', 'mzxw6ytb'],
        ['foobar', 'mzxw6ytboi'],
      ];
      for (const [text, encoded] of vectors) {
        expect(encodeBase32(Buffer.from(text))).toBe(encoded);
        expect(Buffer.from(decodeBase32(encoded)!).toString()).toBe(text);
      }
    });
    it('encodes multiformats varints', () => {
      expect(encodeVarint(1)).toEqual([0x01]);
      expect(encodeVarint(127)).toEqual([0x7f]);
      expect(encodeVarint(128)).toEqual([0x80, 0x01]);
      expect(encodeVarint(300)).toEqual([0xac, 0x02]);
      expect(encodeVarint(0x0129)).toEqual([0xa9, 0x02]);
      expect(() => encodeVarint(-1)).toThrow(RangeError);
    });
    it('parses a dag-json CID', () => {
      const cid = formatCid(
        Multicodec.dagJson,
        Multicodec.sha2_256,
        sha256('{}'),
      );
      expect(parseCid(cid)).toMatchObject({ codec: Multicodec.dagJson });
      expect(isContentCid(cid)).toBe(false);
    });
  });

  describe('what it refuses', () => {
    const valid = rawSha256Cid(sha256('x'));
    it.each([
      ['a CIDv0', 'QmYjtig7VJQ6XsnUjqqJvj7QaMcCAwtrgNdahSiFofrE7o'],
      ['upper-case base32', `B${valid.slice(1).toUpperCase()}`],
      ['another multibase', `z${valid.slice(1)}`],
      ['a truncated CID', valid.slice(0, -2)],
      ['trailing bytes', `${valid}aa`],
      ['padding', `${valid}=`],
      ['an empty string', ''],
      ['the prefix alone', 'b'],
    ])('refuses %s', (_case, text) => {
      expect(isContentCid(text)).toBe(false);
    });
    it('refuses a non-minimal varint', () => {
      expect(decodeVarint(Uint8Array.of(0x81, 0x00), 0)).toBeUndefined();
    });
    it('refuses non-zero trailing bits', () => {
      expect(decodeBase32('mzxw7')).toBeUndefined();
    });
  });

  describe('properties', () => {
    it('matches the reference base32 and decodes back', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
          const text = encodeBase32(bytes);
          expect(text).toBe(referenceBase32(bytes));
          expect(decodeBase32(text)).toEqual(bytes);
        }),
      );
    });
    it('round-trips varints through their shortest encoding', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n) => {
          const bytes = Uint8Array.from(encodeVarint(n));
          expect(decodeVarint(bytes, 0)).toEqual({
            value: n,
            next: bytes.length,
          });
          expect(bytes.length).toBe(
            Math.max(1, Math.ceil(Math.log2(n + 1) / 7)),
          );
        }),
      );
    });
    it('parses what it formats, for any codec, hash and digest', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 20 }),
          fc.integer({ min: 0, max: 2 ** 20 }),
          fc.uint8Array({ maxLength: 64 }),
          (codec, hashCode, digest) => {
            expect(parseCid(formatCid(codec, hashCode, digest))).toEqual({
              codec,
              hashCode,
              digest,
            });
          },
        ),
      );
    });
    it('gives every CID one spelling: whatever parses formats back to itself', () => {
      const base32 = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567');
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.nat({ max: 58 }),
          base32,
          (digest, at, replacement) => {
            const cid = rawSha256Cid(digest);
            const mutated =
              cid.slice(0, at + 1) + replacement + cid.slice(at + 2);
            const parsed = parseCid(mutated);
            if (parsed !== undefined) {
              expect(
                formatCid(parsed.codec, parsed.hashCode, parsed.digest),
              ).toBe(mutated);
            }
          },
        ),
      );
    });
    it('gives distinct contents distinct CIDs', () => {
      fc.assert(
        fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => {
          fc.pre(Buffer.compare(a, b) !== 0);
          expect(rawSha256Cid(sha256(a))).not.toBe(rawSha256Cid(sha256(b)));
        }),
      );
    });
  });
});
