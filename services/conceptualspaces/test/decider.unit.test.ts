import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cim/kernel';
import { DimensionKind } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { deciderSpec } from '@cim/testing';
import { conceptualspacesDecider } from '../src/domain/index.js';
import { LIMITS } from '../src/domain/rules.js';
import {
  GRAPH_SPACE_ID,
  createGraphSpace,
  reactionCommand,
} from '../src/reactions.js';
import {
  COMMAND_ID,
  SPACE_ID,
  XY,
  change,
  cmd,
  concepts,
  dim,
  evt,
  stateOf,
  weight,
} from './fixtures.js';

const given = deciderSpec(conceptualspacesDecider);

const created = [evt.created()];
const deleted = [...created, evt.deleted()];
const withC1 = [...created, evt.conceptAdded()];
const withRegion = [...withC1, evt.regionAdded({ members: ['c1'] })];

/** One command of every kind that would change the default space with c1 and r1. */
const changes = [
  ['AddQualityDimension', cmd.addDimension()],
  ['AddConcept', cmd.addConcept({ conceptId: 'c2' })],
  ['MoveConcept', cmd.moveConcept()],
  ['RemoveConcept', cmd.removeConcept()],
  ['AddRegion', cmd.addRegion({ regionId: 'r2' })],
  ['RecomputePrototypes', cmd.recomputePrototypes()],
  ['DiscoverRegions', cmd.discoverRegions({ minPoints: 1 })],
  ['ReplaceDimensionWeights', cmd.replaceWeights()],
  ['SetMetricContext', cmd.setContext('')],
  ['DeleteSpace', cmd.delete()],
  ['PlaceGraphConcept', cmd.place(1n, change.created())],
] as const;

const graphSpace = conceptualspacesDecider.decide(
  reactionCommand(createGraphSpace(), COMMAND_ID),
  conceptualspacesDecider.initialState(),
);
const onGraphs = { conceptualspacesId: GRAPH_SPACE_ID };
const place = (version: bigint, c: ReturnType<typeof change.created>) =>
  cmd.place(version, c, onGraphs);
const recorded = (version: bigint, c: ReturnType<typeof change.created>) => {
  const e = evt.graphChangeRecorded(version, c);
  if (e.body.case === 'graphChangeRecorded') {
    e.body.value.conceptualspacesId = GRAPH_SPACE_ID;
  }
  return e;
};
const graphConcept = (
  coordinates: number[],
  f: { label?: string } = { label: 'g' },
) =>
  evt.conceptAdded({
    conceptualspacesId: GRAPH_SPACE_ID,
    conceptId: 'g1',
    coordinates,
    sourceRef: 'graph:g1',
    ...f,
  });

