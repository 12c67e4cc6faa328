// Pure graph algorithms shared by the queries and the decider's acyclicity
// rule. All of them are iterative (no recursion, so no stack limit on long
// chains) and run over dense integer indexes in O((n + m) log n) or better,
// except clustering (O(m^1.5)) and diameter (O(n·(n + m)), capped by
// DIAMETER_LIMITS).

/** Where an edge runs, as the structural algorithms see it. */
export interface Link {
  readonly source: string;
  readonly target: string;
  readonly directed: boolean;
}

/** An edge a path can walk: a link with its id and optional weight (1 when absent). */
export interface PathEdge extends Link {
  readonly id: string;
  readonly weight?: number | undefined;
}

/** A graph that shortest-path search can walk. */
export interface Walkable {
  /** The edges that can be walked away from `nodeId`: directed edges it starts, undirected edges it touches. */
  outgoing(nodeId: string): Iterable<PathEdge>;
}

/** Structural measures of a graph (see MetricsResponse in graph.proto for the definitions). */
export interface GraphMetrics {
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly density: number;
  readonly averageDegree: number;
  readonly connectedComponents: number;
  readonly hasCycle: boolean;
  /** Mean local clustering coefficient over all nodes of the simple undirected view. */
  readonly averageClustering: number;
  /** Longest shortest path in hops over the simple undirected view; undefined beyond DIAMETER_LIMITS. */
  readonly diameter: number | undefined;
}

/**
 * When Metrics computes the diameter: a breadth-first search from every node
 * costs O(n·(n + m)) on the service's one thread, where it holds up commands,
 * so it is left out above 2,000 nodes or above 4·10⁷ steps of n·(n + 2m)
 * (m = edges of the simple undirected view): at most about 0.15 s of CPU.
 */
export const DIAMETER_LIMITS = {
  maxNodes: 2_000,
  maxWork: 40_000_000,
} as const;

/** The cheapest path found, or `found: false` with empty fields. */
export interface PathResult {
  readonly found: boolean;
  readonly nodeIds: readonly string[];
  readonly edgeIds: readonly string[];
  readonly cost: number;
}

/** Disjoint sets over 0..n-1 with path halving and union by size. */
class UnionFind {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;
  sets: number;

  constructor(n: number) {
    this.parent = new Int32Array(n);
    this.size = new Int32Array(n).fill(1);
    for (let i = 0; i < n; i++) this.parent[i] = i;
    this.sets = n;
  }

