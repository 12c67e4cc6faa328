import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { DomainError } from '@cim/kernel';
import {
  CategorizeRequestSchema,
  DimensionKind,
  FindSimilarRequestSchema,
  QualityDimensionSchema,
  RegionsContainingRequestSchema,
  VoronoiCellRequestSchema,
  type ConceptualspacesEvent,
  type GraphChange,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { nearest, scanNearest } from '../src/concept-index.js';
import { checkDimension } from '../src/domain/definitions.js';
import {
  canonicalValue,
  distance,
  geometryOf,
  inRegion,
  metricPoint,
  poweredDistance,
  type Geometry,
} from '../src/domain/geometry.js';
import {
  graphFeatures,
  recordGraphChange,
} from '../src/domain/graph-features.js';
import { conceptualspacesDecider } from '../src/domain/index.js';
import {
  NO_GRAPH,
  reviveSpaceState,
  type DimensionState,
  type GraphTracking,
  type HalfSpaceState,
} from '../src/domain/state.js';
import {
  liveIn,
  project,
  reviveSpaceRow,
  type SpaceRow,
} from '../src/projection.js';
import { conceptualspacesQueries } from '../src/queries.js';
import {
  SPACE_ID,
  change,
  cmd,
  commitMeta,
  evt,
  projectAll,
  rowsOf,
  stateOf,
  weight,
} from './fixtures.js';

const noContext = { position: 0n };

/** A dimension as a plain spec: what the generators vary. */
type DimSpec =
  | { kind: 'continuous'; min: number; span: number }
  | { kind: 'categorical' | 'ordinal'; n: number }
  | { kind: 'circular' };

const dimSpec: fc.Arbitrary<DimSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('continuous' as const),
      min: fc.integer({ min: -5, max: 5 }),
      span: fc.integer({ min: 1, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('categorical' as const),
      n: fc.integer({ min: 2, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('ordinal' as const),
      n: fc.integer({ min: 2, max: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('circular' as const) }),
  },
);

function dimensionInit(spec: DimSpec, i: number) {
  const base = { dimensionId: `d${i}`, name: `D${i}` };
  switch (spec.kind) {
    case 'continuous':
      return {
        ...base,
        kind: DimensionKind.CONTINUOUS,
        min: spec.min,
        max: spec.min + spec.span,
      };
    case 'categorical':
    case 'ordinal':
      return {
        ...base,
        kind:
          spec.kind === 'categorical'
            ? DimensionKind.CATEGORICAL
            : DimensionKind.ORDINAL,
        categories: Array.from({ length: spec.n }, (_, k) => `k${k}`),
      };
    case 'circular':
      return { ...base, kind: DimensionKind.CIRCULAR };
  }
}

/**
 * A value of a dimension: in range, angles anywhere (they are reduced).
 * Magnitudes below 1e-100 are read as 0 (min when 0 is out of range): differences that small underflow
 * to 0 once raised to p, which is floating point, not geometry.
 */
function valueOf(spec: DimSpec): fc.Arbitrary<number> {
  const zero =
    spec.kind !== 'continuous' || (spec.min <= 0 && spec.min + spec.span > 0);
  const small = zero || spec.kind !== 'continuous' ? 0 : spec.min;
  return rawValueOf(spec).map((v) => (Math.abs(v) < 1e-100 ? small : v));
}

function rawValueOf(spec: DimSpec): fc.Arbitrary<number> {
  switch (spec.kind) {
    case 'continuous':
      return fc.double({
        min: spec.min,
        max: spec.min + spec.span,
        noNaN: true,
        maxExcluded: true,
      });
    case 'categorical':
    case 'ordinal':
      return fc.double({ min: 0, max: spec.n, noNaN: true, maxExcluded: true });
    case 'circular':
      return fc.double({ min: -720, max: 720, noNaN: true });
  }
}

const pValue = fc.constantFrom(1, 1.5, 2, 3, Infinity);

/** A space: dimensions, weights and p. */
const spaceSpec = fc
  .record({
    dims: fc.array(dimSpec, { minLength: 1, maxLength: 5 }),
    p: pValue,
  })
  .chain(({ dims, p }) =>
    fc.record({
      dims: fc.constant(dims),
      p: fc.constant(p),
      weights: fc.array(fc.double({ min: 0, max: 4, noNaN: true }), {
        minLength: dims.length,
        maxLength: dims.length,
      }),
    }),
  );
type SpaceSpec = { dims: DimSpec[]; p: number; weights: number[] };

function dimensionsOf(spec: SpaceSpec): DimensionState[] {
  return spec.dims.map((d, i) =>
    checkDimension(
      create(QualityDimensionSchema, dimensionInit(d, i)),
      `d${i}`,
    ),
  );
}

function geometry(spec: SpaceSpec, dimensions: DimensionState[]): Geometry {
  return geometryOf(dimensions, {
    weights: spec.weights.map((value) => ({ kind: 'constant', value })),
    p: spec.p,
    context: '',
  });
}

const pointOf = (spec: SpaceSpec) => fc.tuple(...spec.dims.map(valueOf));

/** A canonical raw point of the space. */
const canonical = (dimensions: DimensionState[], raw: readonly number[]) =>
  raw.map((v, i) => canonicalValue(dimensions[i]!, v));

function createdEvent(spec: SpaceSpec): ConceptualspacesEvent {
  const e = conceptualspacesDecider.decide(
    cmd.create({
      dimensions: spec.dims.map(dimensionInit),
      metric: {
        minkowskiP: spec.p,
        weights: spec.weights.map((w) => weight.constant(w)),
      },
    }),
    conceptualspacesDecider.initialState(),
  );
  return e[0]!;
}

describe('conceptual space geometry', () => {
  it('satisfies the metric axioms on sampled points, circular and categorical dimensions included', () => {
    fc.assert(
      fc.property(
        spaceSpec.chain((spec) =>
          fc.tuple(
            fc.constant(spec),
            pointOf(spec),
            pointOf(spec),
            pointOf(spec),
          ),
        ),
        ([spec, ra, rb, rc]) => {
          const dims = dimensionsOf(spec);
          const g = geometry(spec, dims);
          const [a, b, c] = [ra, rb, rc].map((r) =>
            metricPoint(dims, canonical(dims, r)),
          );
          const ab = distance(g, a!, b!);
          const bc = distance(g, b!, c!);
          const ac = distance(g, a!, c!);
          expect(ab).toBeGreaterThanOrEqual(0);
          expect(distance(g, a!, a!)).toBe(0);
          expect(distance(g, b!, a!)).toBe(ab);
          expect(ac).toBeLessThanOrEqual((ab + bc) * (1 + 1e-12) + 1e-12);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('tells distinct points apart when every weight is positive', () => {
    fc.assert(
      fc.property(
        spaceSpec.chain((spec) =>
          fc.tuple(fc.constant(spec), pointOf(spec), pointOf(spec)),
        ),
        ([spec, ra, rb]) => {
          const dims = dimensionsOf(spec);
          const g = geometry(
            { ...spec, weights: spec.weights.map((w) => w + 0.5) },
            dims,
          );
          const a = metricPoint(dims, canonical(dims, ra));
          const b = metricPoint(dims, canonical(dims, rb));
          const same = a.every((v, i) => v === b[i]);
          expect(distance(g, a, b) === 0).toBe(same);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps every convex combination of two members inside a region', () => {
    const vector = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), {
      minLength: 3,
      maxLength: 3,
    });
    fc.assert(
      fc.property(
        vector,
        vector,
        fc.array(fc.tuple(vector, fc.double({ min: 0, max: 5, noNaN: true })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (a, b, planes, t) => {
          // Half-spaces that hold both points by construction: offset at most min(n·a, n·b).
          const boundaries: HalfSpaceState[] = planes
            .filter(([n]) => n.some((x) => x !== 0))
            .map(([n, slack]) => ({
              normal: n,
              offset: Math.min(dot(n, a), dot(n, b)) - slack,
            }));
          expect(inRegion(boundaries, a)).toBe(true);
          expect(inRegion(boundaries, b)).toBe(true);
          const between = a.map((x, i) => t * x + (1 - t) * b[i]!);
          expect(inRegion(boundaries, between)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts a region whose members lie inside, and then contains their convex combinations', () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.double({ min: 0, max: 5, noNaN: true, maxExcluded: true }),
          fc.double({ min: 0, max: 10, noNaN: true, maxExcluded: true }),
        ),
        fc.tuple(
          fc.double({ min: 0, max: 5, noNaN: true, maxExcluded: true }),
          fc.double({ min: 0, max: 10, noNaN: true, maxExcluded: true }),
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ([ax, ay], [bx, by], t) => {
          const history = [
            evt.created(),
            evt.conceptAdded({ conceptId: 'a', coordinates: [ax, ay] }),
            evt.conceptAdded({ conceptId: 'b', coordinates: [bx, by] }),
          ];
          const events = conceptualspacesDecider.decide(
            cmd.addRegion({ prototype: [ax, ay], members: ['a', 'b'] }),
            stateOf(history),
          );
          const row = projectAll([...history, ...events])!;
          const query = conceptualspacesQueries(rowsOf(row));
          const between = [t * ax + (1 - t) * bx, t * ay + (1 - t) * by];
          const answer = query.regionsContaining(
            create(RegionsContainingRequestSchema, {
              conceptualspacesId: SPACE_ID,
              point: {
                kind: { case: 'point', value: { coordinates: between } },
              },
            }),
            noContext,
          ) as { regionIds: string[] };
          expect(answer.regionIds).toEqual(['r1']);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('categorises a point into the region of the nearest prototype (brute force)', () => {
    fc.assert(
      fc.property(
        spaceSpec.chain((spec) =>
          fc.tuple(
            fc.constant(spec),
            fc.array(pointOf(spec), { minLength: 1, maxLength: 8 }),
            pointOf(spec),
          ),
        ),
        ([spec, prototypes, raw]) => {
          const created = createdEvent(spec);
          const dims = dimensionsOf(spec);
          const regions = prototypes.map((proto, i) =>
            evt.regionAdded({
              regionId: `r${i}`,
              prototype: canonical(dims, proto),
              boundaries: [],
            }),
          );
          const row = projectAll([created, ...regions])!;
          const answer = conceptualspacesQueries(rowsOf(row)).categorize(
            create(CategorizeRequestSchema, {
              conceptualspacesId: SPACE_ID,
              point: { kind: { case: 'point', value: { coordinates: raw } } },
            }),
            noContext,
          ) as { found: boolean; regionId: string; distance: number };
          const g = geometry(spec, dims);
          const x = metricPoint(dims, canonical(dims, raw));
          const ranked = prototypes
            .map((proto, i) => ({
              id: `r${i}`,
              d: distance(g, x, metricPoint(dims, canonical(dims, proto))),
            }))
            .sort((p, q) => p.d - q.d || (p.id < q.id ? -1 : 1));
          expect(answer.found).toBe(true);
          expect(answer.regionId).toBe(ranked[0]!.id);
          expect(answer.distance).toBe(ranked[0]!.d);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bounds each Voronoi cell by exactly the points categorised into it (p = 2, linear dimensions)', () => {
    const linear = fc
      .array(
        fc.record({
          kind: fc.constant('continuous' as const),
          min: fc.integer({ min: -5, max: 5 }),
          span: fc.integer({ min: 1, max: 20 }),
        }),
        { minLength: 1, maxLength: 4 },
      )
      .chain((dims) =>
        fc.record({
          dims: fc.constant(dims as DimSpec[]),
          p: fc.constant(2),
          weights: fc.array(fc.double({ min: 0.1, max: 4, noNaN: true }), {
            minLength: dims.length,
            maxLength: dims.length,
          }),
        }),
      );
    fc.assert(
      fc.property(
        linear.chain((spec) =>
          fc.tuple(
            fc.constant(spec),
            fc.array(pointOf(spec), { minLength: 2, maxLength: 6 }),
            pointOf(spec),
          ),
        ),
        ([spec, prototypes, x]) => {
          const row = projectAll([
            createdEvent(spec),
            ...prototypes.map((proto, i) =>
              evt.regionAdded({
                regionId: `r${i}`,
                prototype: proto,
                boundaries: [],
              }),
            ),
          ])!;
          const query = conceptualspacesQueries(rowsOf(row));
          const dims = dimensionsOf(spec);
          const g = geometry(spec, dims);
          const mx = metricPoint(dims, x);
          const d = prototypes.map((proto) =>
            distance(g, mx, metricPoint(dims, proto)),
          );
          const best = Math.min(...d);
          // Near a tie, rounding (raw bisectors, normalised distances) may put a point either way.
          const near = (i: number) =>
            Math.abs(d[i]! - best) < 1e-6 * (1 + best);
          const ties = prototypes.filter((_, i) => near(i)).length;
          prototypes.forEach((_, i) => {
            if (near(i) && ties > 1) return;
            const cell = query.voronoiCell(
              create(VoronoiCellRequestSchema, {
                conceptualspacesId: SPACE_ID,
                regionId: `r${i}`,
              }),
              noContext,
            ) as { boundaries: HalfSpaceState[] };
            expect(inRegion(cell.boundaries, x)).toBe(near(i));
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

type Op =
  | { op: 'add' | 'move'; id: string; point: number[] }
  | { op: 'remove'; id: string };

describe('the similarity index', () => {
  it('answers FindSimilar exactly as a brute-force scan of the concepts, through adds, moves and removes', () => {
    fc.assert(
      fc.property(
        spaceSpec.chain((spec) =>
          fc.tuple(
            fc.constant(spec),
            fc.array(
              fc.oneof(
                {
                  weight: 4,
                  arbitrary: fc.record({
                    op: fc.constantFrom('add' as const, 'move' as const),
                    id: fc.integer({ min: 0, max: 400 }).map(String),
                    point: pointOf(spec),
                  }),
                },
                {
                  weight: 1,
                  arbitrary: fc.record({
                    op: fc.constant('remove' as const),
                    id: fc.integer({ min: 0, max: 400 }).map(String),
                  }),
                },
              ),
              { minLength: 1, maxLength: 400 },
            ),
            fc.array(
              fc.tuple(
                pointOf(spec),
                fc.integer({ min: 1, max: 15 }),
                fc.option(fc.double({ min: 0, max: 1.5, noNaN: true }), {
                  nil: undefined,
                }),
              ),
              { minLength: 1, maxLength: 5 },
            ),
          ),
        ),
        ([spec, ops, queries]) => {
          const dims = dimensionsOf(spec);
          let row = projectAll([createdEvent(spec)])!;
          let version = 1;
          for (const o of ops as Op[]) {
            const id = `k${o.id}`;
            const known = row.space.concepts.has(id);
            let e: ConceptualspacesEvent | undefined;
            if (o.op === 'remove')
              e = known ? evt.conceptRemoved(id) : undefined;
            else {
              const coordinates = canonical(dims, o.point);
              e = known
                ? evt.conceptMoved({ conceptId: id, coordinates })
                : evt.conceptAdded({ conceptId: id, coordinates });
            }
            if (e !== undefined) row = project(row, e, commitMeta(++version))!;
          }
          const g = geometry(spec, dims);
          for (const [raw, k, threshold] of queries) {
            const q = metricPoint(dims, canonical(dims, raw));
            const options = { k, threshold, live: liveIn(row.space) };
            const found = nearest(row.index, g, q, options);
            expect(found).toEqual(bruteForce(row, g, q, k, threshold));
            expect(scanNearest(row.index, g, q, options)).toEqual(found);
          }
          expect(row.index.entries - row.index.stale).toBe(
            row.space.concepts.size,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('excludes the query concept and resolves a context through the query handler', () => {
    const contextual = evt.created({
      metric: {
        minkowskiP: 2,
        weights: [weight.contextual(1, { flat: 0 }), weight.constant()],
        currentContext: '',
      },
    });
    const row = projectAll([
      contextual,
      evt.conceptAdded({ conceptId: 'a', coordinates: [1, 1] }),
      evt.conceptAdded({ conceptId: 'b', coordinates: [9, 1.5] }),
      evt.conceptAdded({ conceptId: 'c', coordinates: [1.5, 4] }),
    ])!;
    const query = conceptualspacesQueries(rowsOf(row));
    const ask = (context?: string) =>
      (
        query.findSimilar(
          create(FindSimilarRequestSchema, {
            conceptualspacesId: SPACE_ID,
            target: { kind: { case: 'conceptId', value: 'a' } },
            k: 2,
            ...(context !== undefined && { context }),
          }),
          noContext,
        ) as { matches: Array<{ conceptId: string }> }
      ).matches.map((m) => m.conceptId);
    expect(ask()).toEqual(['c', 'b']);
    // In context "flat" x weighs nothing: b (Δy 0.5) is nearer than c (Δy 3).
    expect(ask('flat')).toEqual(['b', 'c']);
  });
});

function bruteForce(
  row: SpaceRow,
  g: Geometry,
  q: Float64Array,
  k: number,
  threshold: number | undefined,
) {
  const all = [...row.space.concepts.entries()].map(([id, concept]) => {
    const powered = poweredDistance(
      g,
      q,
      0,
      metricPoint(row.space.dimensions, concept.coordinates),
      0,
    );
    return {
      id,
      powered,
      distance: distance(
        g,
        q,
        metricPoint(row.space.dimensions, concept.coordinates),
      ),
    };
  });
  return all
    .filter((c) => threshold === undefined || c.distance <= threshold)
    .sort((a, b) => a.powered - b.powered || (a.id < b.id ? -1 : 1))
    .slice(0, k)
    .map(({ id, distance: d }) => ({ id, distance: d }));
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, x, i) => sum + x * b[i]!, 0);
}

describe('graph features', () => {
  const changeArb: fc.Arbitrary<GraphChange> = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('n1', 'n2', 'n3'),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
      )
      .map(([id, a, l, k]) => change.nodeAdded(id, a, l, k)),
    fc
      .tuple(fc.constantFrom('n1', 'n2', 'n3'), fc.integer({ min: 0, max: 3 }))
      .map(([id, k]) => change.nodeUpdated(id, k)),
    fc.constantFrom('n1', 'n2', 'n3').map(change.nodeRemoved),
    fc
      .tuple(
        fc.constantFrom('e1', 'e2'),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
      )
      .map(([id, r, k]) => change.edgeAdded(id, r, k)),
    fc
      .tuple(
        fc.constantFrom('e1', 'e2'),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      )
      .map(([id, r, k]) => change.edgeUpdated(id, r, k)),
    fc.constantFrom('e1', 'e2').map(change.edgeRemoved),
    fc.record({ tagCount: fc.integer({ min: 0, max: 3 }) }).map(change.updated),
    fc.constant(change.touched()),
  );

  const summary = (g: GraphTracking) => ({
    applied: g.applied,
    pending: g.pending.length,
    nodes: [...g.nodes.entries()],
    edges: [...g.edges.entries()],
    features: graphFeatures(g),
    counters: [
      g.abstractNodes,
      g.elementRichness,
      g.events,
      g.changes,
      g.tagCount,
    ],
  });

  it('reaches the same counters whatever order the changes arrive in, and ignores repeats', () => {
    fc.assert(
      fc.property(
        fc.array(changeArb, { minLength: 1, maxLength: 30 }).chain((changes) =>
          fc.tuple(
            fc.constant(changes),
            fc.shuffledSubarray([...changes.keys(), ...changes.keys()], {
              minLength: 0,
            }),
            fc.shuffledSubarray([...Array(changes.length + 1).keys()], {
              minLength: changes.length + 1,
              maxLength: changes.length + 1,
            }),
          ),
        ),
        ([changes, repeats, order]) => {
          const all: Array<[bigint, GraphChange]> = [
            [1n, change.created()],
            ...changes.map((c, i): [bigint, GraphChange] => [BigInt(i + 2), c]),
          ];
          const inOrder = all.reduce(
            (g, [v, c]) => recordGraphChange(g, v, c),
            NO_GRAPH,
          );
          let shuffled = NO_GRAPH;
          for (const i of order)
            shuffled = recordGraphChange(shuffled, all[i]![0], all[i]![1]);
          for (const i of repeats)
            shuffled = recordGraphChange(
              shuffled,
              all[i % all.length]![0],
              all[i % all.length]![1],
            );
          expect(summary(shuffled)).toEqual(summary(inOrder));
          expect(inOrder.applied).toBe(BigInt(all.length));
          graphFeatures(inOrder).forEach((f) => {
            expect(f).toBeGreaterThanOrEqual(0);
            expect(f).toBeLessThan(1);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('structured clone', () => {
  it('revives a state and a row that decide and answer as the originals', () => {
    const history = [
      evt.created(),
      evt.conceptAdded({ conceptId: 'a', coordinates: [1, 1] }),
      evt.conceptAdded({ conceptId: 'b', coordinates: [3, 3] }),
      evt.regionAdded({ members: ['a', 'b'] }),
    ];
    const state = stateOf(history);
    const revived = reviveSpaceState(deserialize(serialize(state)));
    const command = cmd.moveConcept({ conceptId: 'b', coordinates: [8, 8] });
    expect(conceptualspacesDecider.decide(command, revived)).toEqual(
      conceptualspacesDecider.decide(command, state),
    );
    expect(() =>
      conceptualspacesDecider.decide(
        cmd.addConcept({ conceptId: 'a' }),
        revived,
      ),
    ).toThrow(DomainError);

    const row = projectAll(history)!;
    const revivedRow = reviveSpaceRow(deserialize(serialize(row)));
    const request = create(FindSimilarRequestSchema, {
      conceptualspacesId: SPACE_ID,
      target: { kind: { case: 'point', value: { coordinates: [2, 2] } } },
      k: 5,
    });
    expect(
      conceptualspacesQueries(rowsOf(revivedRow)).findSimilar(
        request,
        noContext,
      ),
    ).toEqual(
      conceptualspacesQueries(rowsOf(row)).findSimilar(request, noContext),
    );
  });
});
