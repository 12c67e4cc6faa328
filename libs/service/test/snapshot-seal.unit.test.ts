import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { openSnapshot, sealSnapshot } from '../src/snapshot-seal.js';

describe('snapshot seals', () => {
  const key = createSecretKey(randomBytes(32));
  const older = createSecretKey(randomBytes(32));
  const stranger = createSecretKey(randomBytes(32));
  const bytes = Uint8Array.from(randomBytes(100));

  it('opens what a key of the service sealed, the active one or an older one', () => {
    expect(openSnapshot(sealSnapshot(bytes, key), [key, older])).toEqual(bytes);
    expect(openSnapshot(sealSnapshot(bytes, older), [key, older])).toEqual(
      bytes,
    );
  });

  it('refuses a changed byte, another key, and bytes without a seal', () => {
    const sealed = Buffer.from(sealSnapshot(bytes, key));
    sealed[sealed.length - 1]! ^= 1;
    expect(openSnapshot(sealed, [key])).toBeUndefined();
    expect(openSnapshot(sealSnapshot(bytes, stranger), [key])).toBeUndefined();
    expect(openSnapshot(bytes, [key])).toBeUndefined();
  });

  it('leaves bytes bare without a key, and opens either form unchecked without keys', () => {
    expect(sealSnapshot(bytes, undefined)).toBe(bytes);
    expect(openSnapshot(bytes, undefined)).toBe(bytes);
    expect(openSnapshot(sealSnapshot(bytes, key), undefined)).toEqual(bytes);
  });
});
