import { hasDirectedCycle, type Link } from '../graph-algorithms.js';
import type { GraphData } from './state.js';

/**
 * True when a directed edge `source → target` would close a cycle: it is a
 * self-loop, or `target` already reaches `source` along directed edges.
 * Iterative depth-first search, O(nodes + edges) reachable from `target`.
 */
export function closesCycle(
  graph: GraphData,
  source: string,
  target: string,
): boolean {
  if (source === target) return true;
  const seen = new Set<string>([target]);
  const stack = [target];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const state = graph.nodes.get(node);
    if (state === undefined) continue;
    for (const ends of state.incident.values()) {
      if (!ends.directed || ends.source !== node) continue;
      if (ends.target === source) return true;
      if (!seen.has(ends.target)) {
        seen.add(ends.target);
        stack.push(ends.target);
      }
    }
  }
  return false;
}

/** True when the graph's directed edges together with `links` between the graph's and `nodeIds` would contain a cycle. */
export function linksCloseCycle(
  graph: GraphData,
  nodeIds: Iterable<string>,
  links: readonly Link[],
): boolean {
  if (!links.some((link) => link.directed)) return false;
  return hasDirectedCycle(
    concat<string>(graph.nodes.keys(), nodeIds),
    concat<Link>(graph.edges.values(), links),
  );
}

function* concat<T>(
  first: Iterable<T>,
  second: Iterable<T>,
): Generator<T, void, undefined> {
  yield* first;
  yield* second;
}
