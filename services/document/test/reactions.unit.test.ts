import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DocumentStatus } from '@cim/proto/cim/document/v1/document_pb';
import { WorkflowEventSchema } from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  parseReviewWorkflowId,
  reviewWorkflowId,
} from '../src/domain/rules.js';
import { reviewOutcome } from '../src/reactions.js';

type Body = NonNullable<MessageInitShape<typeof WorkflowEventSchema>['body']>;

const workflowEvent = (body: Body) => create(WorkflowEventSchema, { body });

describe('review workflow ids', () => {
  it('name the round and the document, and read back', () => {
    expect(reviewWorkflowId(2, 'doc-1')).toBe('review-2-doc-1');
    expect(parseReviewWorkflowId('review-2-doc-1')).toEqual({
      round: 2,
      documentId: 'doc-1',
    });
    expect(parseReviewWorkflowId('review-12-3-x')).toEqual({
      round: 12,
      documentId: '3-x',
    });
  });
  it.each([
    'review-0-doc',
    'review-01-doc',
    'review-1-',
    'review-doc',
    'wf-1',
    'review-1-a b',
  ])('reads %s as no review workflow', (id) => {
    expect(parseReviewWorkflowId(id)).toBeUndefined();
  });
});

describe('reviewOutcome', () => {
  const workflowId = 'review-1-doc-1';
  const changeState = (to: DocumentStatus) => [
    {
      case: 'changeState',
      value: expect.objectContaining({
        documentId: 'doc-1',
        to,
        reviewWorkflowId: workflowId,
      }),
    },
  ];

  it('publishes the document when its review workflow completes', () => {
    expect(
      reviewOutcome(
        workflowEvent({ case: 'completed', value: { workflowId } }),
      ),
    ).toEqual(changeState(DocumentStatus.PUBLISHED));
  });
  it('rejects the document when its review workflow fails or is cancelled', () => {
    expect(
      reviewOutcome(
        workflowEvent({ case: 'failed', value: { workflowId, error: 'no' } }),
      ),
    ).toEqual(changeState(DocumentStatus.REJECTED));
    expect(
      reviewOutcome(
        workflowEvent({
          case: 'cancelled',
          value: { workflowId, reason: 'x' },
        }),
      ),
    ).toEqual(changeState(DocumentStatus.REJECTED));
  });
  it('ignores other workflows and other workflow events', () => {
    expect(
      reviewOutcome(
        workflowEvent({ case: 'completed', value: { workflowId: 'wf-1' } }),
      ),
    ).toEqual([]);
    expect(
      reviewOutcome(workflowEvent({ case: 'started', value: { workflowId } })),
    ).toEqual([]);
  });
});
