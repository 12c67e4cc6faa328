// Pure graph algorithms shared by the queries and the decider's acyclicity
// rule. All of them are iterative (no recursion, so no stack limit on long
// chains) and run in O((n + m) log n) or better over dense integer indexes.

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
}

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

/** Counts, density, average degree, weakly connected components and cycle presence, in O((n + m) α(n)). */
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
  return {
    nodeCount: n,
    edgeCount: m,
    density: n < 2 ? 0 : arcs / (n * (n - 1)),
    averageDegree: n === 0 ? 0 : (2 * m) / n,
    connectedComponents: components.sets,
    hasCycle: hasMixedCycle(indexed),
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
