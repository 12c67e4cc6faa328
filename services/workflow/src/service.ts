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
import { prepare } from './prepare.js';
import { project, reviveWorkflowRow } from './projection.js';
import { workflowQueries } from './queries.js';
import {
  documentFailure,
  operationResults,
  type OperationResultSource,
} from './reactions.js';
import { TimerIndex } from './timer-index.js';
import { TIMER_TICK_MS, timerSchedule } from './timers.js';

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

/**
 * A workflow service whose waiting steps are settled by commits of `sources`
 * and whose due timers it fires itself, looking every `timerTickMs`.
 */
export function defineWorkflowService(
  sources: readonly OperationResultSource[] = defaultOperationSources,
  timerTickMs = TIMER_TICK_MS,
): ServiceDefinition {
  // Made once per instance: each has its own index of armed timers, kept by its projection.
  return defineService(() => {
    const timers = new TimerIndex();
    return {
      domain: 'workflow',
      decider: workflowDecider,
      schemas: { command: WorkflowCommandSchema, event: WorkflowEventSchema },
      projection: (row, event, meta) => {
        const next = project(row, event, meta);
        timers.update(meta.aggregateId, row?.timers, next?.timers);
        return next;
      },
      queries: { service: WorkflowQueryService, handlers: workflowQueries },
      prepare,
      reactions: sources.map(operationResults),
      schedules: [timerSchedule(timers, timerTickMs)],
      revive: { state: reviveWorkflowState, row: reviveWorkflowRow },
      // 3: timer steps hold their due and fired times; rows, their armed timers.
      snapshotVersion: 3,
    };
  });
}

/** The workflow domain service: a value; `start()` runs an instance. */
export const workflowService = defineWorkflowService();
