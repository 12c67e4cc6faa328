import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  invalid,
  notFound,
  requireFinite,
  requireId,
  show,
  upperBound,
} from '@cim/kernel';
import {
  DistanceMethod,
  SimilarityMethod,
  type ConceptSchema,
  type ConceptualspacesQueryService,
  type Operand,
  type Point,
  type RegionSchema,
  type SimilarityRequest,
  type SpaceSummarySchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  readPage,
  takePage,
  type QueryHandlers,
  type Rows,
} from '@cim/service';
import { nearest } from './concept-index.js';
import { dimensionMessage, metricMessage } from './domain/definitions.js';
import {
  bisector,
  checkPoint,
  cosineDistance,
  distance,
  distanceWithP,
  dynamicTimeWarping,
  featureOverlap,
  geometryOf,
  inRegion,
  knownContexts,
  metricPoint,
  salienceSimilarity,
  unitPoint,
  type Geometry,
} from './domain/geometry.js';
import { graphFeatures, richnessOf } from './domain/graph-features.js';
import type {
  ConceptState,
  PresentSpace,
  RegionState,
} from './domain/state.js';
import { liveIn, type SpaceRow } from './projection.js';

/** Most answers FindSimilar gives. */
export const MAX_MATCHES = 1000;
/** Most points in one trajectory of a TRAJECTORY similarity. */
export const MAX_TRAJECTORY = 1000;

function rowOf(rows: Rows<SpaceRow>, spaceId: string): SpaceRow {
  requireId(spaceId, 'conceptualspaces_id');
  const row = rows.get(spaceId);
  if (row === undefined)
    notFound(`conceptual space ${show(spaceId)} not found`);
  return row;
}

function conceptOf(space: PresentSpace, conceptId: string): ConceptState {
  requireId(conceptId, 'concept_id');
  const concept = space.concepts.get(conceptId);
  if (concept === undefined) {
    notFound(
      `concept ${show(conceptId)} not found in space ${show(space.spaceId)}`,
    );
  }
  return concept;
}

function regionOf(space: PresentSpace, regionId: string): RegionState {
  requireId(regionId, 'region_id');
  const region = space.regions.get(regionId);
  if (region === undefined) {
    notFound(
      `region ${show(regionId)} not found in space ${show(space.spaceId)}`,
    );
  }
  return region;
}

/** A raw point an operand names, and the concept it came from. */
interface Resolved {
  readonly raw: readonly number[];
  readonly conceptId: string | undefined;
}

function resolve(
  space: PresentSpace,
  operand: Operand | undefined,
  field: string,
): Resolved {
  const kind = operand?.kind;
  switch (kind?.case) {
    case 'point':
      return {
        raw: checkPoint(
          space.dimensions,
          kind.value.coordinates,
          `${field}.point.coordinates`,
        ),
        conceptId: undefined,
      };
    case 'conceptId':
      return {
        raw: conceptOf(space, kind.value).coordinates,
        conceptId: kind.value,
      };
    case undefined:
      return invalid(`${field} must be a point or a concept id`);
  }
}

/** The space's geometry in the request's context (the current one when absent). */
function geometryIn(
  space: PresentSpace,
  context: string | undefined,
): Geometry {
  if (context !== undefined && context !== '') {
    requireId(context, 'context');
    if (!knownContexts(space.dimensions, space.metric).includes(context)) {
      notFound(
        `context ${show(context)} is not known in space ${show(space.spaceId)}`,
      );
    }
  }
  return geometryOf(
    space.dimensions,
    space.metric,
    context ?? space.metric.context,
  );
}

/** The region whose prototype is nearest to a metric point; ties go to the smaller region id. */
function categorize(
  space: PresentSpace,
  g: Geometry,
  point: Float64Array,
): { regionId: string; region: RegionState; distance: number } | undefined {
  let best:
    { regionId: string; region: RegionState; distance: number } | undefined;
  for (const [regionId, region] of space.regions) {
    const d = distance(
      g,
      point,
      metricPoint(space.dimensions, region.prototype),
    );
    if (best === undefined || d < best.distance)
      best = { regionId, region, distance: d };
  }
  return best;
}

