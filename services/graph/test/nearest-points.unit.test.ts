import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  euclidean,
  nearestPoints,
  type PointEntry,
} from '../src/nearest-points.js';

/** The answer by sorting every candidate: the reference the heap must match. */
function bruteForce(
  candidates: readonly PointEntry[],
  target: readonly number[],
  k: number,
  threshold: number | undefined,
  exclude: string | undefined,
) {
  const all = candidates
    .filter((c) => c.id !== exclude && c.point.length === target.length)
    .map((c) => ({ id: c.id, distance: euclidean(c.point, target) }))
    .filter((m) => threshold === undefined || m.distance <= threshold)
    .sort((x, y) => x.distance - y.distance || (x.id < y.id ? -1 : 1));
  return { matches: all.slice(0, k), truncated: all.length > k };
}

const coordinate = fc.integer({ min: -5, max: 5 }); // small ints: many ties
const point = (dimension: number) =>
  fc.array(coordinate, { minLength: dimension, maxLength: dimension });

describe('nearestPoints', () => {
  it('finds the k nearest, nearest first and ties by id', () => {
    const candidates: PointEntry[] = [
      { id: 'far', point: [10, 0] },
      { id: 'b', point: [1, 0] },
      { id: 'a', point: [0, 1] },
      { id: 'self', point: [0, 0] },
      { id: 'flat', point: [0] },
    ];
    expect(
      nearestPoints(candidates, { target: [0, 0], k: 2, exclude: 'self' }),
    ).toEqual({
      matches: [
        { id: 'a', distance: 1 },
        { id: 'b', distance: 1 },
      ],
      truncated: true,
    });
  });

  it('keeps only points within the threshold, inclusive', () => {
    const candidates: PointEntry[] = [
      { id: 'x', point: [3, 4] },
      { id: 'y', point: [3, 4.0001] },
    ];
    expect(
      nearestPoints(candidates, { target: [0, 0], k: 10, threshold: 5 }),
    ).toEqual({ matches: [{ id: 'x', distance: 5 }], truncated: false });
  });

  it('agrees with a brute-force sort', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }).chain((dimension) =>
          fc.record({
            target: point(dimension),
            points: fc.array(
              fc.oneof(
                point(dimension),
                point(dimension),
                point(dimension + 1),
              ),
              { maxLength: 40 },
            ),
            k: fc.integer({ min: 1, max: 12 }),
            threshold: fc.option(fc.double({ min: 0, max: 8, noNaN: true }), {
              nil: undefined,
            }),
            excludeIndex: fc.option(fc.nat(40), { nil: undefined }),
          }),
        ),
        ({ target, points, k, threshold, excludeIndex }) => {
          const candidates = points.map((p, i) => ({ id: `n${i}`, point: p }));
          const exclude =
            excludeIndex === undefined ? undefined : `n${excludeIndex}`;
          expect(
            nearestPoints(candidates, { target, k, threshold, exclude }),
          ).toEqual(bruteForce(candidates, target, k, threshold, exclude));
        },
      ),
    );
  });
});
