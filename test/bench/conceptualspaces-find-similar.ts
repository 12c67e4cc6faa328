import { performance } from 'node:perf_hooks';
import {
  MetricKind,
  buildIndexFromPoints,
  nearest,
  scanNearest,
  type Geometry,
} from '@cim/conceptualspaces';
import { compared, informational, type Benchmark } from './benchmark.js';
import { summarize } from './stats.js';

const FULL = { points: 1_000_000, queries: 60, indexOnly: 2000 };
const QUICK = { points: 100_000, queries: 60, indexOnly: 2000 };
const DIMS = 5;
const K = 10;

/** mulberry32: a small seeded generator, so every run measures the same points. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * FindSimilar's core in this process, no NATS: the k = 10 nearest of
 * 1,000,000 points (100,000 with --quick) in a five-dimensional space shaped
 * like the graph feature space (continuous, unit weights, Euclidean), from
 * the k-d tree index and from a linear scan, on the same query points in the
 * same run. Every scanned query's answer must equal the index's. The target
 * is the scan's p50 latency over the index's: at least 50 times.
 */
export const conceptualspacesFindSimilar: Benchmark = {
  name: 'conceptualspaces-find-similar',
  run({ quick, note }) {
    const counts = quick ? QUICK : FULL;
    const next = random(20_240_601);
    const coords = new Float64Array(counts.points * DIMS);
    for (let i = 0; i < coords.length; i++) coords[i] = next();
    const ids = Array.from({ length: counts.points }, (_, i) => `p${i}`);
    const stamps = new Float64Array(counts.points).fill(1);
    const built = performance.now();
    const index = buildIndexFromPoints({ dims: DIMS, ids, stamps, coords });
    const buildMs = performance.now() - built;
    note(
      `built the index over ${counts.points} points in ${buildMs.toFixed(0)} ms`,
    );

    const g: Geometry = {
      kinds: new Uint8Array(DIMS).fill(MetricKind.linear),
      weights: new Float64Array(DIMS).fill(1),
      p: 2,
    };
    const options = { k: K, live: () => true };
    const query = () => Float64Array.from({ length: DIMS }, next);

    // Warm both paths up before timing.
    for (let i = 0; i < 200; i++) nearest(index, g, query(), options);
    for (let i = 0; i < 3; i++) scanNearest(index, g, query(), options);

    // Each path runs over all shared queries in turn, so neither evicts the other's caches.
    const shared = Array.from({ length: counts.queries }, query);
    const timed = (search: typeof nearest, samples: number[]) =>
      shared.map((q) => {
        const started = performance.now();
        const answer = search(index, g, q, options);
        samples.push(performance.now() - started);
        return answer;
      });
    const indexMs: number[] = [];
    const scanMs: number[] = [];
    const fromIndex = timed(nearest, indexMs);
    const fromScan = timed(scanNearest, scanMs);
    if (JSON.stringify(fromIndex) !== JSON.stringify(fromScan)) {
      throw new Error('the index and the linear scan disagree');
    }
    const more: number[] = [];
    for (let i = 0; i < counts.indexOnly; i++) {
      const q = query();
      const started = performance.now();
      nearest(index, g, q, options);
      more.push(performance.now() - started);
    }
    const idx = summarize(indexMs);
    const scan = summarize(scanMs);
    const many = summarize(more);
    note(
      `k=${K}: index p50 ${idx.p50.toFixed(3)} ms, scan p50 ${scan.p50.toFixed(1)} ms (${counts.queries} shared queries, all answers equal)`,
    );
    return Promise.resolve([
      compared(
        'conceptualspaces-find-similar-scan-over-index-p50',
        scan.p50,
        'ms',
        idx.p50,
        '>=50',
      ),
      informational('conceptualspaces-find-similar-index-p50', many.p50, 'ms'),
      informational('conceptualspaces-find-similar-index-p99', many.p99, 'ms'),
      informational('conceptualspaces-find-similar-scan-p50', scan.p50, 'ms'),
      informational('conceptualspaces-find-similar-build', buildMs, 'ms'),
    ]);
  },
};
