import { ConceptualspacesEventSchema } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  DocumentEventSchema,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import { GraphEventSchema } from '@cim/proto/cim/graph/v1/graph_pb';
import { LocationEventSchema } from '@cim/proto/cim/location/v1/location_pb';
import {
  WorkflowCommandSchema,
  WorkflowEventSchema,
  WorkflowQueryService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { defineService, type ServiceDefinition } from '@cim/service';
import { reviveWorkflowState, workflowDecider } from './domain/index.js';
import { project, reviveWorkflowRow } from './projection.js';
import { workflowQueries } from './queries.js';
import {
  documentFailure,
  operationResults,
  type OperationResultSource,
} from './reactions.js';

/**
 * The domains whose commits settle cross-domain operations by default: every
 * one built so far. A document review ends the step that awaits it: published
 * completes it, rejected (or quarantined content) fails it.
 */
export const defaultOperationSources: readonly OperationResultSource[] = [
  { domain: 'graph', event: GraphEventSchema },
  {
    domain: 'document',
    event: DocumentEventSchema,
    failure: (event) => documentFailure(event as DocumentEvent),
  },
  { domain: 'location', event: LocationEventSchema },
  { domain: 'conceptualspaces', event: ConceptualspacesEventSchema },
];

/** A workflow service whose waiting steps are settled by commits of `sources`. */
export function defineWorkflowService(
  sources: readonly OperationResultSource[] = defaultOperationSources,
): ServiceDefinition {
  return defineService({
    domain: 'workflow',
    decider: workflowDecider,
    schemas: { command: WorkflowCommandSchema, event: WorkflowEventSchema },
    projection: project,
    queries: { service: WorkflowQueryService, handlers: workflowQueries },
    reactions: sources.map(operationResults),
    revive: { state: reviveWorkflowState, row: reviveWorkflowRow },
    // 2: workflows hold transactions and template origins; steps, join and timer rules.
    snapshotVersion: 2,
  });
}

/** The workflow domain service: a value; `start()` runs an instance. */
export const workflowService = defineWorkflowService();