function summary(row: SpaceRow): MessageInitShape<typeof SpaceSummarySchema> {
  const { space } = row;
  return {
    conceptualspacesId: space.spaceId,
    name: space.name,
    dimensions: space.dimensions.map(dimensionMessage),
    metric: metricMessage(space.metric),
    conceptCount: BigInt(space.concepts.size),
    regionCount: BigInt(space.regions.size),
    deleted: space.status === 'deleted',
    contexts: knownContexts(space.dimensions, space.metric),
    version: row.version,
    createdAt: timestampFromMs(row.createdAtMs),
    updatedAt: timestampFromMs(row.updatedAtMs),
  };
}

function conceptView(
  concept: ConceptState,
  conceptId: string,
): MessageInitShape<typeof ConceptSchema> {
  return {
    conceptId,
    coordinates: [...concept.coordinates],
    regions: [...concept.regions],
    ...(concept.label !== undefined && { label: concept.label }),
    ...(concept.sourceRef !== undefined && { sourceRef: concept.sourceRef }),
  };
}

function regionView(
  region: RegionState,
  regionId: string,
): MessageInitShape<typeof RegionSchema> {
  return {
    regionId,
    name: region.name,
    prototype: [...region.prototype],
    boundaries: region.boundaries.map((b) => ({
      normal: [...b.normal],
      offset: b.offset,
    })),
    members: [...region.members],
  };
}

function checkUnit(value: number, field: string): void {
  if (!(value >= 0 && value <= 1))
    invalid(`${field} must be within [0, 1], got ${value}`);
}

/**
 * The query handlers over the projection's rows. Unknown spaces, concepts,
 * regions and contexts answer NOT_FOUND, malformed arguments and points that
 * do not fit the space VALIDATION_FAILED. FindSimilar searches the row's
 * k-d tree index; everything else is computed from the row directly.
 */
