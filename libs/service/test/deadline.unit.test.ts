import { performance } from 'node:perf_hooks';
import { describe, expect, it } from '@jest/globals';
import { UnavailableError } from '@cim/messaging';
import { boundByDeadline } from '../src/deadline.js';

describe('boundByDeadline', () => {
  it('keeps the bound when the caller gave no time', () => {
    expect(boundByDeadline(5000, undefined)).toBe(5000);
  });

  it('keeps the bound when the caller waits longer', () => {
    expect(boundByDeadline(5000, performance.now() + 60_000)).toBe(5000);
  });

  it('waits only as long as the caller when that is sooner', () => {
    const left = boundByDeadline(5000, performance.now() + 1000);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1000);
  });

  it('answers UNAVAILABLE once the caller has stopped waiting', () => {
    let thrown: unknown;
    try {
      boundByDeadline(5000, performance.now() - 1);
    } catch (error) {
      thrown = error;
    }
    expect(UnavailableError.is(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      "the caller's time ran out while the command was being prepared; nothing was applied",
    );
  });
});
