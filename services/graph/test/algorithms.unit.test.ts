import { describe, expect, it } from '@jest/globals';
import { SortedMap } from '@cim/kernel';
import {
  DIAMETER_LIMITS,
  graphMetrics,
  hasDirectedCycle,
  sourcesAndSinks,
  shortestPath,
  type Link,
  type PathEdge,
  type Walkable,
} from '../src/graph-algorithms.js';

const arc = (source: string, target: string): Link => ({
  source,
  target,
  directed: true,
});
const line = (source: string, target: string): Link => ({
  source,
  target,
  directed: false,
});

let edgeNumber = 0;
const edge = (
  source: string,
  target: string,
  directed: boolean,
  weight?: number,
): PathEdge => ({
  id: `e${edgeNumber++}`,
  source,
  target,
  directed,
  weight,
});

/** A walkable graph over plain edges: directed edges from their source, undirected from both ends. */
function walkable(edges: readonly PathEdge[]): Walkable {
  const out = new Map<string, PathEdge[]>();
  const add = (node: string, e: PathEdge) =>
    out.set(node, [...(out.get(node) ?? []), e]);
  for (const e of edges) {
    add(e.source, e);
    if (!e.directed && e.target !== e.source) add(e.target, e);
  }
  return { outgoing: (id) => out.get(id) ?? [] };
}

describe('graphMetrics', () => {
  it('measures an empty graph as zeros', () => {
    expect(graphMetrics([], [])).toEqual({
      nodeCount: 0,
      edgeCount: 0,
      density: 0,
      averageDegree: 0,
      connectedComponents: 0,
      hasCycle: false,
      averageClustering: 0,
      diameter: 0,
    });
  });

  it('counts a lone node as one component', () => {
    expect(graphMetrics(['a'], [])).toMatchObject({
      nodeCount: 1,
      connectedComponents: 1,
      density: 0,
    });
  });

  it('measures a directed path', () => {
    expect(
      graphMetrics(['a', 'b', 'c'], [arc('a', 'b'), arc('b', 'c')]),
    ).toEqual({
      nodeCount: 3,
      edgeCount: 2,
      density: 2 / 6,
      averageDegree: 4 / 3,
      connectedComponents: 1,
      hasCycle: false,
      averageClustering: 0,
      diameter: 2,
    });
  });

  it('counts an undirected edge as two arcs for density', () => {
    const triangle = [line('a', 'b'), line('b', 'c'), line('c', 'a')];
    expect(graphMetrics(['a', 'b', 'c'], triangle).density).toBe(1);
  });

  it('counts weakly connected components, ignoring direction', () => {
    const metrics = graphMetrics(
      ['a', 'b', 'c', 'd', 'e'],
      [arc('b', 'a'), arc('c', 'b'), line('d', 'e')],
    );
    expect(metrics.connectedComponents).toBe(2);
  });

  it('ignores links to unknown nodes', () => {
    expect(graphMetrics(['a'], [arc('a', 'ghost')])).toMatchObject({
      edgeCount: 0,
      hasCycle: false,
    });
  });

  describe('hasCycle', () => {
    it.each<[string, Link[], boolean]>([
      [
        'a directed triangle',
        [arc('a', 'b'), arc('b', 'c'), arc('c', 'a')],
        true,
      ],
      [
        'a directed diamond',
        [arc('a', 'b'), arc('a', 'c'), arc('b', 'd'), arc('c', 'd')],
        false,
      ],
      ['parallel directed edges', [arc('a', 'b'), arc('a', 'b')], false],
      ['two opposite directed edges', [arc('a', 'b'), arc('b', 'a')], true],
      ['a directed self-loop', [arc('a', 'a')], true],
      ['an undirected path', [line('a', 'b'), line('b', 'c')], false],
      [
        'an undirected triangle',
        [line('a', 'b'), line('b', 'c'), line('c', 'a')],
        true,
      ],
      ['parallel undirected edges', [line('a', 'b'), line('b', 'a')], true],
      ['an undirected self-loop', [line('a', 'a')], true],
      [
        'a directed edge beside an undirected one between the same nodes',
        [arc('a', 'b'), line('a', 'b')],
        true,
      ],
      [
        'an undirected tree hanging off a directed path',
        [line('a', 'b'), arc('b', 'c'), line('c', 'd')],
        false,
      ],
      [
        'a directed path closed through an undirected edge',
        [line('a', 'b'), arc('b', 'c'), arc('c', 'a')],
        true,
      ],
      [
        'directed edges between undirected trees in one direction',
        [line('a', 'b'), line('c', 'd'), arc('a', 'c'), arc('b', 'd')],
        false,
      ],
      [
        'directed edges between undirected trees both ways',
        [line('a', 'b'), line('c', 'd'), arc('a', 'c'), arc('d', 'b')],
        true,
      ],
    ])('for %s is %p', (_, links, expected) => {
      expect(graphMetrics(['a', 'b', 'c', 'd'], links).hasCycle).toBe(expected);
    });
  });
});

