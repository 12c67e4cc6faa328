import { describe, expect, it } from '@jest/globals';
import { FailureSpell } from '../src/failure-spell.js';

describe('FailureSpell', () => {
  it('logs the first failure of a spell, then a reminder per interval, and ends with its length', () => {
    let now = 5_000;
    const spell = new FailureSpell(60_000, () => now);
    expect(spell.succeeded()).toBeUndefined();
    expect(spell.failed()).toEqual({ log: true, lastedMs: 0, failures: 1 });
    expect(spell.ongoing).toBe(true);
    now += 1_000;
    expect(spell.failed()).toEqual({
      log: false,
      lastedMs: 1_000,
      failures: 2,
    });
    now += 58_999;
    expect(spell.failed().log).toBe(false);
    now += 1;
    expect(spell.failed()).toEqual({
      log: true,
      lastedMs: 60_000,
      failures: 4,
    });
    now += 500;
    expect(spell.succeeded()).toEqual({ lastedMs: 60_500, failures: 4 });
    expect(spell.ongoing).toBe(false);
    expect(spell.succeeded()).toBeUndefined();
    // A new spell starts afresh, and is logged at once.
    now += 10;
    expect(spell.failed()).toEqual({ log: true, lastedMs: 0, failures: 1 });
  });
});