export const conceptualspacesQueries = (
  rows: Rows<SpaceRow>,
): QueryHandlers<typeof ConceptualspacesQueryService> => ({
  spaceInfo({ conceptualspacesId }) {
    return { space: summary(rowOf(rows, conceptualspacesId)) };
  },

  listSpaces({ page }) {
    const window = readPage(page);
    // Spaces are few next to their concepts: sorting their ids per page is cheap.
    const ids = [...rows.entries()].map(([id]) => id).sort();
    function* after(): Generator<[string, SpaceRow]> {
      const from =
        window.after === undefined ? 0 : upperBound(ids, window.after);
      for (let i = from; i < ids.length; i++) {
        const row = rows.get(ids[i]!);
        if (row !== undefined) yield [ids[i]!, row];
      }
    }
    const { items, info } = takePage(after(), window, ids.length, summary);
    return { spaces: items, page: info };
  },

  listConcepts({ conceptualspacesId, page }) {
    const window = readPage(page);
    const { concepts } = rowOf(rows, conceptualspacesId).space;
    const { items, info } = takePage(
      concepts.entries(window.after),
      window,
      concepts.size,
      conceptView,
    );
    return { concepts: items, page: info };
  },

  listRegions({ conceptualspacesId, page }) {
    const window = readPage(page);
    const { regions } = rowOf(rows, conceptualspacesId).space;
    const { items, info } = takePage(
      regions.entries(window.after),
      window,
      regions.size,
      regionView,
    );
    return { regions: items, page: info };
  },

  conceptPosition({ conceptualspacesId, conceptId }) {
    const row = rowOf(rows, conceptualspacesId);
    return {
      concept: conceptView(conceptOf(row.space, conceptId), conceptId),
      version: row.version,
    };
  },

  findSimilar({ conceptualspacesId, target, k, threshold, context }) {
    // Checks of the request alone come first: they answer the same whether
    // or not the read model holds the space yet.
    if (k > MAX_MATCHES) invalid(`k must be at most ${MAX_MATCHES}, got ${k}`);
    if (threshold !== undefined && !(threshold >= 0)) {
      invalid(`threshold must be a non-negative number, got ${threshold}`);
    }
    if (k === 0 && threshold === undefined) {
      invalid('FindSimilar needs k, a threshold, or both');
    }
    const row = rowOf(rows, conceptualspacesId);
    const { space } = row;
    const from = resolve(space, target, 'target');
    const g = geometryIn(space, context);
    const found = nearest(
      row.index,
      g,
      metricPoint(space.dimensions, from.raw),
      {
        k: k === 0 ? MAX_MATCHES + 1 : k,
        threshold,
        exclude: from.conceptId,
        // Without stale entries every entry is current: skip the lookups.
        live: row.index.stale === 0 ? () => true : liveIn(space),
      },
    );
    const matches = found.slice(0, MAX_MATCHES).map(({ id, distance: d }) => {
      const label = space.concepts.get(id)?.label;
      return {
        conceptId: id,
        distance: d,
        similarity: 1 / (1 + d),
        ...(label !== undefined && { label }),
      };
    });
    return { matches, truncated: found.length > MAX_MATCHES };
  },

  distance({ conceptualspacesId, a, b, method, context }) {
    const { space } = rowOf(rows, conceptualspacesId);
    const x = resolve(space, a, 'a').raw;
    const y = resolve(space, b, 'b').raw;
    const g = geometryIn(space, context);
    const mx = metricPoint(space.dimensions, x);
    const my = metricPoint(space.dimensions, y);
    switch (method) {
      case DistanceMethod.UNSPECIFIED:
      case DistanceMethod.MINKOWSKI:
        return { distance: distance(g, mx, my) };
      case DistanceMethod.EUCLIDEAN:
        return { distance: distanceWithP(g, 2, mx, my) };
      case DistanceMethod.MANHATTAN:
        return { distance: distanceWithP(g, 1, mx, my) };
      case DistanceMethod.CHEBYSHEV:
        return { distance: distanceWithP(g, Infinity, mx, my) };
      case DistanceMethod.COSINE: {
        const d = cosineDistance(
          g.weights,
          unitPoint(space.dimensions, x),
          unitPoint(space.dimensions, y),
        );
        if (d === undefined)
          invalid('cosine distance is undefined for a zero vector');
        return { distance: d };
      }
      default:
        return invalid(
          `method ${String(method)} is not a known distance method`,
        );
    }
  },

  similarity(request) {
    if (request.feedback !== undefined) checkUnit(request.feedback, 'feedback');
    const { space } = rowOf(rows, request.conceptualspacesId);
    const similarity = similarityOf(space, request);
    if (request.feedback === undefined) return { similarity };
    return { similarity: 0.9 * similarity + 0.1 * request.feedback };
  },

  regionsContaining({ conceptualspacesId, point }) {
    const { space } = rowOf(rows, conceptualspacesId);
    const { raw } = resolve(space, point, 'point');
    const regionIds: string[] = [];
    for (const [regionId, region] of space.regions) {
      if (inRegion(region.boundaries, raw)) regionIds.push(regionId);
    }
    return { regionIds };
  },

  categorize({ conceptualspacesId, point, context }) {
    const { space } = rowOf(rows, conceptualspacesId);
    const { raw } = resolve(space, point, 'point');
    const g = geometryIn(space, context);
    const best = categorize(space, g, metricPoint(space.dimensions, raw));
    if (best === undefined) return { found: false };
    return {
      found: true,
      regionId: best.regionId,
      name: best.region.name,
      distance: best.distance,
      degree: Math.exp(-best.distance),
    };
  },

  voronoiCell({ conceptualspacesId, regionId, context }) {
    const { space } = rowOf(rows, conceptualspacesId);
    const region = regionOf(space, regionId);
    const g = geometryIn(space, context);
    const boundaries = [];
    for (const [otherId, other] of space.regions) {
      if (otherId === regionId) continue;
      const half = bisector(
        space.dimensions,
        g.weights,
        region.prototype,
        other.prototype,
      );
      if (half !== undefined)
        boundaries.push({ normal: [...half.normal], offset: half.offset });
    }
    return { prototype: [...region.prototype], boundaries };
  },

  graphFeatures({ conceptualspacesId, graphId }) {
    requireId(graphId, 'graph_id');
    const { space } = rowOf(rows, conceptualspacesId);
    const graph = space.graphs.get(graphId);
    if (graph === undefined) {
      notFound(
        `graph ${show(graphId)} has not been placed in space ${show(conceptualspacesId)}`,
      );
    }
    return {
      appliedGraphVersion: graph.applied,
      pendingChanges: graph.pending.length,
      nodeCount: BigInt(graph.nodes.size),
      edgeCount: BigInt(graph.edges.size),
      abstractNodes: BigInt(graph.abstractNodes),
      graphEvents: BigInt(graph.events),
      changeEvents: BigInt(graph.changes),
      richness: BigInt(richnessOf(graph)),
      features: graphFeatures(graph),
    };
  },
});

