import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { DomainError } from '@cim/kernel';
import {
  GraphCommandSchema,
  GraphStatus,
  GraphType,
  ShortestPathRequestSchema,
  type GraphCommand,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  graphDecider,
  reviveGraphState,
  type GraphState,
} from '../src/domain/index.js';
import { SortedMap } from '@cim/kernel';
import {
  graphMetrics,
  hasDirectedCycle,
  type Link,
} from '../src/graph-algorithms.js';
import { project, reviveGraphRow, type GraphRow } from '../src/projection.js';
import { graphQueries } from '../src/queries.js';
import {
  GRAPH_ID,
  cmd,
  commitMeta,
  evt,
  projectAll,
  rowsOf,
  stateOf,
} from './fixtures.js';

const NODE_IDS = ['a', 'b', 'c', 'd'];
const EDGE_IDS = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8'];

const nodeId = fc.constantFrom(...NODE_IDS);
const edgeId = fc.constantFrom('', ...EDGE_IDS);
const weight = fc.option(
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: -1, max: 5 }) },
    { weight: 1, arbitrary: fc.constant(Number.NaN) },
  ),
  { nil: undefined },
);

/** A command builder waiting for its command id, so ids derived from it are fresh per step. */
type Step = (commandId: string) => GraphCommand;