  find(x: number): number {
    const parent = this.parent;
    let i = x;
    while (parent[i]! !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  }

  /** Joins the sets of a and b; false when they already were one set. */
  union(a: number, b: number): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    if (this.size[ra]! < this.size[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra]! += this.size[rb]!;
    this.sets--;
    return true;
  }
}

/** Links resolved to dense node indexes; links with an unknown end are dropped. */
interface IndexedLinks {
  readonly n: number;
  readonly from: number[];
  readonly to: number[];
  readonly directed: boolean[];
}

function indexLinks(
  nodeIds: Iterable<string>,
  links: Iterable<Link>,
): IndexedLinks {
  const index = new Map<string, number>();
  for (const id of nodeIds) if (!index.has(id)) index.set(id, index.size);
  const from: number[] = [];
  const to: number[] = [];
  const directed: boolean[] = [];
  for (const link of links) {
    const s = index.get(link.source);
    const t = index.get(link.target);
    if (s === undefined || t === undefined) continue;
    from.push(s);
    to.push(t);
    directed.push(link.directed);
  }
  return { n: index.size, from, to, directed };
}

/**
 * Kahn's algorithm over the arcs `from[i] → to[i]` restricted to `use[i]`,
 * between the vertices 0..n-1: true when some vertices can never be emitted,
 * i.e. there is a directed cycle (a self-arc counts).
 */
function kahnFindsCycle(
  n: number,
  from: readonly number[],
  to: readonly number[],
  use: (i: number) => boolean,
): boolean {
  const indegree = new Int32Array(n);
  const start = new Int32Array(n + 1);
  let arcs = 0;
  for (let i = 0; i < from.length; i++) {
    if (!use(i)) continue;
    indegree[to[i]!]!++;
    start[from[i]! + 1]!++;
    arcs++;
  }
  if (arcs === 0) return false;
  for (let v = 0; v < n; v++) start[v + 1]! += start[v]!;
  const heads = new Int32Array(arcs);
  const fill = start.slice(0, n);
  for (let i = 0; i < from.length; i++) {
    if (use(i)) heads[fill[from[i]!]!++] = to[i]!;
  }
  const queue = new Int32Array(n);
  let tail = 0;
  for (let v = 0; v < n; v++) if (indegree[v] === 0) queue[tail++] = v;
  for (let head = 0; head < tail; head++) {
    const v = queue[head]!;
    for (let a = start[v]!; a < start[v + 1]!; a++) {
      const w = heads[a]!;
      if (--indegree[w]! === 0) queue[tail++] = w;
    }
  }
  return tail < n;
}

/** True when the directed links (undirected ones are ignored) close a cycle; a directed self-loop is a cycle. */
export function hasDirectedCycle(
  nodeIds: Iterable<string>,
  links: Iterable<Link>,
): boolean {
  const { n, from, to, directed } = indexLinks(nodeIds, links);
  return kahnFindsCycle(n, from, to, (i) => directed[i]!);
}

/**
 * True when the graph has a closed trail that walks directed edges forwards,
 * undirected edges either way, and no edge twice. Such a trail exists exactly
 * when the undirected edges contain a cycle (parallel edges and self-loops
 * included), or when contracting each undirected tree to one vertex leaves a
 * directed cycle among the directed edges.
 */
function hasMixedCycle({ n, from, to, directed }: IndexedLinks): boolean {
  const trees = new UnionFind(n);
  for (let i = 0; i < from.length; i++) {
    if (!directed[i] && !trees.union(from[i]!, to[i]!)) return true;
  }
  const cfrom: number[] = [];
  const cto: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (!directed[i]) continue;
    cfrom.push(trees.find(from[i]!));
    cto.push(trees.find(to[i]!));
  }
  // Component roots are vertex indexes themselves; non-root vertices have no
  // arcs and indegree 0, so Kahn emits them at once and they do not matter.
  return kahnFindsCycle(n, cfrom, cto, () => true);
}

/**
 * The simple undirected graph under some links, as compressed adjacency
 * lists: direction is ignored, self-loops and parallel edges are dropped, so
 * `neighbours(v)` = `adj[start[v] .. start[v + 1])` holds each neighbour once.
 */
interface SimpleGraph {
  readonly n: number;
  /** Edges of the simple view (each unordered pair once). */
  readonly m: number;
  readonly start: Int32Array;
  readonly adj: Int32Array;
}

function simpleUndirected({ n, from, to }: IndexedLinks): SimpleGraph {
  const pairs = new Set<number>();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < from.length; i++) {
    const s = from[i]!;
    const t = to[i]!;
    if (s === t) continue;
    const lo = Math.min(s, t);
    const hi = Math.max(s, t);
    const key = lo * n + hi;
    if (pairs.has(key)) continue;
    pairs.add(key);
    a.push(lo);
    b.push(hi);
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < a.length; i++) {
    start[a[i]! + 1]!++;
    start[b[i]! + 1]!++;
  }
  for (let v = 0; v < n; v++) start[v + 1]! += start[v]!;
  const adj = new Int32Array(2 * a.length);
  const fill = start.slice(0, n);
  for (let i = 0; i < a.length; i++) {
    adj[fill[a[i]!]!++] = b[i]!;
    adj[fill[b[i]!]!++] = a[i]!;
  }
  return { n, m: a.length, start, adj };
}

/**
 * Mean of the local clustering coefficients 2·T(v) / (d(v)·(d(v) − 1)) over
 * every node (T = triangles through v, d = its degree; 0 when d < 2), 0 for
 * an empty graph. Triangles are counted once each by orienting every edge
 * towards the endpoint of higher degree: O(m^1.5) time, O(n + m) memory.
 */
