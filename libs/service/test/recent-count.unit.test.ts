import { describe, expect, it } from '@jest/globals';
import { RecentCount } from '../src/recent-count.js';

describe('RecentCount', () => {
  it('counts what was added within the window and forgets what is older', () => {
    let now = 1_000_000;
    const count = new RecentCount(10_000, () => now);
    expect(count.total()).toBe(0);
    count.add();
    count.add();
    now += 4_000;
    count.add();
    expect(count.total()).toBe(3);
    // Ten whole seconds after the first two, they may still count (never fewer); at eleven they are gone.
    now += 6_000;
    expect(count.total()).toBe(3);
    now += 1_000;
    expect(count.total()).toBe(1);
    now += 5_000;
    expect(count.total()).toBe(0);
  });

  it('starts over after a gap longer than the window', () => {
    let now = 5_000;
    const count = new RecentCount(3_000, () => now);
    for (let i = 0; i < 5; i++) count.add();
    now += 60_000;
    expect(count.total()).toBe(0);
    count.add();
    expect(count.total()).toBe(1);
  });

  it('keeps counting when the clock steps back', () => {
    let now = 100_000;
    const count = new RecentCount(5_000, () => now);
    count.add();
    now -= 30_000;
    count.add();
    expect(count.total()).toBe(2);
  });

  it('never counts fewer than a plain list of what was added within the window', () => {
    let now = 0;
    const windowMs = 7_000;
    const count = new RecentCount(windowMs, () => now);
    const times: number[] = [];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let step = 0; step < 5_000; step++) {
      now += Math.floor(random() * 900);
      if (random() < 0.6) {
        count.add();
        times.push(now);
      }
      const exact = times.filter((t) => t > now - windowMs).length;
      const counted = count.total();
      expect(counted).toBeGreaterThanOrEqual(exact);
      // ... and at most what fell within one more second.
      expect(counted).toBeLessThanOrEqual(
        times.filter((t) => t > now - windowMs - 1_000).length,
      );
    }
  });
});