function trajectory(
  space: PresentSpace,
  points: readonly Point[],
  field: string,
): Float64Array[] {
  if (points.length === 0 || points.length > MAX_TRAJECTORY) {
    invalid(
      `${field} must hold 1 to ${MAX_TRAJECTORY} points, got ${points.length}`,
    );
  }
  return points.map((point, i) =>
    metricPoint(
      space.dimensions,
      checkPoint(space.dimensions, point.coordinates, `${field}[${i}]`),
    ),
  );
}

function similarityOf(space: PresentSpace, request: SimilarityRequest): number {
  const { method } = request;
  if (method === SimilarityMethod.TRAJECTORY) {
    const g = geometryIn(space, request.context);
    const a = trajectory(space, request.trajectoryA, 'trajectory_a');
    const b = trajectory(space, request.trajectoryB, 'trajectory_b');
    return 1 / (1 + dynamicTimeWarping(g, a, b));
  }
  const x = resolve(space, request.a, 'a').raw;
  const y = resolve(space, request.b, 'b').raw;
  const mx = metricPoint(space.dimensions, x);
  const my = metricPoint(space.dimensions, y);
  switch (method) {
    case SimilarityMethod.UNSPECIFIED:
    case SimilarityMethod.GEOMETRIC:
      return 1 / (1 + distance(geometryIn(space, request.context), mx, my));
    case SimilarityMethod.PROTOTYPE:
      return Math.exp(-distance(geometryIn(space, request.context), mx, my));
    case SimilarityMethod.COSINE: {
      const g = geometryIn(space, request.context);
      const d = cosineDistance(
        g.weights,
        unitPoint(space.dimensions, x),
        unitPoint(space.dimensions, y),
      );
      if (d === undefined)
        invalid('cosine similarity is undefined for a zero vector');
      return (2 - d) / 2; // (cos + 1) / 2 with cos = 1 - d
    }
    case SimilarityMethod.SHARED_REGION: {
      const d = distance(geometryIn(space, request.context), mx, my);
      for (const region of space.regions.values()) {
        if (inRegion(region.boundaries, x) && inRegion(region.boundaries, y)) {
          return 0.9 + 0.1 / (1 + d);
        }
      }
      return 1 / (1 + d);
    }
    case SimilarityMethod.SALIENCE: {
      const { salience } = request;
      if (salience.length !== space.dimensions.length) {
        invalid(
          `salience must hold one value per dimension (${space.dimensions.length}), got ${salience.length}`,
        );
      }
      salience.forEach((s, i) => {
        requireFinite(s, `salience[${i}]`);
        if (s < 0) invalid(`salience[${i}] must not be negative, got ${s}`);
      });
      if (salience.every((s) => s === 0))
        invalid('salience must not be all zero');
      return salienceSimilarity(
        geometryIn(space, request.context).kinds,
        salience,
        mx,
        my,
      );
    }
    case SimilarityMethod.FEATURE_OVERLAP:
      return featureOverlap(
        unitPoint(space.dimensions, x),
        unitPoint(space.dimensions, y),
      );
    case SimilarityMethod.MULTI_LEVEL:
      return multiLevel(space, request, mx, my);
    default:
      return invalid(
        `method ${String(method)} is not a known similarity method`,
      );
  }
}

function multiLevel(
  space: PresentSpace,
  request: SimilarityRequest,
  mx: Float64Array,
  my: Float64Array,
): number {
  const { geometricWeight, categoryWeight, contextualWeight } = request;
  [
    [geometricWeight, 'geometric_weight'],
    [categoryWeight, 'category_weight'],
    [contextualWeight, 'contextual_weight'],
  ].forEach(([w, field]) => {
    requireFinite(w as number, field as string);
    if ((w as number) < 0) invalid(`${field} must not be negative, got ${w}`);
  });
  const current = geometryOf(space.dimensions, space.metric);
  const levels: Array<[number, number]> = [
    [geometricWeight, 1 / (1 + distance(current, mx, my))],
    [
      contextualWeight,
      1 / (1 + distance(geometryIn(space, request.context), mx, my)),
    ],
  ];
  // Without regions there are no categories to share: that level drops out.
  const ca = categorize(space, current, mx);
  const cb = categorize(space, current, my);
  if (ca !== undefined && cb !== undefined) {
    levels.push([categoryWeight, ca.regionId === cb.regionId ? 1 : 0]);
  }
  const total = levels.reduce((sum, [w]) => sum + w, 0);
  return total === 0
    ? levels.reduce((sum, [, s]) => sum + s, 0) / levels.length
    : levels.reduce((sum, [w, s]) => sum + w * s, 0) / total;
}