function averageClusteringOf({ n, start, adj }: SimpleGraph): number {
  if (n === 0) return 0;
  const degree = (v: number): number => start[v + 1]! - start[v]!;
  const ahead = (u: number, v: number): boolean =>
    degree(u) < degree(v) || (degree(u) === degree(v) && u < v);
  // Forward lists: each edge once, from its lower-ranked end; every node then
  // has O(√m) forward neighbours.
  const fwdStart = new Int32Array(n + 1);
  for (let u = 0; u < n; u++) {
    let count = 0;
    for (let i = start[u]!; i < start[u + 1]!; i++)
      if (ahead(u, adj[i]!)) count++;
    fwdStart[u + 1] = fwdStart[u]! + count;
  }
  const fwd = new Int32Array(fwdStart[n]!);
  for (let u = 0, k = 0; u < n; u++) {
    for (let i = start[u]!; i < start[u + 1]!; i++) {
      if (ahead(u, adj[i]!)) fwd[k++] = adj[i]!;
    }
  }
  const triangles = new Float64Array(n);
  const mark = new Int32Array(n).fill(-1);
  for (let u = 0; u < n; u++) {
    for (let i = fwdStart[u]!; i < fwdStart[u + 1]!; i++) mark[fwd[i]!] = u;
    for (let i = fwdStart[u]!; i < fwdStart[u + 1]!; i++) {
      const v = fwd[i]!;
      for (let j = fwdStart[v]!; j < fwdStart[v + 1]!; j++) {
        const w = fwd[j]!;
        if (mark[w] === u) {
          triangles[u]!++;
          triangles[v]!++;
          triangles[w]!++;
        }
      }
    }
  }
  let sum = 0;
  for (let v = 0; v < n; v++) {
    const d = degree(v);
    if (d >= 2) sum += (2 * triangles[v]!) / (d * (d - 1));
  }
  return sum / n;
}

/**
 * The largest eccentricity found by a breadth-first search from every node,
 * i.e. the largest diameter of any connected component, in hops; 0 below two
 * nodes. Undefined when the graph exceeds DIAMETER_LIMITS.
 */
function diameterOf({ n, m, start, adj }: SimpleGraph): number | undefined {
  if (n > DIAMETER_LIMITS.maxNodes || n * (n + 2 * m) > DIAMETER_LIMITS.maxWork)
    return undefined;
  const distance = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  let diameter = 0;
  for (let s = 0; s < n; s++) {
    distance[s] = 0;
    queue[0] = s;
    let tail = 1;
    for (let head = 0; head < tail; head++) {
      const v = queue[head]!;
      const next = distance[v]! + 1;
      for (let i = start[v]!; i < start[v + 1]!; i++) {
        const w = adj[i]!;
        if (distance[w] !== -1) continue;
        distance[w] = next;
        queue[tail++] = w;
      }
    }
    // The queue holds nodes in order of distance: the last is the farthest.
    diameter = Math.max(diameter, distance[queue[tail - 1]!]!);
    for (let i = 0; i < tail; i++) distance[queue[i]!] = -1;
  }
  return diameter;
}

/** Which nodes no edge leads into, and which no edge leads out of. */
export interface SourcesAndSinks {
  /** Nodes with no incoming edge, in the order of the node ids given. */
  readonly sources: readonly string[];
  /** Nodes with no outgoing edge, in the order of the node ids given. */
  readonly sinks: readonly string[];
}

/**
 * Sources have no incoming edge and sinks no outgoing one, an undirected edge
 * counting both ways at both ends and a directed self-loop as both for its
 * node; an isolated node is both. O(n + m).
 */
export function sourcesAndSinks(
  nodeIds: Iterable<string>,
  links: Iterable<Link>,
): SourcesAndSinks {
  const ids = [...nodeIds];
  const index = new Map<string, number>();
  for (const id of ids) if (!index.has(id)) index.set(id, index.size);
  const entered = new Uint8Array(index.size);
  const left = new Uint8Array(index.size);
  for (const { source, target, directed } of links) {
    const s = index.get(source);
    const t = index.get(target);
    if (s === undefined || t === undefined) continue;
    left[s] = 1;
    entered[t] = 1;
    if (!directed) {
      left[t] = 1;
      entered[s] = 1;
    }
  }
  const sources: string[] = [];
  const sinks: string[] = [];
  index.forEach((i, id) => {
    if (entered[i] === 0) sources.push(id);
    if (left[i] === 0) sinks.push(id);
  });
  return { sources, sinks };
}

/**
 * Counts, density, average degree, weakly connected components and cycle
 * presence in O((n + m) α(n)); average clustering in O(m^1.5); the diameter
 * in O(n·(n + m)) within DIAMETER_LIMITS.
 */
