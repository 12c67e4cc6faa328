import { describe, expect, it } from '@jest/globals';
import { outdatedMirror } from '../src/mirror.js';

describe('outdatedMirror', () => {
  it('holds a change back only when both versions are known and it is not newer', () => {
    expect(outdatedMirror(3n, 3n)).toBe(true);
    expect(outdatedMirror(2n, 3n)).toBe(true);
    expect(outdatedMirror(4n, 3n)).toBe(false);
    expect(outdatedMirror(undefined, 3n)).toBe(false);
    expect(outdatedMirror(1n, undefined)).toBe(false);
  });
});