const importDoc = fc
  .record({
    nodes: fc.uniqueArray(fc.constantFrom(...NODE_IDS, 'x', 'y'), {
      maxLength: 3,
    }),
    edges: fc.array(
      fc.record({
        source: fc.constantFrom(...NODE_IDS, 'x', 'y'),
        target: fc.constantFrom(...NODE_IDS, 'x', 'y'),
        directed: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ nodes, edges }) =>
    JSON.stringify({
      nodes: nodes.map((id) => ({ id, type: 'imported' })),
      edges: edges.map((e) => ({ ...e, type: 'link' })),
    }),
  );

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.constantFrom('Graph', ' ').map(
      (name): Step =>
        (id) =>
          cmd.create({ name }, id),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant<Step>((id) =>
      cmd.update({ name: `renamed ${id}` }, id),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        GraphStatus.ACTIVE,
        GraphStatus.ACTIVE,
        GraphStatus.READ_ONLY,
      )
      .map(
        (status): Step =>
          () =>
            cmd.changeStatus(status),
      ),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.option(nodeId, { nil: '' }),
        fc.constantFrom('task', 'task', 'gate', 'gate', ''),
      )
      .map(
        ([n, nodeType]): Step =>
          (id) =>
            cmd.addNode({ nodeId: n, nodeType }, id),
      ),
  },
  {
    weight: 1,
    arbitrary: nodeId.map(
      (n): Step =>
        () =>
          cmd.changeNodeMetadata({ nodeId: n, metadata: { n } }),
    ),
  },
  {
    weight: 1,
    arbitrary: nodeId.map(
      (n): Step =>
        () =>
          cmd.removeNode(n),
    ),
  },
  {
    weight: 14,
    arbitrary: fc
      .record({
        edgeId,
        source: nodeId,
        target: nodeId,
        directed: fc.boolean(),
        weight,
      })
      .map(
        ({ weight: w, ...fields }): Step =>
          (id) =>
            cmd.addEdge(
              { ...fields, ...(w !== undefined && { weight: w }) },
              id,
            ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...EDGE_IDS),
        fc.option(fc.integer({ min: -1, max: 5 }), { nil: undefined }),
      )
      .map(
        ([e, w]): Step =>
          () =>
            cmd.updateEdge(
              w === undefined
                ? { edgeId: e, clearWeight: true }
                : { edgeId: e, weight: w },
            ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...EDGE_IDS).map(
      (e): Step =>
        () =>
          cmd.removeEdge(e),
    ),
  },
  {
    weight: 2,
    arbitrary: importDoc.map(
      (doc): Step =>
        (id) =>
          cmd.importGraph(doc, {}, id),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant<Step>(() => create(GraphCommandSchema, {})),
  },
);

const graphType = fc.constantFrom(
  GraphType.GENERIC,
  GraphType.WORKFLOW,
  GraphType.DEVELOPMENT,
  GraphType.KNOWLEDGE,
);

interface Run {
  readonly state: GraphState;
  readonly row: GraphRow | undefined;
  readonly events: readonly GraphEvent[];
}

/** Applies the steps in order: accepted commands' events are folded into state and row, rejected ones skipped. */
function run(
  type: GraphType,
  steps: readonly Step[],
  check: (run: Run) => void = () => undefined,
): Run {
  let state = graphDecider.initialState();
  let row: GraphRow | undefined;
  const events: GraphEvent[] = [];
  const commands = [
    (id: string) => cmd.create({ graphType: type }, id),
    ...steps,
  ];
  commands.forEach((build, i) => {
    let decided: readonly GraphEvent[];
    try {
      decided = graphDecider.decide(build(`c${i}`), state);
    } catch (error) {
      // A rejection must be a DomainError; anything else is a bug.
      if (!DomainError.is(error)) throw error;
      return;
    }
    for (const e of decided) {
      state = graphDecider.evolve(state, e);
      events.push(e);
      row = project(row, e, commitMeta(events.length));
    }
    check({ state, row, events });
  });
  return { state, row, events };
}

function checkState(state: GraphState): void {
  if (state.status === 'absent') return;
  for (const [id, edge] of state.edges) {
    expect(state.nodes.get(edge.source)?.incident.has(id)).toBe(true);
    expect(state.nodes.get(edge.target)?.incident.has(id)).toBe(true);
  }
  for (const [id, node] of state.nodes) {
    for (const [edgeId, ends] of node.incident) {
      expect(state.edges.has(edgeId)).toBe(true);
      expect(ends.source === id || ends.target === id).toBe(true);
    }
  }
}

function checkRow(row: GraphRow, state: GraphState): void {
  if (state.status === 'absent') throw new Error('a row without a graph');
  expect([...row.nodes.keys()]).toEqual([...state.nodes.keys()]);
  expect([...row.edges.keys()]).toEqual([...state.edges.keys()]);
  expect([...row.adjacency.keys()]).toEqual([...row.nodes.keys()]);
  let negative = 0;
  for (const [id, edge] of row.edges) {
    const { source, target, directed } = edge;
    expect(row.nodes.has(source) && row.nodes.has(target)).toBe(true);
    expect(row.adjacency.get(source)?.out.get(id)).toBe(edge);
    expect(row.adjacency.get(target)?.in.get(id)).toBe(edge);
    if (!directed) {
      expect(row.adjacency.get(target)?.out.get(id)).toBe(edge);
      expect(row.adjacency.get(source)?.in.get(id)).toBe(edge);
    }
    if (edge.weight !== undefined && edge.weight < 0) negative++;
  }
  expect(row.negativeWeights).toBe(negative);
  for (const [id, { out, in: into, shared }] of row.adjacency) {
    let both = 0;
    for (const [edgeId, edge] of out) {
      expect(edge.source === id || (!edge.directed && edge.target === id)).toBe(
        true,
      );
      expect(row.edges.get(edgeId)).toBe(edge);
      if (into.has(edgeId)) both++;
    }
    for (const [edgeId, edge] of into) {
      expect(edge.target === id || (!edge.directed && edge.source === id)).toBe(
        true,
      );
      expect(row.edges.get(edgeId)).toBe(edge);
    }
    expect(shared).toBe(both);
  }
  let typed = 0;
  for (const [type, ofType] of row.nodesByType) {
    expect(ofType.size).toBeGreaterThan(0);
    for (const [id, node] of ofType) {
      expect(node.nodeType).toBe(type);
      expect(row.nodes.get(id)).toBe(node);
      typed++;
    }
  }
  expect(typed).toBe(row.nodes.size);
}

/** States and rows with their sorted maps spelled out as entry lists, for deep equality. */
function plainState(state: GraphState): unknown {
  if (state.status === 'absent') return state;
  return {
    ...state,
    nodes: [...state.nodes].map(([id, node]) => [
      id,
      { ...node, incident: [...node.incident] },
    ]),
    edges: [...state.edges],
  };
}

function plainRow(row: GraphRow | undefined): unknown {
  if (row === undefined) return row;
  return {
    ...row,
    nodes: [...row.nodes],
    edges: [...row.edges],
    nodesByType: [...row.nodesByType].map(([type, ofType]) => [
      type,
      [...ofType],
    ]),
    adjacency: [...row.adjacency].map(([id, { out, in: into, shared }]) => [
      id,
      [...out],
      [...into],
      shared,
    ]),
  };
}

const steps = fc.array(step, { minLength: 10, maxLength: 60, size: 'max' });

describe('graph properties', () => {
  it('never leaves an edge without both its nodes, in the state or in the projection', () => {
    fc.assert(
      fc.property(graphType, steps, (type, list) => {
        run(type, list, ({ state, row }) => {
          checkState(state);
          if (row !== undefined) checkRow(row, state);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('rebuilds the same state and row when replaying the events from scratch', () => {
    fc.assert(
      fc.property(graphType, steps, (type, list) => {
        const { state, row, events } = run(type, list);
        expect(plainState(stateOf(events))).toEqual(plainState(state));
        expect(plainRow(projectAll(events))).toEqual(plainRow(row));
      }),
      { numRuns: 300 },
    );
  });

  it('continues from a node:v8 snapshot taken anywhere exactly as without one', () => {
    fc.assert(
      fc.property(graphType, steps, fc.nat(), (type, list, cut) => {
        const { state, row, events } = run(type, list);
        const at = cut % (events.length + 1);
        const [head, tail] = [events.slice(0, at), events.slice(at)];
        const restoredState = reviveGraphState(
          deserialize(serialize(stateOf(head))),
        );
        expect(plainState(stateOf(tail, restoredState))).toEqual(
          plainState(state),
        );
        const headRow = projectAll(head);
        const restoredRow =
          headRow === undefined
            ? undefined
            : reviveGraphRow(deserialize(serialize(headRow)));
        expect(plainRow(projectAll(tail, restoredRow))).toEqual(plainRow(row));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the directed edges of workflow and development graphs acyclic', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(GraphType.WORKFLOW, GraphType.DEVELOPMENT),
        steps,
        (type, list) => {
          run(type, list, ({ state }) => {
            if (state.status === 'absent') return;
            expect(
              hasDirectedCycle(state.nodes.keys(), state.edges.values()),
            ).toBe(false);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A small random graph over nodes 0..n-1 with integer or missing weights. */
const smallGraph = (directed: fc.Arbitrary<boolean>) =>
  fc.integer({ min: 2, max: 7 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      edges: fc.array(
        fc.record({
          source: fc.nat({ max: n - 1 }),
          target: fc.nat({ max: n - 1 }),
          weight: fc.option(fc.integer({ min: 0, max: 10 }), {
            nil: undefined,
          }),
          directed,
        }),
        { maxLength: 14 },
      ),
    }),
  );

type SmallGraph = {
  n: number;
  edges: {
    source: number;
    target: number;
    weight: number | undefined;
    directed: boolean;
  }[];
};

function rowOfSmall({ n, edges }: SmallGraph): GraphRow {
  const events = [
    evt.created(),
    ...Array.from({ length: n }, (_, i) => evt.nodeAdded({ nodeId: `v${i}` })),
  ];
  edges.forEach(({ source, target, weight: w, directed }, i) =>
    events.push(
      evt.edgeAdded({
        edgeId: `k${String(i).padStart(2, '0')}`,
        source: `v${source}`,
        target: `v${target}`,
        directed,
        ...(w !== undefined && { weight: w }),
      }),
    ),
  );
  return projectAll(events)!;
}

/** Floyd–Warshall over the same walking rules: the oracle for path costs. */
function allPairs({ n, edges }: SmallGraph): number[][] {
  const d = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 0 : Infinity)),
  );
  for (const { source, target, weight: w, directed } of edges) {
    const cost = w ?? 1;
    d[source]![target] = Math.min(d[source]![target]!, cost);
    if (!directed) d[target]![source] = Math.min(d[target]![source]!, cost);
  }
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        d[i]![j] = Math.min(d[i]![j]!, d[i]![k]! + d[k]![j]!);
  }
  return d;
}

function distances(graph: SmallGraph): number[][] {
  const row = rowOfSmall(graph);
  const queries = graphQueries(rowsOf(row));
  return Array.from({ length: graph.n }, (_, i) =>
    Array.from({ length: graph.n }, (_, j) => {
      const answer = queries.shortestPath(
        create(ShortestPathRequestSchema, {
          graphId: GRAPH_ID,
          fromNodeId: `v${i}`,
          toNodeId: `v${j}`,
        }),
        { position: 0n },
      );
      if (answer instanceof Promise) {
        throw new Error('shortestPath answers synchronously');
      }
      const {
        found = false,
        nodeIds = [],
        edgeIds = [],
        totalCost = 0,
      } = answer;
      if (!found) return Infinity;
      // The answer is a real walk: consecutive nodes joined by the named edges, costing what it says.
      let cost = 0;
      edgeIds.forEach((id, step) => {
        const edge = row.edges.get(id)!;
        const from = nodeIds[step];
        const to = nodeIds[step + 1];
        expect(edge.directed ? [edge.source, edge.target] : [from, to]).toEqual(
          [from, to],
        );
        expect([edge.source, edge.target].sort()).toEqual([from, to].sort());
        cost += edge.weight ?? 1;
      });
      expect(cost).toBe(totalCost);
      return totalCost;
    }),
  );
}

describe('shortest path properties', () => {
  it('is symmetric on undirected graphs and obeys the triangle inequality', () => {
    fc.assert(
      fc.property(smallGraph(fc.constant(false)), (graph) => {
        const d = distances(graph);
        for (let a = 0; a < graph.n; a++) {
          for (let b = 0; b < graph.n; b++) {
            expect(d[a]![b]).toBe(d[b]![a]);
            for (let c = 0; c < graph.n; c++) {
              expect(d[a]![c]!).toBeLessThanOrEqual(d[a]![b]! + d[b]![c]!);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with Floyd–Warshall on mixed graphs', () => {
    fc.assert(
      fc.property(smallGraph(fc.boolean()), (graph) => {
        expect(distances(graph)).toEqual(allPairs(graph));
      }),
      { numRuns: 200 },
    );
  });
});

/** Exhaustive search for a closed trail (no edge twice, directed edges forwards): the oracle for hasCycle. */
function bruteHasCycle(n: number, links: readonly Link[]): boolean {
  const used = new Array<boolean>(links.length).fill(false);
  const walk = (start: string, at: string): boolean =>
    links.some((link, i) => {
      if (used[i]) return false;
      const next =
        link.source === at
          ? link.target
          : !link.directed && link.target === at
            ? link.source
            : undefined;
      if (next === undefined) return false;
      if (next === start) return true;
      used[i] = true;
      const found = walk(start, next);
      used[i] = false;
      return found;
    });
  return Array.from({ length: n }, (_, i) => `v${i}`).some((v) => walk(v, v));
}

describe('metrics properties', () => {
  const mixed = fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      links: fc.array(
        fc.record({
          source: fc.nat({ max: n - 1 }).map((i) => `v${i}`),
          target: fc.nat({ max: n - 1 }).map((i) => `v${i}`),
          directed: fc.boolean(),
        }),
        { maxLength: 7 },
      ),
    }),
  );
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

  it('finds a cycle exactly when a closed trail exists', () => {
    fc.assert(
      fc.property(mixed, ({ n, links }) => {
        expect(graphMetrics(ids(n), links).hasCycle).toBe(
          bruteHasCycle(n, links),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('counts components like a union of reachable sets, and an undirected forest has m = n − components', () => {
    fc.assert(
      fc.property(mixed, ({ n, links }) => {
        const metrics = graphMetrics(ids(n), links);
        const component = new Map<string, number>();
        let count = 0;
        for (const start of ids(n)) {
          if (component.has(start)) continue;
          const stack = [start];
          component.set(start, count);
          for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
            for (const { source, target } of links) {
              const other =
                source === v ? target : target === v ? source : undefined;
              if (other !== undefined && !component.has(other)) {
                component.set(other, count);
                stack.push(other);
              }
            }
          }
          count++;
        }
        expect(metrics.connectedComponents).toBe(count);
        if (links.every((l) => !l.directed)) {
          expect(metrics.hasCycle).toBe(links.length > n - count);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('sorted map properties', () => {
  it('behaves like a Map kept in key order, and never changes an earlier version', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.string({ maxLength: 3 }),
        value: fc.integer(),
      }),
      fc.record({
        kind: fc.constant('delete' as const),
        key: fc.string({ maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.string({ maxLength: 3 }),
        (ops, after) => {
          const model = new Map<string, number>();
          let map = SortedMap.empty<number>();
          const versions: [SortedMap<number>, [string, number][]][] = [];
          for (const o of ops) {
            if (o.kind === 'set') {
              model.set(o.key, o.value);
              map = map.set(o.key, o.value);
            } else {
              model.delete(o.key);
              map = map.delete(o.key);
            }
            const expected = [...model].sort(([x], [y]) =>
              x < y ? -1 : x > y ? 1 : 0,
            );
            versions.push([map, expected]);
            expect(map.size).toBe(model.size);
          }
          for (const [version, expected] of versions) {
            expect([...version]).toEqual(expected);
          }
          const final = versions.at(-1)?.[1] ?? [];
          expect([...map.entries(after)]).toEqual(
            final.filter(([k]) => k > after),
          );
          for (const [k, v] of final) expect(map.get(k)).toBe(v);
        },
      ),
      { numRuns: 300 },
    );
  });
});
