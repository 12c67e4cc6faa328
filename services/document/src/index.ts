export { defineDocumentService, documentService } from './service.js';
export { documentDecider, reviveDocumentState } from './domain/index.js';
export type { DocumentState } from './domain/index.js';
export {
  decodeBase32,
  encodeBase32,
  formatCid,
  isContentCid,
  parseCid,
  rawSha256Cid,
} from './domain/cid.js';
export type { ParsedCid } from './domain/cid.js';
export { project, reviveDocumentRow } from './projection.js';
export type { DocumentRow } from './projection.js';
export { parseReviewWorkflowId, reviewWorkflowId } from './domain/rules.js';
export { documentQueries } from './queries.js';
export { forkReaction, reviewOutcome, reviewReaction } from './reactions.js';
export {
  CHUNK_BYTES,
  CONTENT_BUCKET,
  ContentStore,
  ContentUnavailableError,
  contentCid,
  sha256,
} from './content-store.js';
export type { ContentStat, StoredObject } from './content-store.js';
export { DEFAULT_MAX_CONTENT_BYTES } from './prepare.js';
export type { ContentOptions } from './prepare.js';
export { maxContentBytesFrom } from './config.js';
