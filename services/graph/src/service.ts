import { defineService } from '@cim/service';
import {
  GraphCommandSchema,
  GraphEventSchema,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { graphDecider, reviveGraphState } from './domain/index.js';
import { project, reviveGraphRow } from './projection.js';
import { prepareGraphCommand } from './prepare.js';
import { graphQueries } from './queries.js';
import { documentNodesReaction, workflowGraphReaction } from './reactions.js';

/** The graph domain service: a value; `start()` runs an instance. */
export const graphService = defineService({
  domain: 'graph',
  decider: graphDecider,
  schemas: { command: GraphCommandSchema, event: GraphEventSchema },
  projection: project,
  queries: { service: GraphQueryService, handlers: graphQueries },
  prepare: prepareGraphCommand,
  reactions: [documentNodesReaction, workflowGraphReaction],
  revive: { state: reviveGraphState, row: reviveGraphRow },
  // 2: read-model rows hold SortedIndex (folded in place), no longer SortedMap.
  snapshotVersion: 2,
});