describe('hasDirectedCycle', () => {
  it('ignores undirected edges', () => {
    expect(hasDirectedCycle(['a', 'b'], [arc('a', 'b'), line('b', 'a')])).toBe(
      false,
    );
  });
  it('finds a directed cycle', () => {
    expect(
      hasDirectedCycle(
        ['a', 'b', 'c'],
        [arc('a', 'b'), arc('b', 'c'), arc('c', 'a')],
      ),
    ).toBe(true);
  });
});

describe('shortestPath', () => {
  it('takes the cheaper of two routes by weight', () => {
    const cheap = [
      edge('a', 'b', true, 1),
      edge('b', 'c', true, 1),
      edge('c', 'd', true, 1),
    ];
    const dear = edge('a', 'd', true, 5);
    const result = shortestPath(walkable([dear, ...cheap]), 'a', 'd');
    expect(result).toEqual({
      found: true,
      nodeIds: ['a', 'b', 'c', 'd'],
      edgeIds: cheap.map((e) => e.id),
      cost: 3,
    });
  });

  it('counts hops when edges have no weight', () => {
    const direct = edge('a', 'd', true);
    const result = shortestPath(
      walkable([edge('a', 'b', true), edge('b', 'd', true), direct]),
      'a',
      'd',
    );
    expect(result).toEqual({
      found: true,
      nodeIds: ['a', 'd'],
      edgeIds: [direct.id],
      cost: 1,
    });
  });

  it('costs 1 for an edge without a weight among weighted ones', () => {
    const result = shortestPath(
      walkable([edge('a', 'b', true, 0.25), edge('b', 'c', true)]),
      'a',
      'c',
    );
    expect(result.cost).toBe(1.25);
  });

  it('walks zero-weight edges', () => {
    expect(
      shortestPath(
        walkable([edge('a', 'b', true, 0), edge('b', 'c', true, 0)]),
        'a',
        'c',
      ).cost,
    ).toBe(0);
  });

  it('follows directed edges forwards only', () => {
    const graph = walkable([edge('a', 'b', true)]);
    expect(shortestPath(graph, 'a', 'b').found).toBe(true);
    expect(shortestPath(graph, 'b', 'a')).toEqual({
      found: false,
      nodeIds: [],
      edgeIds: [],
      cost: 0,
    });
  });

  it('walks undirected edges both ways', () => {
    const graph = walkable([edge('a', 'b', false, 2)]);
    expect(shortestPath(graph, 'b', 'a')).toMatchObject({
      found: true,
      nodeIds: ['b', 'a'],
      cost: 2,
    });
  });

  it('answers the empty path from a node to itself', () => {
    expect(shortestPath(walkable([]), 'a', 'a')).toEqual({
      found: true,
      nodeIds: ['a'],
      edgeIds: [],
      cost: 0,
    });
  });

  it('picks the cheaper of parallel edges', () => {
    const cheap = edge('a', 'b', true, 1);
    const result = shortestPath(
      walkable([edge('a', 'b', true, 4), cheap]),
      'a',
      'b',
    );
    expect(result.edgeIds).toEqual([cheap.id]);
  });

  it('reports unreachable nodes as not found', () => {
    expect(
      shortestPath(walkable([edge('a', 'b', false)]), 'a', 'c').found,
    ).toBe(false);
  });
});