describe('conceptual spaces decider', () => {
  it('rejects a command without a body with VALIDATION_FAILED', () => {
    given([])
      .when(cmd.empty())
      .thenRejects(ErrorCode.VALIDATION_FAILED, /no body/);
  });

  describe('when the space does not exist', () => {
    it.each(changes)('rejects %s with NOT_FOUND', (_, command) => {
      given([]).when(command).thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('when the space is deleted', () => {
    it.each(changes)('rejects %s with INVALID_TRANSITION', (_, command) => {
      given(deleted).when(command).thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects CreateConceptualSpace with ALREADY_EXISTS', () => {
      given(deleted).when(cmd.create()).thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('CreateConceptualSpace', () => {
    it('creates the space with one weight per dimension', () => {
      given([]).when(cmd.create()).then([evt.created()]);
    });
    it('gives every dimension its effective range and kind', () => {
      const dimensions = [
        { dimensionId: 'size', name: 'Size', max: 3 },
        dim.categorical('colour', ['red', 'green', 'blue']),
        dim.ordinal('grade', ['low', 'mid', 'high', 'top']),
        dim.circular('hue'),
      ];
      given([])
        .when(cmd.create({ dimensions, metric: { minkowskiP: 1 } }))
        .then([
          evt.created({
            dimensions: [
              { ...dimensions[0], kind: DimensionKind.CONTINUOUS },
              { ...dimensions[1], min: 0, max: 3 },
              { ...dimensions[2], min: 0, max: 4 },
              { ...dimensions[3], min: 0, max: 360 },
            ],
            metric: {
              weights: [1, 2, 3, 4].map(() => weight.constant()),
              minkowskiP: 1,
              currentContext: '',
            },
          }),
        ]);
    });
    it('takes an absent metric as the unweighted Euclidean one', () => {
      given([])
        .when(cmd.create({ metric: undefined }))
        .then([evt.created()]);
    });
    it('accepts p = Infinity (Chebyshev)', () => {
      const [e] = given([])
        .when(cmd.create({ metric: { minkowskiP: Infinity } }))
        .events();
      expect(
        e?.body.case === 'created' && e.body.value.metric?.minkowskiP,
      ).toBe(Infinity);
    });
    it('clamps an attentional weight into its range', () => {
      const metric = {
        minkowskiP: 2,
        weights: [weight.attentional(5, 0, 2), weight.attentional(-1, 0.5, 1)],
      };
      given([])
        .when(cmd.create({ metric }))
        .then([
          evt.created({
            metric: {
              minkowskiP: 2,
              weights: [
                weight.attentional(2, 0, 2),
                weight.attentional(0.5, 0.5, 1),
              ],
              currentContext: '',
            },
          }),
        ]);
    });
    it('accepts a current context that a contextual weight overrides', () => {
      const metric = {
        minkowskiP: 2,
        weights: [weight.contextual(1, { night: 3 }), weight.constant()],
        currentContext: 'night',
      };
      given([])
        .when(cmd.create({ metric }))
        .then([evt.created({ metric })]);
    });
    it('accepts a current context that a dimension names', () => {
      const dimensions = [
        dim.continuous('x', 0, 10, 'taste'),
        dim.continuous('y'),
      ];
      const metric = { minkowskiP: 2, currentContext: 'taste' };
      const [e] = given([]).when(cmd.create({ dimensions, metric })).events();
      expect(
        e?.body.case === 'created' && e.body.value.metric?.currentContext,
      ).toBe('taste');
    });
    it.each([
      ['a blank name', { name: ' ' }, /name must not be blank/],
      ['no dimensions', { dimensions: [] }, /at least one dimension/],
      [
        'too many dimensions',
        {
          dimensions: Array.from({ length: 65 }, (_, i) =>
            dim.continuous(`d${i}`),
          ),
        },
        /at most 64/,
      ],
      ['a bad range', { dimensions: [dim.continuous('x', 5, 1)] }, /bad range/],
      ['a NaN bound', { dimensions: [dim.continuous('x', NaN, 1)] }, /finite/],
      [
        'a categorical dimension without categories',
        { dimensions: [dim.categorical('c', [])] },
        /1 to 1000/,
      ],
      [
        'a categorical dimension with a range',
        { dimensions: [{ ...dim.categorical('c', ['a']), max: 3 }] },
        /leave min and max 0/,
      ],
      [
        'a repeated category',
        { dimensions: [dim.categorical('c', ['a', 'a'])] },
        /repeats/,
      ],
      [
        'a circular dimension with a range',
        { dimensions: [{ ...dim.circular('h'), max: 180 }] },
        /the circle/,
      ],
      [
        'categories on a continuous dimension',
        { dimensions: [{ ...dim.continuous('x'), categories: ['a'] }] },
        /only for categorical/,
      ],
      [
        'a repeated dimension id',
        { dimensions: [dim.continuous('x'), dim.continuous('x')] },
        /repeats the id/,
      ],
      [
        'a dimension id with a dot',
        { dimensions: [dim.continuous('x.y')] },
        /dimension_id/,
      ],
      ['p below 1', { metric: { minkowskiP: 0.5 } }, /at least 1/],
      ['p left 0', { metric: {} }, /at least 1/],
      ['p NaN', { metric: { minkowskiP: NaN } }, /at least 1/],
      [
        'a weight count unlike the dimensions',
        { metric: { minkowskiP: 2, weights: [weight.constant()] } },
        /one weight per dimension/,
      ],
      [
        'a negative weight',
        {
          metric: {
            minkowskiP: 2,
            weights: [weight.constant(-1), weight.constant()],
          },
        },
        /negative/,
      ],
      [
        'a negative override',
        {
          metric: {
            minkowskiP: 2,
            weights: [weight.contextual(1, { a: -2 }), weight.constant()],
          },
        },
        /negative/,
      ],
      [
        'an attentional min above max',
        {
          metric: {
            minkowskiP: 2,
            weights: [weight.attentional(1, 2, 1), weight.constant()],
          },
        },
        /above max/,
      ],
      [
        'a weight of no kind',
        { metric: { minkowskiP: 2, weights: [{}, weight.constant()] } },
        /constant, contextual or attentional/,
      ],
      [
        'an unknown current context',
        { metric: { minkowskiP: 2, currentContext: 'dusk' } },
        /named by no dimension/,
      ],
      [
        'a space id with a dot',
        { conceptualspacesId: 'a.b' },
        /conceptualspaces_id/,
      ],
    ] as const)('rejects %s with VALIDATION_FAILED', (_, fields, message) => {
      given([])
        .when(cmd.create(fields as never))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it('rejects an existing id with ALREADY_EXISTS', () => {
      given(created).when(cmd.create()).thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('AddQualityDimension', () => {
    it('adds a dimension with weight 1 by default', () => {
      given(created).when(cmd.addDimension()).then([evt.dimensionAdded()]);
    });
    it('adds a dimension with its weight', () => {
      given(created)
        .when(
          cmd.addDimension({
            dimension: dim.circular('hue'),
            weight: weight.constant(3),
          }),
        )
        .then([
          evt.dimensionAdded({
            dimension: { ...dim.circular('hue'), min: 0, max: 360 },
            weight: weight.constant(3),
          }),
        ]);
    });
    it('rejects an existing dimension id with ALREADY_EXISTS', () => {
      given(created)
        .when(cmd.addDimension({ dimension: dim.continuous('x') }))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects a space with concepts with BUSINESS_RULE_VIOLATION', () => {
      given(withC1)
        .when(cmd.addDimension())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /concepts or regions/);
    });
    it('rejects a space with regions with BUSINESS_RULE_VIOLATION', () => {
      given([...created, evt.regionAdded()])
        .when(cmd.addDimension())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
    it('rejects a 65th dimension with BUSINESS_RULE_VIOLATION', () => {
      const dimensions = Array.from({ length: 64 }, (_, i) =>
        dim.continuous(`d${i}`),
      );
      given([
        evt.created({
          dimensions,
          metric: {
            minkowskiP: 2,
            weights: dimensions.map(() => weight.constant()),
          },
        }),
      ])
        .when(cmd.addDimension())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /at most 64/);
    });
    it('rejects a missing dimension with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addDimension({ dimension: undefined }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a negative weight with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addDimension({ weight: weight.constant(-1) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('AddConcept', () => {
    it('adds a concept', () => {
      given(created).when(cmd.addConcept()).then([evt.conceptAdded()]);
    });
    it('carries its label and source reference', () => {
      given(created)
        .when(cmd.addConcept({ label: 'apple', sourceRef: 'document:d1' }))
        .then([evt.conceptAdded({ label: 'apple', sourceRef: 'document:d1' })]);
    });
    it('carries the source version it mirrors', () => {
      given(created)
        .when(cmd.addConcept({ sourceVersion: 7n }))
        .then([evt.conceptAdded({ sourceVersion: 7n })]);
    });
    it('derives the concept id from the command id when none is given', () => {
      given(created)
        .when(cmd.addConcept({ conceptId: '' }))
        .then([evt.conceptAdded({ conceptId: COMMAND_ID })]);
    });
    it('reduces angles on a circular dimension to [0, 360)', () => {
      const space = [
        evt.created({ dimensions: [dim.circular('hue'), dim.continuous('y')] }),
      ];
      given(space)
        .when(cmd.addConcept({ coordinates: [-30, 1] }))
        .then([evt.conceptAdded({ coordinates: [330, 1] })]);
      given(space)
        .when(cmd.addConcept({ coordinates: [720, 1] }))
        .then([evt.conceptAdded({ coordinates: [0, 1] })]);
    });
    it('accepts any value within a category cell', () => {
      const space = [
        evt.created({
          dimensions: [
            { ...dim.categorical('c', ['a', 'b']), max: 2 },
            dim.continuous('y'),
          ],
        }),
      ];
      given(space)
        .when(cmd.addConcept({ coordinates: [1.5, 1] }))
        .then([evt.conceptAdded({ coordinates: [1.5, 1] })]);
      given(space)
        .when(cmd.addConcept({ coordinates: [2, 1] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('accepts only min on a zero-width range', () => {
      const space = [
        evt.created({
          dimensions: [dim.continuous('x', 3, 3), dim.continuous('y')],
        }),
      ];
      given(space)
        .when(cmd.addConcept({ coordinates: [3, 1] }))
        .then([evt.conceptAdded({ coordinates: [3, 1] })]);
      given(space)
        .when(cmd.addConcept({ coordinates: [3.5, 1] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /outside/);
    });
    it.each([
      ['the wrong arity', { coordinates: [1] }, /2 values/],
      ['a NaN value', { coordinates: [NaN, 1] }, /finite/],
      ['an infinite value', { coordinates: [1, Infinity] }, /finite/],
      ['a value at max', { coordinates: [10, 1] }, /outside/],
      ['a value below min', { coordinates: [-0.1, 1] }, /outside/],
      [
        'a label over 500 characters',
        { label: 'x'.repeat(501) },
        /at most 500/,
      ],
      ['a concept id with a space', { conceptId: 'c 1' }, /concept_id/],
    ] as const)('rejects %s with VALIDATION_FAILED', (_, fields, message) => {
      given(created)
        .when(cmd.addConcept(fields as never))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it('rejects an existing concept id with ALREADY_EXISTS', () => {
      given(withC1)
        .when(cmd.addConcept())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it("rejects a graph's concept id with ALREADY_EXISTS", () => {
      given([...graphSpace, recorded(2n, change.created())])
        .when(
          cmd.addConcept({
            ...onGraphs,
            conceptId: 'g1',
            coordinates: [0, 0, 0, 0, 0],
          }),
        )
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('MoveConcept', () => {
    it('moves a concept', () => {
      given(withC1).when(cmd.moveConcept()).then([evt.conceptMoved()]);
    });
    it('records the regions the concept leaves', () => {
      given(withRegion)
        .when(cmd.moveConcept({ coordinates: [7, 1] }))
        .then([evt.conceptMoved({ coordinates: [7, 1], leftRegions: ['r1'] })]);
      const state = stateOf([
        ...withRegion,
        evt.conceptMoved({ coordinates: [7, 1], leftRegions: ['r1'] }),
      ]);
      expect(
        state.status === 'active' && state.regions.get('r1')?.members,
      ).toEqual([]);
      expect(
        state.status === 'active' && state.concepts.get('c1')?.regions,
      ).toEqual([]);
    });
    it('keeps the regions that still hold it', () => {
      given(withRegion)
        .when(cmd.moveConcept({ coordinates: [4, 9] }))
        .then([evt.conceptMoved({ coordinates: [4, 9] })]);
    });
    it('rejects an unknown concept with NOT_FOUND', () => {
      given(created).when(cmd.moveConcept()).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects the same coordinates with INVALID_TRANSITION', () => {
      given(withC1)
        .when(cmd.moveConcept({ coordinates: [1, 1] }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects coordinates out of range with VALIDATION_FAILED', () => {
      given(withC1)
        .when(cmd.moveConcept({ coordinates: [1, 11] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    describe('when both carry a source version', () => {
      const mirrored = [...created, evt.conceptAdded({ sourceVersion: 3n })];
      it('records the source version with the move', () => {
        given(mirrored)
          .when(cmd.moveConcept({ sourceVersion: 4n }))
          .then([evt.conceptMoved({ sourceVersion: 4n })]);
      });
      it('does nothing for a version already mirrored', () => {
        given(mirrored)
          .when(cmd.moveConcept({ sourceVersion: 3n }))
          .thenNothing();
        given([...mirrored, evt.conceptMoved({ sourceVersion: 5n })])
          .when(cmd.moveConcept({ coordinates: [3, 3], sourceVersion: 4n }))
          .thenNothing();
      });
      it('keeps the last source version across an unversioned move', () => {
        given([...mirrored, evt.conceptMoved()])
          .when(cmd.moveConcept({ coordinates: [3, 3], sourceVersion: 2n }))
          .thenNothing();
      });
    });
    it("rejects a graph's concept with BUSINESS_RULE_VIOLATION", () => {
      given([
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
      ])
        .when(
          cmd.moveConcept({
            ...onGraphs,
            conceptId: 'g1',
            coordinates: [0.5, 0, 0, 0, 0],
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /placed by its graph/);
    });
  });

  describe('RemoveConcept', () => {
    it('removes a concept and its memberships', () => {
      given(withRegion).when(cmd.removeConcept()).then([evt.conceptRemoved()]);
      const state = stateOf([...withRegion, evt.conceptRemoved()]);
      expect(state.status === 'active' && state.concepts.has('c1')).toBe(false);
      expect(
        state.status === 'active' && state.regions.get('r1')?.members,
      ).toEqual([]);
    });
    it('rejects an unknown concept with NOT_FOUND', () => {
      given(withC1)
        .when(cmd.removeConcept('c9'))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it("rejects a graph's concept with BUSINESS_RULE_VIOLATION", () => {
      given([
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
      ])
        .when(withSpace(cmd.removeConcept('g1')))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });

  describe('AddRegion', () => {
    it('adds a region with its members, sorted', () => {
      given([...created, ...concepts([1, 1], [2, 3])])
        .when(cmd.addRegion({ name: 'left', members: ['c2', 'c1'] }))
        .then([evt.regionAdded({ name: 'left', members: ['c1', 'c2'] })]);
      const state = stateOf([
        ...created,
        ...concepts([1, 1], [2, 3]),
        evt.regionAdded({ members: ['c1', 'c2'] }),
      ]);
      expect(
        state.status === 'active' && state.concepts.get('c2')?.regions,
      ).toEqual(['r1']);
    });
    it('derives the region id from the command id when none is given', () => {
      given(created)
        .when(cmd.addRegion({ regionId: '' }))
        .then([evt.regionAdded({ regionId: COMMAND_ID })]);
    });
    it('accepts a region without boundaries (the whole space)', () => {
      given(withC1)
        .when(cmd.addRegion({ boundaries: [], members: ['c1'] }))
        .then([evt.regionAdded({ boundaries: [], members: ['c1'] })]);
    });
    it('rejects a prototype outside the boundaries with BUSINESS_RULE_VIOLATION', () => {
      given(created)
        .when(cmd.addRegion({ prototype: [6, 2] }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /prototype/);
    });
    it('rejects a member outside the boundaries with BUSINESS_RULE_VIOLATION', () => {
      given([...created, ...concepts([1, 1], [8, 1])])
        .when(cmd.addRegion({ members: ['c1', 'c2'] }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /convexity/);
    });
    it('rejects an unknown member with NOT_FOUND', () => {
      given(created)
        .when(cmd.addRegion({ members: ['c9'] }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects an existing region id with ALREADY_EXISTS', () => {
      given([...created, evt.regionAdded()])
        .when(cmd.addRegion())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects the 1001st region with BUSINESS_RULE_VIOLATION', () => {
      const regions = Array.from({ length: LIMITS.regions }, (_, i) =>
        evt.regionAdded({ regionId: `r${i + 10}` }),
      );
      given([...created, ...regions])
        .when(cmd.addRegion())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /at most 1000/);
    });
    it.each([
      ['a prototype of the wrong arity', { prototype: [1] }, /2 values/],
      ['a prototype out of range', { prototype: [2, 12] }, /outside/],
      [
        'a normal of the wrong arity',
        { boundaries: [{ normal: [1], offset: 0 }] },
        /normal must have 2/,
      ],
      [
        'a zero normal',
        { boundaries: [{ normal: [0, 0], offset: 0 }] },
        /zero vector/,
      ],
      [
        'a NaN offset',
        { boundaries: [{ normal: [1, 0], offset: NaN }] },
        /finite/,
      ],
      ['a repeated member', { members: ['c1', 'c1'] }, /repeats/],
      [
        'too many boundaries',
        {
          boundaries: Array.from({ length: 257 }, () => ({
            normal: [1, 0],
            offset: 0,
          })),
        },
        /at most 256/,
      ],
      ['a name over 200 characters', { name: 'x'.repeat(201) }, /at most 200/],
    ] as const)('rejects %s with VALIDATION_FAILED', (_, fields, message) => {
      given(withC1)
        .when(cmd.addRegion(fields as never))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
  });

  describe('RecomputePrototypes', () => {
    it('moves each prototype to the centroid of its members', () => {
      given([
        ...created,
        ...concepts([1, 1], [3, 5]),
        evt.regionAdded({ members: ['c1', 'c2'] }),
      ])
        .when(cmd.recomputePrototypes())
        .then([evt.prototypeUpdated('r1', [2, 3])]);
    });
    it('leaves regions without members alone', () => {
      given([...created, evt.regionAdded()])
        .when(cmd.recomputePrototypes())
        .thenNothing();
    });
    it('decides nothing when every prototype is already the centroid', () => {
      given([
        ...withC1,
        evt.regionAdded({ prototype: [1, 1], members: ['c1'] }),
      ])
        .when(cmd.recomputePrototypes())
        .thenNothing();
    });
  });

  describe('DiscoverRegions', () => {
    const clustered = [
      ...created,
      ...concepts(
        [1, 1],
        [1.2, 1],
        [1, 1.2],
        [8, 8],
        [8.2, 8],
        [8, 8.2],
        [5, 5],
      ),
    ];
    it('turns dense clusters into regions bounded by their Voronoi cells', () => {
      const [e] = given(clustered)
        .when(cmd.discoverRegions({ radius: 0.05 }))
        .events();
      expect(e?.body.case).toBe('regionsDiscovered');
      const regions =
        e?.body.case === 'regionsDiscovered' ? e.body.value.regions : [];
      expect(regions.map((r) => [r.regionId, r.members])).toEqual([
        [`${COMMAND_ID}-1`, ['c1', 'c2', 'c3']],
        [`${COMMAND_ID}-2`, ['c4', 'c5', 'c6']],
      ]);
      const [first, second] = regions;
      expect(first?.prototype[0]).toBeCloseTo(1.0667, 3);
      // The bisector between the two prototypes: x + y ≤ about 9.2 on the first region's side.
      expect(first?.boundaries).toHaveLength(1);
      expect(second?.boundaries).toHaveLength(1);
      const normal = first!.boundaries[0]!.normal;
      expect(normal[0]! < 0 && normal[1]! < 0).toBe(true);
    });
    it('decides nothing when every point is noise', () => {
      given(clustered)
        .when(cmd.discoverRegions({ radius: 0.001 }))
        .thenNothing();
    });
    it('rejects a negative radius with VALIDATION_FAILED', () => {
      given(clustered)
        .when(cmd.discoverRegions({ radius: -1 }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a command without a command id with VALIDATION_FAILED', () => {
      given(clustered)
        .when(cmd.discoverRegions({}, ''))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /command id/);
    });
    it('rejects more than 2000 concepts with BUSINESS_RULE_VIOLATION', () => {
      const many = Array.from({ length: LIMITS.discovery + 1 }, (_, i) =>
        evt.conceptAdded({
          conceptId: `c${i}`,
          coordinates: [(i % 100) / 10, Math.floor(i / 100) / 10],
        }),
      );
      given([...created, ...many])
        .when(cmd.discoverRegions())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /at most 2000/);
    });
  });

  describe('ReplaceDimensionWeights', () => {
    it('records the old weights removed and the new ones added', () => {
      given(created)
        .when(cmd.replaceWeights())
        .then([
          evt.weightsRemoved([weight.constant(), weight.constant()]),
          evt.weightsAdded([weight.constant(2), weight.constant(1)]),
        ]);
      const state = stateOf([
        ...created,
        evt.weightsRemoved([weight.constant(), weight.constant()]),
        evt.weightsAdded([weight.constant(2), weight.constant(1)]),
      ]);
      expect(state.status === 'active' && state.metric.weights).toEqual([
        { kind: 'constant', value: 2 },
        { kind: 'constant', value: 1 },
      ]);
    });
    it('rejects a weight count unlike the dimensions with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.replaceWeights({ weights: [weight.constant()] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /one weight per dimension/);
    });
    it('rejects a negative weight with VALIDATION_FAILED', () => {
      given(created)
        .when(
          cmd.replaceWeights({
            weights: [weight.constant(), weight.constant(-0.5)],
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /negative/);
    });
    it('rejects a reason over 500 characters with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.replaceWeights({ reason: 'x'.repeat(501) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('SetMetricContext', () => {
    const contextual = [
      evt.created({
        metric: {
          minkowskiP: 2,
          weights: [weight.contextual(1, { night: 0 }), weight.constant()],
          currentContext: '',
        },
      }),
    ];
    it('sets a context the space knows', () => {
      given(contextual)
        .when(cmd.setContext('night'))
        .then([evt.contextChanged('', 'night')]);
    });
    it('clears the context', () => {
      given([...contextual, evt.contextChanged('', 'night')])
        .when(cmd.setContext(''))
        .then([evt.contextChanged('night', '')]);
    });
    it('rejects an unknown context with NOT_FOUND', () => {
      given(contextual)
        .when(cmd.setContext('dawn'))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects the current context with INVALID_TRANSITION', () => {
      given([...contextual, evt.contextChanged('', 'night')])
        .when(cmd.setContext('night'))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a context that is no token with VALIDATION_FAILED', () => {
      given(contextual)
        .when(cmd.setContext('a b'))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('DeleteSpace', () => {
    it('deletes the space', () => {
      given(created).when(cmd.delete()).then([evt.deleted()]);
    });
    it('rejects an unknown space with NOT_FOUND', () => {
      given([]).when(cmd.delete()).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a deleted space with INVALID_TRANSITION', () => {
      given(deleted)
        .when(cmd.delete())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already deleted/);
    });
  });

  describe('PlaceGraphConcept', () => {
    it("records a graph's first change and places its concept", () => {
      given(graphSpace)
        .when(place(1n, change.created()))
        .then([
          recorded(1n, change.created()),
          graphConcept([0, 0, 0.25, 0, 0]),
        ]);
    });
    it('moves the concept as the graph changes', () => {
      const history = [
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
      ];
      const [, moved] = given(history)
        .when(place(2n, change.nodeAdded('n1', true, true, 2)))
        .events();
      expect(
        moved?.body.case === 'conceptMoved' && moved.body.value.coordinates,
      ).toEqual([1 / 9, 0, 1.5 / 3, 0, 3 / 5]);
    });
    it('decides nothing for a version already recorded (a redelivered event)', () => {
      given([
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
      ])
        .when(place(1n, change.created()))
        .thenNothing();
    });
    it('keeps a change that arrives early waiting, and applies it once the gap closes', () => {
      const early = change.nodeAdded('n1');
      given([
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
      ])
        .when(place(3n, early))
        .then([recorded(3n, early)]);
      const history = [
        ...graphSpace,
        recorded(1n, change.created()),
        graphConcept([0, 0, 0.25, 0, 0]),
        recorded(3n, early),
      ];
      given(history).when(place(3n, early)).thenNothing();
      const events = given(history)
        .when(place(2n, change.nodeAdded('n0')))
        .events();
      expect(events.map((e) => e.body.case)).toEqual([
        'graphChangeRecorded',
        'conceptMoved',
      ]);
      const state = stateOf([...history, ...events]);
      const graph =
        state.status === 'active' ? state.graphs.get('g1') : undefined;
      expect([
        graph?.applied,
        graph?.pending.length,
        graph?.nodes.size,
      ]).toEqual([3n, 0, 2]);
    });
    it('rejects a space without the graph feature dimensions with BUSINESS_RULE_VIOLATION', () => {
      given(created)
        .when(cmd.place(1n, change.created()))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /graph feature/);
    });
    it('rejects version 0 with VALIDATION_FAILED', () => {
      given(graphSpace)
        .when(place(0n, change.created()))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a missing change with VALIDATION_FAILED', () => {
      given(graphSpace)
        .when(
          cmd.place(1n, change.created(), { ...onGraphs, change: undefined }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a type abstraction outside [0, 1] with VALIDATION_FAILED', () => {
      given(graphSpace)
        .when(place(1n, change.created({ typeAbstraction: 2 })))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a node id that is no token with VALIDATION_FAILED', () => {
      given(graphSpace)
        .when(place(1n, change.nodeAdded('a.b')))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a graph id taken by another concept with ALREADY_EXISTS', () => {
      given([...graphSpace, graphConcept([0, 0, 0, 0, 0], {})])
        .when(place(1n, change.created()))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects a change when 1024 already wait with BUSINESS_RULE_VIOLATION', () => {
      const waiting = Array.from({ length: LIMITS.pending }, (_, i) =>
        recorded(BigInt(i + 3), change.touched()),
      );
      given([...graphSpace, ...waiting])
        .when(place(2000n, change.touched()))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /waiting/);
      // The missing version itself is still accepted: it drains the queue.
      const events = given([...graphSpace, ...waiting])
        .when(place(1n, change.created()))
        .events();
      const state = stateOf([...graphSpace, ...waiting, ...events]);
      expect(state.status === 'active' && state.graphs.get('g1')?.applied).toBe(
        1n,
      );
    });
  });

  describe('evolve', () => {
    it('leaves the state unchanged for an event from a newer schema', () => {
      const state = stateOf(withC1);
      expect(conceptualspacesDecider.evolve(state, evt.unknown())).toBe(state);
    });
    it('ignores a second ConceptualSpaceCreated', () => {
      const state = stateOf(withC1);
      expect(
        conceptualspacesDecider.evolve(state, evt.created({ name: 'other' })),
      ).toBe(state);
    });
    it('ignores events before the space exists', () => {
      const state = stateOf([evt.conceptAdded()]);
      expect(state.status).toBe('absent');
    });
    it('keeps the default space of two dimensions', () => {
      const state = stateOf(created);
      expect(
        state.status === 'active' && state.dimensions.map((d) => d.id),
      ).toEqual(XY.map((d) => d.dimensionId));
      expect(state.status === 'active' && state.spaceId).toBe(SPACE_ID);
    });
  });
});

function withSpace(command: ReturnType<typeof cmd.removeConcept>) {
  if (command.body.case === 'removeConcept')
    command.body.value.conceptualspacesId = GRAPH_SPACE_ID;
  return command;
}
