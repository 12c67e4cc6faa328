import {
  DocumentStatus,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  create,
  type DescMessage,
  type JsonObject,
  type Message,
} from '@bufbuild/protobuf';
import {
  CompleteStepExecutionSchema,
  FailStepExecutionSchema,
  ParticipantVote,
  RecordTransactionVoteSchema,
  type WorkflowCommand,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { ForeignEventMeta, Reaction } from '@cim/service';
import {
  parseOperationCorrelationId,
  parseTransactionCorrelationId,
} from './domain/index.js';

/**
 * A domain whose commits answer the operations workflows request of it. A
 * commit answers an operation when it carries the operation's correlation id
 * (the performer sent its command with that Cim-Correlation-Id).
 */
export interface OperationResultSource {
  /** The domain that performs operations, e.g. `graph`. */
  readonly domain: string;
  /** Its generated `<Domain>Event` schema. */
  readonly event: DescMessage;
  /** Event type names that answer operations; every type when omitted. */
  readonly events?: readonly string[];
  /** The error message when an event reports that the operation failed; undefined when it succeeded. */
  readonly failure?: (
    event: Message,
    meta: ForeignEventMeta,
  ) => string | undefined;
}

/**
 * What one foreign event means for the workflow that awaits it, by the
 * correlation id of its commit: under an operation's
 * (wf:<workflow>:<step>:<request>), CompleteStepExecution, or
 * FailStepExecution when `failure` names an error; under a transaction's
 * (wftx:<workflow>:<transaction>), the source domain's vote, PREPARED or
 * (when `failure` names an error) REFUSED; under any other, nothing. Pure.
 * A commit of several events yields one command per event; the first settles
 * the step (or records the vote) and the decider refuses the rest.
 */
export function operationResult(
  event: Message,
  meta: ForeignEventMeta,
  failure?: OperationResultSource['failure'],
): WorkflowCommand['body'][] {
  const transaction = parseTransactionCorrelationId(meta.correlationId);
  if (transaction !== undefined) {
    const { result, error } = outcome(event, meta, failure);
    return [
      {
        case: 'recordTransactionVote',
        value: create(RecordTransactionVoteSchema, {
          ...transaction,
          participant: meta.domain,
          vote:
            error === undefined
              ? ParticipantVote.PREPARED
              : ParticipantVote.REFUSED,
          reason: error ?? '',
          details: result,
        }),
      },
    ];
  }
  const target = parseOperationCorrelationId(meta.correlationId);
  if (target === undefined) return [];
  const { workflowId, stepId } = target;
  const { result, error } = outcome(event, meta, failure);
  if (error !== undefined) {
    return [
      {
        case: 'failStepExecution',
        value: create(FailStepExecutionSchema, {
          workflowId,
          stepId,
          error: error.trim() === '' ? `${meta.eventType} failed` : error,
          details: result,
          correlationId: meta.correlationId,
        }),
      },
    ];
  }
  return [
    {
      case: 'completeStepExecution',
      value: create(CompleteStepExecutionSchema, {
        workflowId,
        stepId,
        output: result,
        correlationId: meta.correlationId,
      }),
    },
  ];
}

/** What a foreign event reports: where it was recorded, and the error when `failure` says it failed. */
function outcome(
  event: Message,
  meta: ForeignEventMeta,
  failure: OperationResultSource['failure'],
): { readonly result: JsonObject; readonly error: string | undefined } {
  return {
    result: {
      domain: meta.domain,
      eventType: meta.eventType,
      aggregateId: meta.aggregateId,
      version: Number(meta.version),
      eventId: meta.eventId,
    },
    error: failure?.(event, meta),
  };
}

/**
 * The reaction that settles steps waiting for operations of one domain: a
 * durable consumer `cim-workflow-results-<domain>` on that domain's events.
 * Redelivered events derive the same command ids and meet a step that is no
 * longer running, so they change nothing.
 */
export function operationResults(
  source: OperationResultSource,
): Reaction<WorkflowCommand> {
  return {
    name: `results-${source.domain}`,
    source: { domain: source.domain, event: source.event },
    ...(source.events !== undefined && { events: source.events }),
    react: (event, meta) => operationResult(event, meta, source.failure),
  };
}

/**
 * Whether a document event answers an operation as failed: a review that
 * ends rejected, or content put in quarantine. Anything else the document
 * domain commits under the operation's correlation id completes it.
 */
export function documentFailure({ body }: DocumentEvent): string | undefined {
  if (body.case === 'stateChanged' && body.value.to === DocumentStatus.REJECTED)
    return `document ${body.value.documentId} was rejected in review`;
  if (body.case === 'contentQuarantined')
    return `the content of document ${body.value.documentId} was quarantined`;
  return undefined;
}
