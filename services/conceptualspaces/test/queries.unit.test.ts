import { describe, expect, it } from '@jest/globals';
import {
  create,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  CategorizeRequestSchema,
  ConceptPositionRequestSchema,
  DistanceMethod,
  DistanceRequestSchema,
  FindSimilarRequestSchema,
  GraphFeaturesRequestSchema,
  ListConceptsRequestSchema,
  ListRegionsRequestSchema,
  ListSpacesRequestSchema,
  RegionsContainingRequestSchema,
  SimilarityMethod,
  SimilarityRequestSchema,
  SpaceInfoRequestSchema,
  VoronoiCellRequestSchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { MAX_MATCHES, conceptualspacesQueries } from '../src/queries.js';
import {
  SPACE_ID,
  change,
  concepts,
  dim,
  evt,
  projectAll,
  rowsOf,
  weight,
} from './fixtures.js';

const noContext = { position: 0n };
const point = (coordinates: number[]) => ({
  kind: { case: 'point' as const, value: { coordinates } },
});
const concept = (id: string) => ({
  kind: { case: 'conceptId' as const, value: id },
});

type Init<S extends DescMessage> = Exclude<
  MessageInitShape<S>,
  { $typeName: string }
>;

function request<S extends DescMessage>(schema: S, init: MessageInitShape<S>) {
  return create(schema, init);
}

function code(action: () => unknown): ErrorCode | undefined {
  try {
    action();
  } catch (error) {
    if (DomainError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

const base = [
  evt.created({
    metric: {
      minkowskiP: 2,
      weights: [weight.contextual(1, { flat: 0 }), weight.constant()],
      currentContext: '',
    },
  }),
  evt.conceptAdded({ conceptId: 'a', coordinates: [1, 1], label: 'apple' }),
  evt.conceptAdded({ conceptId: 'b', coordinates: [4, 5] }),
  evt.conceptAdded({ conceptId: 'c', coordinates: [9, 9] }),
  evt.regionAdded({ regionId: 'left', members: ['a', 'b'] }),
  evt.regionAdded({
    regionId: 'right',
    prototype: [8, 8],
    boundaries: [{ normal: [1, 0], offset: 5 }],
    members: ['c'],
  }),
];
const row = projectAll(base)!;
const q = conceptualspacesQueries(rowsOf(row));

describe('conceptual spaces queries', () => {
  describe('SpaceInfo', () => {
    it('summarises the space', () => {
      const { space } = q.spaceInfo(
        request(SpaceInfoRequestSchema, { conceptualspacesId: SPACE_ID }),
        noContext,
      ) as {
        space: {
          conceptCount: bigint;
          regionCount: bigint;
          contexts: string[];
          version: bigint;
          deleted: boolean;
          name: string;
        };
      };
      expect(space).toMatchObject({
        name: 'Colours',
        conceptCount: 3n,
        regionCount: 2n,
        contexts: ['flat'],
        version: 6n,
        deleted: false,
      });
    });
    it('still answers for a deleted space', () => {
      const deleted = projectAll([evt.deleted()], row)!;
      const info = conceptualspacesQueries(rowsOf(deleted)).spaceInfo(
        request(SpaceInfoRequestSchema, { conceptualspacesId: SPACE_ID }),
        noContext,
      ) as { space: { deleted: boolean } };
      expect(info.space.deleted).toBe(true);
    });
    it('answers an unknown space with NOT_FOUND and a bad id with VALIDATION_FAILED', () => {
      expect(
        code(() =>
          q.spaceInfo(
            request(SpaceInfoRequestSchema, { conceptualspacesId: 'nope' }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        code(() =>
          q.spaceInfo(
            request(SpaceInfoRequestSchema, { conceptualspacesId: 'a.b' }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('lists', () => {
    it('pages spaces by id', () => {
      const rows = ['s3', 's1', 's2'].map((id) =>
        projectAll([evt.created({ conceptualspacesId: id })])!,
      );
      const list = conceptualspacesQueries(
        new Map(rows.map((r) => [r.space.spaceId, r])),
      );
      const first = list.listSpaces(
        request(ListSpacesRequestSchema, { page: { pageSize: 2 } }),
        noContext,
      ) as {
        spaces: Array<{ conceptualspacesId: string }>;
        page: { nextPageToken: string; totalSize: bigint };
      };
      expect(first.spaces.map((s) => s.conceptualspacesId)).toEqual([
        's1',
        's2',
      ]);
      expect(first.page.totalSize).toBe(3n);
      const second = list.listSpaces(
        request(ListSpacesRequestSchema, {
          page: { pageSize: 2, pageToken: first.page.nextPageToken },
        }),
        noContext,
      ) as {
        spaces: Array<{ conceptualspacesId: string }>;
        page: { nextPageToken: string };
      };
      expect(second.spaces.map((s) => s.conceptualspacesId)).toEqual(['s3']);
      expect(second.page.nextPageToken).toBe('');
    });
    it('pages concepts and regions by id', () => {
      const first = q.listConcepts(
        request(ListConceptsRequestSchema, {
          conceptualspacesId: SPACE_ID,
          page: { pageSize: 2 },
        }),
        noContext,
      ) as {
        concepts: Array<{
          conceptId: string;
          regions: string[];
          label?: string;
        }>;
        page: { nextPageToken: string };
      };
      expect(
        first.concepts.map((c) => [c.conceptId, c.regions, c.label]),
      ).toEqual([
        ['a', ['left'], 'apple'],
        ['b', ['left'], undefined],
      ]);
      const rest = q.listConcepts(
        request(ListConceptsRequestSchema, {
          conceptualspacesId: SPACE_ID,
          page: { pageToken: first.page.nextPageToken },
        }),
        noContext,
      ) as { concepts: Array<{ conceptId: string }> };
      expect(rest.concepts.map((c) => c.conceptId)).toEqual(['c']);
      const regions = q.listRegions(
        request(ListRegionsRequestSchema, { conceptualspacesId: SPACE_ID }),
        noContext,
      ) as {
        regions: Array<{ regionId: string; members: string[] }>;
      };
      expect(regions.regions.map((r) => [r.regionId, r.members])).toEqual([
        ['left', ['a', 'b']],
        ['right', ['c']],
      ]);
    });
    it('answers a forged page token with VALIDATION_FAILED', () => {
      expect(
        code(() =>
          q.listConcepts(
            request(ListConceptsRequestSchema, {
              conceptualspacesId: SPACE_ID,
              page: { pageToken: 'zz!' },
            }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('ConceptPosition', () => {
    it('answers the position, label and regions of a concept', () => {
      expect(
        q.conceptPosition(
          request(ConceptPositionRequestSchema, {
            conceptualspacesId: SPACE_ID,
            conceptId: 'a',
          }),
          noContext,
        ),
      ).toEqual({
        concept: {
          conceptId: 'a',
          coordinates: [1, 1],
          label: 'apple',
          regions: ['left'],
        },
        version: 6n,
      });
    });
    it('answers an unknown concept with NOT_FOUND', () => {
      expect(
        code(() =>
          q.conceptPosition(
            request(ConceptPositionRequestSchema, {
              conceptualspacesId: SPACE_ID,
              conceptId: 'z',
            }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
    });
  });

  describe('FindSimilar', () => {
    const find = (init: Init<typeof FindSimilarRequestSchema>) =>
      q.findSimilar(
        request(FindSimilarRequestSchema, {
          conceptualspacesId: SPACE_ID,
          ...init,
        }),
        noContext,
      ) as {
        matches: Array<{
          conceptId: string;
          distance: number;
          similarity: number;
          label?: string;
        }>;
        truncated: boolean;
      };
    it('answers the k nearest concepts, nearest first, with distances and similarities', () => {
      const { matches } = find({ target: point([2, 2]), k: 2 });
      expect(matches.map((m) => m.conceptId)).toEqual(['a', 'b']);
      expect(matches[0]).toMatchObject({ conceptId: 'a', label: 'apple' });
      expect(matches[0]!.distance).toBeCloseTo(Math.sqrt(0.02), 12);
      expect(matches[0]!.similarity).toBe(1 / (1 + matches[0]!.distance));
    });
    it('leaves the target concept out of its own answer', () => {
      expect(
        find({ target: concept('a'), k: 5 }).matches.map((m) => m.conceptId),
      ).toEqual(['b', 'c']);
    });
    it('answers every concept within a threshold', () => {
      expect(
        find({ target: concept('a'), threshold: 0.5 }).matches.map(
          (m) => m.conceptId,
        ),
      ).toEqual(['b']);
      expect(find({ target: concept('a'), threshold: 0.49 }).matches).toEqual(
        [],
      );
    });
    it('resolves weights in the requested context', () => {
      // From (9, 4), c is nearest (0.5 against b's 0.51); in context "flat" x weighs nothing and b (Δy 0.1) wins.
      expect(find({ target: point([9, 4]), k: 1 }).matches[0]?.conceptId).toBe(
        'c',
      );
      expect(
        find({ target: point([9, 4]), k: 1, context: 'flat' }).matches[0]
          ?.conceptId,
      ).toBe('b');
    });
    it('refuses a bad request as invalid even where the space is unknown', () => {
      // Checks of the request alone do not depend on how far the read model is.
      const unknown = (init: Init<typeof FindSimilarRequestSchema>) =>
        code(() =>
          q.findSimilar(
            request(FindSimilarRequestSchema, {
              conceptualspacesId: 'no-such-space',
              target: point([1, 1]),
              ...init,
            }),
            noContext,
          ),
        );
      expect(unknown({ k: MAX_MATCHES + 1 })).toBe(ErrorCode.VALIDATION_FAILED);
      expect(unknown({})).toBe(ErrorCode.VALIDATION_FAILED);
      expect(unknown({ k: 1 })).toBe(ErrorCode.NOT_FOUND);
    });
    it('wraps around on a circular dimension', () => {
      const hues = projectAll([
        evt.created({
          dimensions: [dim.circular('hue')],
          metric: {
            minkowskiP: 2,
            weights: [weight.constant()],
            currentContext: '',
          },
        }),
        evt.conceptAdded({ conceptId: 'red', coordinates: [350] }),
        evt.conceptAdded({ conceptId: 'orange', coordinates: [30] }),
      ])!;
      const answer = conceptualspacesQueries(rowsOf(hues)).findSimilar(
        request(FindSimilarRequestSchema, {
          conceptualspacesId: SPACE_ID,
          target: point([5]),
          k: 2,
        }),
        noContext,
      ) as { matches: Array<{ conceptId: string; distance: number }> };
      expect(answer.matches.map((m) => m.conceptId)).toEqual(['red', 'orange']);
      expect(answer.matches[0]!.distance).toBeCloseTo(15 / 360, 12);
    });
    it('answers at most 1000 matches within a threshold and says so', () => {
      const many = projectAll([
        evt.created(),
        ...Array.from({ length: MAX_MATCHES + 5 }, (_, i) =>
          evt.conceptAdded({
            conceptId: `k${i}`,
            coordinates: [(i % 50) / 5, Math.floor(i / 50) / 5],
          }),
        ),
      ])!;
      const answer = conceptualspacesQueries(rowsOf(many)).findSimilar(
        request(FindSimilarRequestSchema, {
          conceptualspacesId: SPACE_ID,
          target: point([5, 5]),
          threshold: 10,
        }),
        noContext,
      ) as { matches: unknown[]; truncated: boolean };
      expect(answer.matches).toHaveLength(MAX_MATCHES);
      expect(answer.truncated).toBe(true);
    });
    it.each([
      [
        'k over 1000',
        { target: point([1, 1]), k: 1001 },
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'neither k nor threshold',
        { target: point([1, 1]) },
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'a negative threshold',
        { target: point([1, 1]), threshold: -1 },
        ErrorCode.VALIDATION_FAILED,
      ],
      ['no target', { k: 1 }, ErrorCode.VALIDATION_FAILED],
      [
        'a point of the wrong arity',
        { target: point([1]), k: 1 },
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'a point out of range',
        { target: point([1, 10]), k: 1 },
        ErrorCode.VALIDATION_FAILED,
      ],
      [
        'an unknown concept',
        { target: concept('zz'), k: 1 },
        ErrorCode.NOT_FOUND,
      ],
      [
        'an unknown context',
        { target: point([1, 1]), k: 1, context: 'dusk' },
        ErrorCode.NOT_FOUND,
      ],
    ] as const)('answers %s with its code', (_, init, expected) => {
      expect(code(() => find(init as never))).toBe(expected);
    });
  });

  describe('Distance', () => {
    const dist = (
      method: DistanceMethod,
      init: Init<typeof DistanceRequestSchema> = {},
    ) =>
      (
        q.distance(
          request(DistanceRequestSchema, {
            conceptualspacesId: SPACE_ID,
            a: concept('a'),
            b: concept('b'),
            method,
            ...init,
          }),
          noContext,
        ) as {
          distance: number;
        }
      ).distance;
    it('measures with the space metric and the classic ones', () => {
      expect(dist(DistanceMethod.UNSPECIFIED)).toBeCloseTo(0.5, 12);
      expect(dist(DistanceMethod.MINKOWSKI)).toBeCloseTo(0.5, 12);
      expect(dist(DistanceMethod.EUCLIDEAN)).toBeCloseTo(0.5, 12);
      expect(dist(DistanceMethod.MANHATTAN)).toBeCloseTo(0.7, 12);
      expect(dist(DistanceMethod.CHEBYSHEV)).toBeCloseTo(0.4, 12);
      expect(dist(DistanceMethod.COSINE)).toBeCloseTo(
        1 - 0.09 / Math.sqrt(0.02 * 0.41),
        12,
      );
    });
    it('resolves weights in the requested context', () => {
      expect(dist(DistanceMethod.EUCLIDEAN, { context: 'flat' })).toBeCloseTo(
        0.4,
        12,
      );
    });
    it('answers a cosine distance from the zero vector with VALIDATION_FAILED', () => {
      expect(
        code(() => dist(DistanceMethod.COSINE, { a: point([0, 0]) })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
    it('answers an unknown method with VALIDATION_FAILED', () => {
      expect(code(() => dist(99 as DistanceMethod))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('Similarity', () => {
    const sim = (
      method: SimilarityMethod,
      init: Init<typeof SimilarityRequestSchema> = {},
    ) =>
      (
        q.similarity(
          request(SimilarityRequestSchema, {
            conceptualspacesId: SPACE_ID,
            a: concept('a'),
            b: concept('b'),
            method,
            ...init,
          }),
          noContext,
        ) as {
          similarity: number;
        }
      ).similarity;
    it('computes each method', () => {
      expect(sim(SimilarityMethod.GEOMETRIC)).toBeCloseTo(1 / 1.5, 12);
      expect(sim(SimilarityMethod.UNSPECIFIED)).toBeCloseTo(1 / 1.5, 12);
      expect(sim(SimilarityMethod.PROTOTYPE)).toBeCloseTo(Math.exp(-0.5), 12);
      expect(sim(SimilarityMethod.COSINE)).toBeCloseTo(
        (0.09 / Math.sqrt(0.02 * 0.41) + 1) / 2,
        12,
      );
      expect(sim(SimilarityMethod.SHARED_REGION)).toBeCloseTo(
        0.9 + 0.1 / 1.5,
        12,
      );
      expect(
        sim(SimilarityMethod.SHARED_REGION, { b: concept('c') }),
      ).toBeCloseTo(1 / (1 + Math.sqrt(1.28)), 12);
      expect(sim(SimilarityMethod.SALIENCE, { salience: [1, 0] })).toBeCloseTo(
        1 / 1.3,
        12,
      );
      expect(sim(SimilarityMethod.FEATURE_OVERLAP)).toBeCloseTo(
        (0.25 + 0.2) / 2,
        12,
      );
      expect(sim(SimilarityMethod.MULTI_LEVEL)).toBeCloseTo(
        (1 / 1.5 + 1 / 1.5 + 1) / 3,
        12,
      );
      expect(
        sim(SimilarityMethod.MULTI_LEVEL, {
          b: concept('c'),
          categoryWeight: 1,
        }),
      ).toBe(0);
      expect(
        sim(SimilarityMethod.MULTI_LEVEL, {
          contextualWeight: 1,
          context: 'flat',
        }),
      ).toBeCloseTo(1 / 1.4, 12);
    });
    it('compares trajectories by dynamic time warping', () => {
      const trajectoryA = [
        [1, 1],
        [2, 2],
      ].map((coordinates) => ({ coordinates }));
      const trajectoryB = [
        [1, 1],
        [2, 2],
        [2, 2],
      ].map((coordinates) => ({ coordinates }));
      expect(
        sim(SimilarityMethod.TRAJECTORY, { trajectoryA, trajectoryB }),
      ).toBe(1);
      const shifted = [
        [1, 2],
        [2, 3],
      ].map((coordinates) => ({ coordinates }));
      expect(
        sim(SimilarityMethod.TRAJECTORY, { trajectoryA, trajectoryB: shifted }),
      ).toBeCloseTo(1 / 1.2, 12);
    });
    it('blends in relevance feedback', () => {
      expect(sim(SimilarityMethod.GEOMETRIC, { feedback: 1 })).toBeCloseTo(
        0.9 / 1.5 + 0.1,
        12,
      );
    });
    it.each([
      [
        'a salience of the wrong length',
        SimilarityMethod.SALIENCE,
        { salience: [1] },
      ],
      ['an all-zero salience', SimilarityMethod.SALIENCE, { salience: [0, 0] }],
      ['a negative salience', SimilarityMethod.SALIENCE, { salience: [-1, 1] }],
      [
        'an empty trajectory',
        SimilarityMethod.TRAJECTORY,
        { trajectoryA: [], trajectoryB: [{ coordinates: [1, 1] }] },
      ],
      [
        'a negative level weight',
        SimilarityMethod.MULTI_LEVEL,
        { geometricWeight: -1 },
      ],
      ['feedback above 1', SimilarityMethod.GEOMETRIC, { feedback: 2 }],
      [
        'a zero vector for cosine',
        SimilarityMethod.COSINE,
        { a: point([0, 0]) },
      ],
      ['an unknown method', 99 as SimilarityMethod, {}],
    ] as const)('answers %s with VALIDATION_FAILED', (_, method, init) => {
      expect(code(() => sim(method, init as never))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    });
  });

  describe('regions', () => {
    it('lists the regions containing a point', () => {
      const ask = (p: number[]) =>
        (
          q.regionsContaining(
            request(RegionsContainingRequestSchema, {
              conceptualspacesId: SPACE_ID,
              point: point(p),
            }),
            noContext,
          ) as {
            regionIds: string[];
          }
        ).regionIds;
      expect(ask([1, 1])).toEqual(['left']);
      expect(ask([5, 1])).toEqual(['left', 'right']);
      expect(ask([9, 1])).toEqual(['right']);
    });
    it('categorises a point by its nearest prototype with a membership degree', () => {
      const answer = q.categorize(
        request(CategorizeRequestSchema, {
          conceptualspacesId: SPACE_ID,
          point: point([6, 6]),
        }),
        noContext,
      );
      expect(answer).toMatchObject({
        found: true,
        regionId: 'right',
        name: '',
      });
      const { distance, degree } = answer as {
        distance: number;
        degree: number;
      };
      expect(distance).toBeCloseTo(Math.sqrt(0.08), 12);
      expect(degree).toBe(Math.exp(-distance));
    });
    it('answers found = false in a space without regions', () => {
      const bare = projectAll([evt.created(), ...concepts([1, 1])])!;
      expect(
        conceptualspacesQueries(rowsOf(bare)).categorize(
          request(CategorizeRequestSchema, {
            conceptualspacesId: SPACE_ID,
            point: point([1, 1]),
          }),
          noContext,
        ),
      ).toEqual({ found: false });
    });
    it('describes a Voronoi cell by the bisectors with the other prototypes', () => {
      const cell = q.voronoiCell(
        request(VoronoiCellRequestSchema, {
          conceptualspacesId: SPACE_ID,
          regionId: 'left',
        }),
        noContext,
      ) as {
        prototype: number[];
        boundaries: Array<{ normal: number[]; offset: number }>;
      };
      // Prototypes (2, 2) and (8, 8), unit scale 1/10: n = (p − q)/100, offset = n·(p + q)/2.
      expect(cell.prototype).toEqual([2, 2]);
      expect(cell.boundaries).toHaveLength(1);
      expect(cell.boundaries[0]!.normal).toEqual(
        [-0.06, -0.06].map((x) => expect.closeTo(x, 12) as unknown as number),
      );
      expect(cell.boundaries[0]!.offset).toBeCloseTo(-0.6, 12);
    });
    it('answers an unknown region with NOT_FOUND', () => {
      expect(
        code(() =>
          q.voronoiCell(
            request(VoronoiCellRequestSchema, {
              conceptualspacesId: SPACE_ID,
              regionId: 'zz',
            }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
    });
  });

  describe('GraphFeatures', () => {
    it("answers a graph's counters and features", () => {
      const graphs = projectAll([
        evt.created({
          dimensions: [
            'complexity',
            'connectivity',
            'abstractness',
            'dynamism',
            'semantic_density',
          ].map((id) => dim.continuous(id, 0, 1)),
          metric: {
            minkowskiP: 2,
            weights: [1, 2, 3, 4, 5].map(() => weight.constant()),
            currentContext: '',
          },
        }),
        evt.graphChangeRecorded(1n, change.created({ tagCount: 2 })),
        evt.graphChangeRecorded(2n, change.nodeAdded('n1', true, true, 1)),
        evt.graphChangeRecorded(4n, change.nodeAdded('n9')),
      ])!;
      const answer = conceptualspacesQueries(rowsOf(graphs)).graphFeatures(
        request(GraphFeaturesRequestSchema, {
          conceptualspacesId: SPACE_ID,
          graphId: 'g1',
        }),
        noContext,
      );
      expect(answer).toEqual({
        appliedGraphVersion: 2n,
        pendingChanges: 1,
        nodeCount: 1n,
        edgeCount: 0n,
        abstractNodes: 1n,
        graphEvents: 2n,
        changeEvents: 0n,
        richness: 4n,
        features: [1 / 9, 0, 1.5 / 3, 0, 4 / 6],
      });
      expect(
        code(() =>
          conceptualspacesQueries(rowsOf(graphs)).graphFeatures(
            request(GraphFeaturesRequestSchema, {
              conceptualspacesId: SPACE_ID,
              graphId: 'g2',
            }),
            noContext,
          ),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
    });
  });
});
