import {
  ConceptualspacesCommandSchema,
  ConceptualspacesEventSchema,
  ConceptualspacesQueryService,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { defineService } from '@cim/service';
import { conceptualspacesDecider } from './domain/index.js';
import { reviveSpaceState } from './domain/state.js';
import { project, reviveSpaceRow } from './projection.js';
import { conceptualspacesQueries } from './queries.js';
import {
  documentEntityConceptsReaction,
  graphConceptsReaction,
  graphNodeConceptsReaction,
} from './reactions.js';

/** The conceptual spaces domain service: a value; `start()` runs an instance. */
export const conceptualspacesService = defineService({
  domain: 'conceptualspaces',
  decider: conceptualspacesDecider,
  schemas: {
    command: ConceptualspacesCommandSchema,
    event: ConceptualspacesEventSchema,
  },
  projection: project,
  queries: {
    service: ConceptualspacesQueryService,
    handlers: conceptualspacesQueries,
  },
  reactions: [
    graphConceptsReaction,
    graphNodeConceptsReaction,
    documentEntityConceptsReaction,
  ],
  revive: { state: reviveSpaceState, row: reviveSpaceRow },
});