describe('on 10k nodes', () => {
  const n = 10_000;
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  const chain = ids.slice(1).map((id, i) => edge(ids[i]!, id, true, 1));

  it('measures a long chain without recursion limits', () => {
    expect(graphMetrics(ids, chain)).toMatchObject({
      nodeCount: n,
      edgeCount: n - 1,
      connectedComponents: 1,
      hasCycle: false,
    });
    expect(hasDirectedCycle(ids, [...chain, arc(`n${n - 1}`, 'n0')])).toBe(
      true,
    );
  });

  it('finds the path along a long chain', () => {
    const result = shortestPath(walkable(chain), 'n0', `n${n - 1}`);
    expect(result.cost).toBe(n - 1);
    expect(result.nodeIds).toHaveLength(n);
  });

  it('measures a random sparse graph with many components', () => {
    const links: Link[] = [];
    for (let i = 0; i < n / 2; i++) {
      links.push(line(ids[(i * 7919) % n]!, ids[(i * 104729 + 3) % n]!));
    }
    const metrics = graphMetrics(ids, links);
    expect(metrics.connectedComponents).toBeGreaterThan(1);
    expect(metrics.connectedComponents).toBeLessThan(n);
  });
});

describe('SortedMap', () => {
  it('keeps keys in order and counts them', () => {
    const map = SortedMap.of([
      ['b', 2],
      ['c', 3],
      ['a', 1],
    ]);
    expect([...map]).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(map.size).toBe(3);
  });

  it('leaves the receiver unchanged on set and delete', () => {
    const before = SortedMap.of([['a', 1]]);
    const added = before.set('b', 2);
    const removed = added.delete('a');
    expect([...before.keys()]).toEqual(['a']);
    expect([...added.keys()]).toEqual(['a', 'b']);
    expect([...removed.keys()]).toEqual(['b']);
  });

  it('returns the receiver when nothing changes', () => {
    const value = { v: 1 };
    const map = SortedMap.of([['a', value]]);
    expect(map.set('a', value)).toBe(map);
    expect(map.delete('zz')).toBe(map);
  });

  it('iterates from after a key, whether or not the key is present', () => {
    const map = SortedMap.of(['a', 'c', 'e', 'g'].map((k) => [k, k] as const));
    expect([...map.keys('c')]).toEqual(['e', 'g']);
    expect([...map.keys('d')]).toEqual(['e', 'g']);
    expect([...map.keys('g')]).toEqual([]);
    expect([...map.keys('')]).toEqual(['a', 'c', 'e', 'g']);
  });

  it('stays balanced under 100k ordered inserts (an unbalanced tree would overflow the stack)', () => {
    let map = SortedMap.empty<number>();
    for (let i = 0; i < 100_000; i++) {
      map = map.set(String(i).padStart(6, '0'), i);
    }
    for (let i = 0; i < 100_000; i += 2) {
      map = map.delete(String(i).padStart(6, '0'));
    }
    expect(map.size).toBe(50_000);
    expect(map.get('000001')).toBe(1);
    expect(map.has('000002')).toBe(false);
  });
});

