import { GraphEventSchema } from '@cim/proto/cim/graph/v1/graph_pb';
import {
  WorkflowCommandSchema,
  WorkflowEventSchema,
  WorkflowQueryService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { defineService, type ServiceDefinition } from '@cim/service';
import { reviveWorkflowState, workflowDecider } from './domain/index.js';
import { project, reviveWorkflowRow } from './projection.js';
import { workflowQueries } from './queries.js';
import { operationResults, type OperationResultSource } from './reactions.js';

/** The domains whose commits settle cross-domain operations by default: graph, the one that exists so far. */
export const defaultOperationSources: readonly OperationResultSource[] = [
  { domain: 'graph', event: GraphEventSchema },
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
  });
}

/** The workflow domain service: a value; `start()` runs an instance. */
export const workflowService = defineWorkflowService();
