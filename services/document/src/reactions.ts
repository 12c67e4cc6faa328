import { create, type Message } from '@bufbuild/protobuf';
import {
  ChangeDocumentStateSchema,
  CreateDocumentFromCidSchema,
  DocumentEventSchema,
  DocumentStatus,
  type DocumentCommand,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  WorkflowEventSchema,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { Reaction } from '@cim/service';
import { parseReviewWorkflowId } from './domain/rules.js';

/**
 * DocumentForked → CreateDocumentFromCid for the fork: a reaction of the
 * document service to its own events, because a command changes one
 * aggregate and a fork is a second one. The fork starts from the source's
 * head and metadata, is owned by whoever forked, and links derived_from the
 * source. Redelivery is harmless: the command id derives from the event id,
 * and a second create is refused with ALREADY_EXISTS.
 */
export const forkReaction: Reaction<DocumentCommand> = {
  name: 'fork',
  source: { domain: 'document', event: DocumentEventSchema },
  events: ['DocumentForked'],
  react(message: Message): ReadonlyArray<DocumentCommand['body']> {
    const { body } = message as DocumentEvent;
    if (body.case !== 'forked') return [];
    const forked = body.value;
    return [
      {
        case: 'createFromCid',
        value: create(CreateDocumentFromCidSchema, {
          documentId: forked.forkId,
          contentCid: forked.contentCid,
          title: forked.title,
          tags: forked.tags,
          description: forked.description,
          documentType: forked.documentType,
          mimeType: forked.mimeType,
          filename: forked.filename,
          language: forked.language,
          confidentiality: forked.confidentiality,
          ...(forked.processing && { processing: forked.processing }),
          forkedFrom: {
            documentId: forked.documentId,
            contentCid: forked.contentCid,
            forkedBy: forked.forkedBy,
          },
        }),
      },
    ];
  },
};

/**
 * The end of a review workflow → ChangeDocumentState of the document it
 * reviews: WorkflowCompleted publishes it, WorkflowFailed and
 * WorkflowCancelled reject it. A workflow reviews a document when its id is
 * `review-<round>-<document id>` (reviewWorkflowId); any other workflow is
 * ignored. Pure. The command names the workflow, so the decider applies it
 * only to a document still under review in that round; anything else is
 * refused (and the event acknowledged), and a redelivered event derives the
 * same command id, so applying it twice changes nothing.
 */
export function reviewOutcome({
  body,
}: WorkflowEvent): ReadonlyArray<DocumentCommand['body']> {
  let to: DocumentStatus;
  switch (body.case) {
    case 'completed':
      to = DocumentStatus.PUBLISHED;
      break;
    case 'failed':
    case 'cancelled':
      to = DocumentStatus.REJECTED;
      break;
    default:
      return [];
  }
  const { workflowId } = body.value;
  const review = parseReviewWorkflowId(workflowId);
  if (review === undefined) return [];
  return [
    {
      case: 'changeState',
      value: create(ChangeDocumentStateSchema, {
        documentId: review.documentId,
        to,
        reviewWorkflowId: workflowId,
      }),
    },
  ];
}

/** Review workflows ending → the reviewed document's state (reviewOutcome). */
export const reviewReaction: Reaction<DocumentCommand> = {
  name: 'review-outcomes',
  source: { domain: 'workflow', event: WorkflowEventSchema },
  events: ['WorkflowCompleted', 'WorkflowFailed', 'WorkflowCancelled'],
  react: (event: Message) => reviewOutcome(event as WorkflowEvent),
};
