import { describe, expect, it } from '@jest/globals';
import { SortedMap } from '@cim/kernel';
import type { WorkflowRow } from '../src/projection.js';
import { TimerIndex } from '../src/timer-index.js';
import { rowsOf } from './fixtures.js';

const timers = (entries: Record<string, number>) =>
  SortedMap.of(Object.entries(entries));

/** Rows holding only what the index reads: the workflow id and the armed timers. */
const row = (workflowId: string, armed: Record<string, number>) =>
  ({
    workflow: { workflowId },
    timers: timers(armed),
  }) as unknown as WorkflowRow;

const dueAt = (index: TimerIndex, nowMs: number, ...rows: WorkflowRow[]) => [
  ...index.due(rowsOf(...rows), nowMs),
];

describe('TimerIndex', () => {
  it('answers the timers due by a time, earliest first, and none later', () => {
    const index = new TimerIndex();
    index.update('w1', undefined, timers({ a: 300, b: 100 }));
    index.update('w2', undefined, timers({ a: 200, z: 5_000 }));
    expect(dueAt(index, 300)).toEqual([
      ['w1', 'b', 100],
      ['w2', 'a', 200],
      ['w1', 'a', 300],
    ]);
    expect(dueAt(index, 99)).toEqual([]);
    expect(index.size).toBe(4);
  });

  it('follows a fold that fires, moves or adds a timer', () => {
    const index = new TimerIndex();
    const before = timers({ a: 100, b: 200 });
    index.update('w', undefined, before);
    index.update('w', before, timers({ b: 50, c: 400 }));
    expect(dueAt(index, 1_000)).toEqual([
      ['w', 'b', 50],
      ['w', 'c', 400],
    ]);
    expect(index.size).toBe(2);
  });

  it('does nothing for a fold that left the timers as they were', () => {
    const index = new TimerIndex();
    const same = timers({ a: 100 });
    index.update('w', undefined, same);
    index.update('w', same, same);
    expect(dueAt(index, 100)).toEqual([['w', 'a', 100]]);
  });

  it('drops every timer of a row that is gone', () => {
    const index = new TimerIndex();
    const before = timers({ a: 100, b: 200 });
    index.update('w', undefined, before);
    index.update('w', before, undefined);
    expect(dueAt(index, 1_000)).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('reads the rows once, on its first look, and then only follows folds', () => {
    const index = new TimerIndex();
    const loaded = row('w1', { a: 100 });
    // A fold seen before the first look, as while a snapshot's tail is replayed.
    index.update('w2', undefined, timers({ b: 150 }));
    expect(dueAt(index, 1_000, loaded)).toEqual([
      ['w1', 'a', 100],
      ['w2', 'b', 150],
    ]);
    // Rows are not read again: a row that appears without a fold is not seen.
    expect(dueAt(index, 1_000, loaded, row('w3', { c: 10 }))).toEqual([
      ['w1', 'a', 100],
      ['w2', 'b', 150],
    ]);
  });

  it('keeps ids that share a prefix apart, and orders due times of any length', () => {
    const index = new TimerIndex();
    index.update('w', undefined, timers({ a: 9, ab: 10 }));
    index.update('w-a', undefined, timers({ b: 1_700_000_000_000 }));
    expect(dueAt(index, 2_000_000_000_000)).toEqual([
      ['w', 'a', 9],
      ['w', 'ab', 10],
      ['w-a', 'b', 1_700_000_000_000],
    ]);
  });
});
