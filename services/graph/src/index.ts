export { graphService } from './service.js';
export { graphDecider } from './domain/index.js';
export type { GraphState } from './domain/index.js';
export { project } from './projection.js';
export type { GraphRow } from './projection.js';
export { graphQueries } from './queries.js';
export {
  DOCUMENTS_GRAPH_ID,
  dependencyEdgeId,
  documentLinkEdgeId,
  workflowGraphId,
} from './reactions.js';
export { IMPORT_LIMITS } from './import-text.js';
