import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import { SortedIndex, lowerBound, upperBound } from '@cim/kernel';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const byKey = ([x]: [string, unknown], [y]: [string, unknown]): number =>
  x < y ? -1 : x > y ? 1 : 0;

function sorted<V>(model: Map<string, V>): [string, V][] {
  return [...model].sort(byKey);
}

/** Checks every read of `index` against a Map kept as the model. */
function expectLike<V>(index: SortedIndex<V>, model: Map<string, V>): void {
  const expected = sorted(model);
  expect(index.size).toBe(model.size);
  expect([...index]).toEqual(expected);
  for (const [key, value] of expected) {
    expect(index.get(key)).toBe(value);
    expect(index.has(key)).toBe(true);
  }
}

describe('lowerBound and upperBound', () => {
  const keys = ['a', 'b', 'b', 'd'];

  it.each([
    ['', 0, 0],
    ['a', 0, 1],
    ['b', 1, 3],
    ['c', 3, 3],
    ['d', 3, 4],
    ['e', 4, 4],
  ])('positions %j at %i (lower) and %i (upper)', (key, lower, upper) => {
    expect(lowerBound(keys, key)).toBe(lower);
    expect(upperBound(keys, key)).toBe(upper);
  });

  it('answers 0 for an empty list', () => {
    expect(lowerBound([], 'a')).toBe(0);
    expect(upperBound([], 'a')).toBe(0);
  });
});

describe('SortedIndex', () => {
  it('behaves like a Map kept in key order under random sets and deletes', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const index = SortedIndex.empty<number>();
      const model = new Map<string, number>();
      // Few distinct keys make hits, repeats and emptied chunks common; thousands of operations split chunks.
      const distinct = seed * 400;
      for (let op = 0; op < 6000; op++) {
        const key = `k${Math.floor(next() * distinct)}`;
        if (next() < 0.6) {
          index.set(key, op);
          model.set(key, op);
        } else {
          expect(index.delete(key)).toBe(model.delete(key));
        }
        if (op % 1500 === 0) expectLike(index, model);
      }
      expectLike(index, model);
      expect(index.has('absent')).toBe(false);
      expect(index.get('absent')).toBeUndefined();
    }
  });

  it('iterates after any key, present or not, in order', () => {
    const index = SortedIndex.empty<number>();
    const model = new Map<string, number>();
    for (let i = 0; i < 2000; i += 2) {
      const key = String(i).padStart(5, '0');
      index.set(key, i);
      model.set(key, i);
    }
    const expected = sorted(model);
    for (const after of [
      '',
      '00000',
      '00001',
      '00511',
      '00512',
      '01998',
      '01999',
      '~',
    ]) {
      expect([...index.entries(after)]).toEqual(
        expected.filter(([key]) => key > after),
      );
    }
    expect([...index.keys('01990')]).toEqual([
      '01992',
      '01994',
      '01996',
      '01998',
    ]);
    expect([...index.values('01994')]).toEqual([1996, 1998]);
  });

  it('appends ever larger keys, as time-ordered ids arrive, and keeps them in order', () => {
    const index = SortedIndex.empty<number>();
    const keys: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const key = `id-${String(i).padStart(6, '0')}`;
      keys.push(key);
      index.set(key, i);
    }
    expect([...index.keys()]).toEqual(keys);
    expect(index.size).toBe(5000);
  });

  it('rebinds a present key without moving it', () => {
    const index = SortedIndex.empty<number>();
    index.set('b', 1);
    index.set('a', 2);
    index.set('b', 3);
    index.set('a', 4);
    expect([...index]).toEqual([
      ['a', 4],
      ['b', 3],
    ]);
  });

  it('survives a structured clone, reviving its values when asked', () => {
    const index = SortedIndex.empty<{ n: number }>();
    for (let i = 0; i < 1000; i++) index.set(`k${i}`, { n: i });
    const plain = SortedIndex.revive<{ n: number }>(
      deserialize(serialize(index)),
    );
    expect([...plain]).toEqual([...index]);
    const doubled = SortedIndex.revive<{ n: number }>(
      deserialize(serialize(index)),
      ({ n }) => ({ n: n * 2 }),
    );
    expect(doubled.get('k7')).toEqual({ n: 14 });
    // A revived index is an index again: it takes changes and keeps its order.
    doubled.set('k0a', { n: -1 });
    doubled.delete('k1');
    expect([...doubled.keys()].slice(0, 3)).toEqual(['k0', 'k0a', 'k10']);
  });
});
