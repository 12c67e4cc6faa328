import { describe, expect, it } from '@jest/globals';
import { FailureSpell, OccasionalLog } from '../src/failure-spell.js';

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
    now += 250;
    expect(spell.lastedMs).toBe(1_250);
    now -= 250;
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
    expect(spell.lastedMs).toBe(0);
    expect(spell.succeeded()).toBeUndefined();
    // A new spell starts afresh, and is logged at once.
    now += 10;
    expect(spell.failed()).toEqual({ log: true, lastedMs: 0, failures: 1 });
  });
});

describe('OccasionalLog', () => {
  it('logs the first occurrence, then once per interval with the count since the last line', () => {
    let now = 0;
    const log = new OccasionalLog(60_000, () => now);
    expect(log.happened()).toBe(1);
    for (let i = 0; i < 500; i++) expect(log.happened()).toBeUndefined();
    now += 59_999;
    expect(log.happened()).toBeUndefined();
    now += 1;
    expect(log.happened()).toBe(502);
    now += 120_000;
    expect(log.happened()).toBe(1);
  });
});
