import { distance, type Geometry } from './geometry.js';

/**
 * DBSCAN over metric points (Ester et al. 1996): a point with at least
 * `minPoints` points (itself included) within `radius` is a core point;
 * clusters are the core points reachable from each other plus the points
 * within radius of them. Deterministic: points are visited in input order
 * and a border point joins the first cluster that reaches it. Returns the
 * clusters as ascending point indices; noise is left out. O(n²) distances.
 */
export function densityClusters(
  g: Geometry,
  points: readonly Float64Array[],
  radius: number,
  minPoints: number,
): number[][] {
  const n = points.length;
  const neighbours: number[][] = points.map(() => []);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      if (distance(g, points[i]!, points[j]!) <= radius) {
        neighbours[i]!.push(j);
        if (j !== i) neighbours[j]!.push(i);
      }
    }
  }
  const cluster = new Int32Array(n).fill(-1);
  const clusters: number[][] = [];
  for (let start = 0; start < n; start++) {
    if (cluster[start] !== -1 || neighbours[start]!.length < minPoints)
      continue;
    const id = clusters.length;
    const members: number[] = [];
    const queue = [start];
    cluster[start] = id;
    while (queue.length > 0) {
      const point = queue.pop()!;
      members.push(point);
      if (neighbours[point]!.length < minPoints) continue; // a border point does not expand
      for (const next of neighbours[point]!) {
        if (cluster[next] === -1) {
          cluster[next] = id;
          queue.push(next);
        }
      }
    }
    clusters.push(members.sort((a, b) => a - b));
  }
  return clusters;
}