export function graphMetrics(
  nodeIds: Iterable<string>,
  links: Iterable<Link>,
): GraphMetrics {
  const indexed = indexLinks(nodeIds, links);
  const { n, from, to, directed } = indexed;
  const m = from.length;
  const components = new UnionFind(n);
  let directedCount = 0;
  for (let i = 0; i < m; i++) {
    components.union(from[i]!, to[i]!);
    if (directed[i]) directedCount++;
  }
  const arcs = directedCount + 2 * (m - directedCount);
  const simple = simpleUndirected(indexed);
  return {
    nodeCount: n,
    edgeCount: m,
    density: n < 2 ? 0 : arcs / (n * (n - 1)),
    averageDegree: n === 0 ? 0 : (2 * m) / n,
    connectedComponents: components.sets,
    hasCycle: hasMixedCycle(indexed),
    averageClustering: averageClusteringOf(simple),
    diameter: diameterOf(simple),
  };
}

/** A binary min-heap of (priority, value); ties pop in insertion order, so results are deterministic. */
class MinHeap {
  private readonly priorities: number[] = [];
  private readonly order: number[] = [];
  private readonly items: string[] = [];
  private pushed = 0;

  get length(): number {
    return this.items.length;
  }

  push(priority: number, item: string): void {
    const { priorities, order, items } = this;
    let i = items.length;
    priorities.push(priority);
    order.push(this.pushed++);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the least entry; the heap must not be empty. */
  pop(): { priority: number; item: string } {
    const { priorities, order, items } = this;
    const top = { priority: priorities[0]!, item: items[0]! };
    const last = items.length - 1;
    this.swap(0, last);
    priorities.pop();
    order.pop();
    items.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < last && this.less(l, least)) least = l;
      if (r < last && this.less(r, least)) least = r;
      if (least === i) break;
      this.swap(i, least);
      i = least;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const pa = this.priorities[a]!;
    const pb = this.priorities[b]!;
    return pa < pb || (pa === pb && this.order[a]! < this.order[b]!);
  }

  private swap(a: number, b: number): void {
    const { priorities, order, items } = this;
    [priorities[a], priorities[b]] = [priorities[b]!, priorities[a]!];
    [order[a], order[b]] = [order[b]!, order[a]!];
    [items[a], items[b]] = [items[b]!, items[a]!];
  }
}

const NOT_FOUND: PathResult = {
  found: false,
  nodeIds: [],
  edgeIds: [],
  cost: 0,
};

/**
 * Dijkstra's cheapest path from `from` to `to`, walking directed edges
 * forwards and undirected edges both ways; an edge costs its weight, or 1
 * without one. Weights must be non-negative (the caller checks). Both nodes
 * must exist; `from === to` is the empty path of cost 0.
 */
export function shortestPath(
  graph: Walkable,
  from: string,
  to: string,
): PathResult {
  const best = new Map<string, number>([[from, 0]]);
  const via = new Map<
    string,
    { readonly node: string; readonly edge: string }
  >();
  const settled = new Set<string>();
  const heap = new MinHeap();
  heap.push(0, from);
  while (heap.length > 0) {
    const { priority: cost, item: node } = heap.pop();
    if (settled.has(node)) continue;
    settled.add(node);
    if (node === to) return tracePath(via, from, to, cost);
    for (const edge of graph.outgoing(node)) {
      const other =
        edge.directed || edge.source === node ? edge.target : edge.source;
      if (settled.has(other)) continue;
      const candidate = cost + (edge.weight ?? 1);
      if (candidate < (best.get(other) ?? Infinity)) {
        best.set(other, candidate);
        via.set(other, { node, edge: edge.id });
        heap.push(candidate, other);
      }
    }
  }
  return NOT_FOUND;
}

function tracePath(
  via: ReadonlyMap<string, { readonly node: string; readonly edge: string }>,
  from: string,
  to: string,
  cost: number,
): PathResult {
  const nodeIds = [to];
  const edgeIds: string[] = [];
  for (let node = to; node !== from;) {
    const step = via.get(node)!;
    edgeIds.push(step.edge);
    nodeIds.push(step.node);
    node = step.node;
  }
  return {
    found: true,
    nodeIds: nodeIds.reverse(),
    edgeIds: edgeIds.reverse(),
    cost,
  };
}
