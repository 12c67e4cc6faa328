export { conceptualspacesService } from './service.js';
export { conceptualspacesDecider } from './domain/index.js';
export { reviveSpaceState } from './domain/state.js';
export type { SpaceState } from './domain/state.js';
export { project, reviveSpaceRow } from './projection.js';
export type { SpaceRow } from './projection.js';
export { conceptualspacesQueries } from './queries.js';
export {
  DOCUMENT_ENTITY_SPACE_ID,
  GRAPH_SPACE_ID,
  NODE_SPACE_KEY,
  documentEntityConceptsReaction,
  entityProfile,
  graphConceptsReaction,
  graphNodeConceptId,
  graphNodeConceptsReaction,
} from './reactions.js';
export { geometryOf, metricPoint, MetricKind } from './domain/geometry.js';
export type { Geometry } from './domain/geometry.js';
export {
  buildIndex,
  buildIndexFromPoints,
  emptyIndex,
  insertEntry,
  nearest,
  scanNearest,
} from './concept-index.js';
export type {
  ConceptIndex,
  IndexEntry,
  Nearest,
  SearchOptions,
} from './concept-index.js';
export type { PointSet } from './kd-tree.js';
