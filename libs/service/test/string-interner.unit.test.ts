import { randomUUID } from 'node:crypto';
import { deserialize, serialize, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { StringInterner } from '../src/string-interner.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes in use once garbage is collected. */
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A read model as a snapshot holds it: each id in a map, a sorted list and its record. */
function model(ids: readonly string[]) {
  return {
    byKey: new Map(ids.map((id) => [id, { id, kind: 'concept' }])),
    sorted: [...ids].sort(),
    kinds: new Set(ids.map(() => 'concept')),
  };
}

describe('StringInterner', () => {
  it('keeps every value, key, order and shared object of a structured clone', () => {
    const shared = { label: 'shared' };
    const original = {
      list: ['a', 'b', ['a', 1, null, 2n]],
      map: new Map<unknown, unknown>([
        ['k1', shared],
        ['k2', shared],
        [3, 'three'],
      ]),
      set: new Set(['x', 'y']),
      when: new Date(0),
      bytes: new Uint8Array([1, 2]),
      nothing: undefined,
    };
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    const clone = deserialize(serialize({ original, cyclic })) as {
      original: typeof original;
      cyclic: Record<string, unknown>;
    };
    const interned = new StringInterner().internAll(clone);
    expect(interned).toBe(clone);
    expect(interned.original).toEqual(original);
    expect([...interned.original.map.keys()]).toEqual(['k1', 'k2', 3]);
    expect(interned.original.map.get('k1')).toBe(
      interned.original.map.get('k2'),
    );
    expect(interned.cyclic['self']).toBe(interned.cyclic);
    expect(new StringInterner().internAll('plain')).toBe('plain');
  });

  it('gives the copies of a string read back from a snapshot one instance', () => {
    const ids = Array.from({ length: 50_000 }, () => randomUUID());
    const bytes = serialize(model(ids));

    const before = heapUsed();
    const copied = deserialize(bytes) as ReturnType<typeof model>;
    const withCopies = heapUsed() - before;

    const interned = new StringInterner().internAll(
      deserialize(bytes) as ReturnType<typeof model>,
    );
    const withOne = heapUsed() - before - withCopies;

    expect(interned.sorted).toEqual(copied.sorted);
    // Three copies of each id (and of 'concept') become one: a third of the strings' bytes.
    expect(withOne).toBeLessThan(withCopies * 0.75);
  });
});