describe('graphMetrics clustering and diameter', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  const path = (n: number) =>
    ids(n)
      .slice(1)
      .map((id, i) => line(`n${i}`, id));

  it.each<[string, string[], Link[], number, number]>([
    [
      'a triangle',
      ['a', 'b', 'c'],
      [line('a', 'b'), line('b', 'c'), line('c', 'a')],
      1,
      1,
    ],
    [
      'a directed triangle (direction ignored)',
      ['a', 'b', 'c'],
      [arc('a', 'b'), arc('b', 'c'), arc('a', 'c')],
      1,
      1,
    ],
    [
      'a star of four leaves',
      ['h', 'a', 'b', 'c', 'd'],
      [line('h', 'a'), arc('h', 'b'), arc('c', 'h'), line('d', 'h')],
      0,
      2,
    ],
    ['a path of five nodes', ids(5), path(5), 0, 4],
    [
      'a triangle with a pendant node',
      ['a', 'b', 'c', 'd'],
      [line('a', 'b'), line('b', 'c'), line('c', 'a'), line('c', 'd')],
      // a, b: 1; c: 1 of 3 pairs; d: degree 1
      (1 + 1 + 1 / 3 + 0) / 4,
      2,
    ],
    [
      'a complete graph on four nodes',
      ['a', 'b', 'c', 'd'],
      [
        line('a', 'b'),
        line('a', 'c'),
        line('a', 'd'),
        line('b', 'c'),
        line('b', 'd'),
        line('c', 'd'),
      ],
      1,
      1,
    ],
    [
      'a disconnected triangle and path (largest component diameter)',
      ['a', 'b', 'c', 'p', 'q', 'r', 's'],
      [
        line('a', 'b'),
        line('b', 'c'),
        line('c', 'a'),
        line('p', 'q'),
        line('q', 'r'),
        line('r', 's'),
      ],
      3 / 7,
      3,
    ],
    [
      'a triangle with self-loops and parallel edges',
      ['a', 'b', 'c'],
      [
        line('a', 'b'),
        arc('b', 'a'),
        line('a', 'b'),
        line('b', 'c'),
        line('c', 'a'),
        arc('a', 'a'),
        line('c', 'c'),
      ],
      1,
      1,
    ],
    ['isolated nodes', ['a', 'b', 'c'], [], 0, 0],
    ['one node', ['a'], [arc('a', 'a')], 0, 0],
  ])('for %s', (_, nodeIds, links, clustering, diameter) => {
    const metrics = graphMetrics(nodeIds, links);
    expect(metrics.averageClustering).toBeCloseTo(clustering, 12);
    expect(metrics.diameter).toBe(diameter);
  });

  it('measures a long path without recursion', () => {
    expect(graphMetrics(ids(2000), path(2000)).diameter).toBe(1999);
  });

  it('leaves the diameter out above the node limit', () => {
    const n = DIAMETER_LIMITS.maxNodes + 1;
    const metrics = graphMetrics(ids(n), path(n));
    expect(metrics.diameter).toBeUndefined();
    expect(metrics.averageClustering).toBe(0);
  });

  it('counts the triangles of a hub quickly (wheel graph)', () => {
    // A hub joined to a cycle of 20,000 rim nodes: every rim node has degree
    // 3 and 2 triangles (C = 2/3); the hub has 20,000 triangles.
    const rim = 20_000;
    const nodeIds = ['hub', ...ids(rim)];
    const links = [
      ...ids(rim).map((id) => line('hub', id)),
      ...ids(rim).map((id, i) => line(id, `n${(i + 1) % rim}`)),
    ];
    const hub = (2 * rim) / (rim * (rim - 1));
    const expected = (rim * (2 / 3) + hub) / (rim + 1);
    expect(graphMetrics(nodeIds, links).averageClustering).toBeCloseTo(
      expected,
      12,
    );
  });
});

describe('sourcesAndSinks', () => {
  it('finds sources and sinks of a directed path, isolated nodes being both', () => {
    expect(
      sourcesAndSinks(['a', 'b', 'c', 'z'], [arc('a', 'b'), arc('b', 'c')]),
    ).toEqual({ sources: ['a', 'z'], sinks: ['c', 'z'] });
  });

  it('counts an undirected edge both ways at both ends', () => {
    // a → b — c → d: b and c each have an undirected edge in and out.
    expect(
      sourcesAndSinks(
        ['a', 'b', 'c', 'd'],
        [arc('a', 'b'), line('b', 'c'), arc('c', 'd')],
      ),
    ).toEqual({ sources: ['a'], sinks: ['d'] });
    expect(sourcesAndSinks(['a', 'b'], [line('a', 'b')])).toEqual({
      sources: [],
      sinks: [],
    });
  });

  it('treats a directed self-loop as an edge in and out of its node', () => {
    expect(sourcesAndSinks(['a', 'b'], [arc('a', 'a'), arc('a', 'b')])).toEqual(
      {
        sources: [],
        sinks: ['b'],
      },
    );
  });

  it('ignores links to unknown nodes', () => {
    expect(sourcesAndSinks(['a'], [arc('ghost', 'a')])).toEqual({
      sources: ['a'],
      sinks: ['a'],
    });
  });
});
