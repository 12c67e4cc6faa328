import { defineService, type ServiceDefinition } from '@cim/service';
import {
  DocumentCommandSchema,
  DocumentEventSchema,
  DocumentQueryService,
} from '@cim/proto/cim/document/v1/document_pb';
import { documentDecider, reviveDocumentState } from './domain/index.js';
import {
  ContentStores,
  DEFAULT_MAX_CONTENT_BYTES,
  prepareDocumentCommand,
  type ContentOptions,
} from './prepare.js';
import { project, reviveDocumentRow } from './projection.js';
import { documentQueries } from './queries.js';
import { forkReaction, reviewReaction } from './reactions.js';

/**
 * Defines the document service with its content limit and bucket; a value,
 * `start()` runs an instance. Content bytes go to the object store in
 * `prepare`, before the pure decide, so no commit ever holds them.
 */
export function defineDocumentService(
  options: Partial<ContentOptions> = {},
): ServiceDefinition {
  const content: ContentOptions = {
    maxContentBytes: options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES,
    ...(options.bucket !== undefined && { bucket: options.bucket }),
  };
  const stores = new ContentStores(content.bucket);
  return defineService({
    domain: 'document',
    decider: documentDecider,
    schemas: { command: DocumentCommandSchema, event: DocumentEventSchema },
    projection: project,
    queries: {
      service: DocumentQueryService,
      handlers: documentQueries(content, stores),
    },
    prepare: prepareDocumentCommand(content, stores),
    reactions: [forkReaction, reviewReaction],
    revive: { state: reviveDocumentState, row: reviveDocumentRow },
    // 3: state and rows carry the review round and the head's analyses.
    snapshotVersion: 3,
  });
}

/** The document service with the default 16 MiB content limit. */
export const documentService: ServiceDefinition = defineDocumentService();
