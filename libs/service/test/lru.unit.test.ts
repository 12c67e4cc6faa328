import { describe, expect, it } from '@jest/globals';
import { Lru } from '../src/lru.js';

const keysOf = (lru: Lru<string, number>, keys: readonly string[]) =>
  keys.filter((k) => lru.get(k) !== undefined);

describe('Lru', () => {
  describe('when filled up to its capacity', () => {
    it('keeps every entry', () => {
      const lru = new Lru<string, number>(3);
      lru.set('a', 1);
      lru.set('b', 2);
      lru.set('c', 3);
      expect(lru.size).toBe(3);
      expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual([1, 2, 3]);
    });
  });

  describe('when filled past its capacity', () => {
    it('forgets the least recently set entry', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      lru.set('c', 3);
      expect(lru.size).toBe(2);
      expect(lru.get('a')).toBeUndefined();
      expect(keysOf(lru, ['b', 'c'])).toEqual(['b', 'c']);
    });

    it('keeps an entry that a read refreshed', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      expect(lru.get('a')).toBe(1);
      lru.set('c', 3);
      expect(lru.get('b')).toBeUndefined();
      expect(lru.get('a')).toBe(1);
      expect(lru.get('c')).toBe(3);
    });

    it('keeps an entry that was set again, with the new value', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      lru.set('a', 10);
      lru.set('c', 3);
      expect(lru.get('b')).toBeUndefined();
      expect(lru.get('a')).toBe(10);
      expect(lru.size).toBe(2);
    });

    it('does not refresh an entry on a miss', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      expect(lru.get('zz')).toBeUndefined();
      lru.set('c', 3);
      expect(lru.get('a')).toBeUndefined();
    });

    it('stays at its capacity over many inserts', () => {
      const lru = new Lru<string, number>(100);
      for (let i = 0; i < 10_000; i++) lru.set(`k${i}`, i);
      expect(lru.size).toBe(100);
      expect(lru.get('k9899')).toBeUndefined();
      expect(lru.get('k9900')).toBe(9900);
      expect(lru.get('k9999')).toBe(9999);
    });
  });

  describe('when canEvict refuses entries in use', () => {
    it('keeps them past the bound and evicts the next evictable one', () => {
      const inUse = new Set(['a']);
      const lru = new Lru<string, string>(2, (v) => !inUse.has(v));
      lru.set('a', 'a');
      lru.set('b', 'b');
      lru.set('c', 'c');
      expect(lru.get('a')).toBe('a');
      expect(lru.get('b')).toBeUndefined();
      expect(lru.size).toBe(2);
    });

    it('grows while nothing may go, then shrinks back once entries are released', () => {
      const inUse = new Set(['a', 'b', 'c']);
      const lru = new Lru<string, string>(2, (v) => !inUse.has(v));
      lru.set('a', 'a');
      lru.set('b', 'b');
      lru.set('c', 'c');
      expect(lru.size).toBe(3);
      inUse.clear();
      lru.set('d', 'd');
      expect(lru.size).toBe(2);
      expect(lru.get('c')).toBe('c');
      expect(lru.get('d')).toBe('d');
    });
  });

  describe('when entries are removed', () => {
    it('deletes one entry', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      lru.delete('a');
      expect(lru.get('a')).toBeUndefined();
      expect(lru.size).toBe(1);
      lru.delete('missing');
      expect(lru.size).toBe(1);
    });

    it('clears everything', () => {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      lru.clear();
      expect(lru.size).toBe(0);
      expect(lru.get('b')).toBeUndefined();
    });
  });
});

describe('Lru with weights', () => {
  const weighed = (
    max: number,
    canEvict: (v: number) => boolean = () => true,
  ) => new Lru<string, number>(100, canEvict, { max, weigh: (v) => v });

  it('forgets the least recently used entries once their summed weight passes the bound', () => {
    const lru = weighed(10);
    lru.set('a', 4);
    lru.set('b', 4);
    expect(lru.weight).toBe(8);
    lru.set('c', 4);
    expect(keysOf(lru, ['a', 'b', 'c'])).toEqual(['b', 'c']);
    expect(lru.weight).toBe(8);
  });

  it('weighs an entry again after its value changed in place', () => {
    const values = new Map([
      ['a', { w: 1 }],
      ['b', { w: 1 }],
    ]);
    const lru = new Lru<string, { w: number }>(100, () => true, {
      max: 10,
      weigh: (v) => v.w,
    });
    lru.set('a', values.get('a')!);
    lru.set('b', values.get('b')!);
    values.get('b')!.w = 9.5;
    lru.reweigh('b');
    // 10.5 > 10: the older entry goes.
    expect(lru.get('a')).toBeUndefined();
    expect(lru.weight).toBe(9.5);
  });

  it('keeps an entry that cannot be evicted, past the bound, and forgets others', () => {
    const lru = weighed(10, (v) => v !== 20);
    lru.set('small', 1);
    lru.set('busy', 20);
    expect(lru.get('small')).toBeUndefined();
    expect(lru.get('busy')).toBe(20);
    expect(lru.weight).toBe(20);
  });

  it('counts what set again, delete and clear take away', () => {
    const lru = weighed(100);
    lru.set('a', 5);
    lru.set('a', 7);
    lru.set('b', 3);
    expect(lru.weight).toBe(10);
    lru.delete('a');
    expect(lru.weight).toBe(3);
    lru.clear();
    expect(lru.weight).toBe(0);
  });

  it('still bounds the number of entries', () => {
    const lru = new Lru<string, number>(2, () => true, {
      max: 1_000,
      weigh: () => 1,
    });
    lru.set('a', 1);
    lru.set('b', 1);
    lru.set('c', 1);
    expect(lru.size).toBe(2);
    expect(lru.weight).toBe(2);
  });
});
