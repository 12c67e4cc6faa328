import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  DocumentEventSchema,
  DocumentStatus,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  GraphEventSchema,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  ParticipantVote,
  WorkflowCommandSchema,
  type WorkflowCommand,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { ForeignEventMeta } from '@cim/service';
import {
  operationCorrelationId,
  parseOperationCorrelationId,
  parseTransactionCorrelationId,
  transactionCorrelationId,
  workflowDecider,
} from '../src/domain/index.js';
import {
  documentFailure,
  operationResult,
  operationResults,
} from '../src/reactions.js';
import {
  COMMAND_ID,
  evt,
  executing,
  running,
  stateOf,
  stepAdded,
} from './fixtures.js';

const CORRELATION = operationCorrelationId({
  workflowId: 'wf-1',
  stepId: 'a',
  requestId: COMMAND_ID,
});

const graphCreated: GraphEvent = create(GraphEventSchema, {
  body: { case: 'created', value: { graphId: 'g-1', name: 'g' } },
});

function meta(
  correlationId: string,
  eventType = 'GraphCreated',
): ForeignEventMeta {
  return {
    domain: 'graph',
    eventType,
    aggregateId: 'g-1',
    version: 1n,
    sequence: 7n,
    eventId: 'evt-1',
    commandId: 'cmd-1',
    correlationId,
    actor: 'user:x',
    occurredAtMs: 0,
  };
}

const awaiting = (maxRetries = 0): WorkflowEvent[] => [
  ...running(stepAdded('a', { maxRetries })),
  executing('a'),
  evt('crossDomainOperationRequested', {
    stepId: 'a',
    targetDomain: 'graph',
    operation: 'graph.CreateGraph',
    correlationId: CORRELATION,
  }),
];

/** The workflow command the runtime builds from a reaction's body. */
const asCommand = (body: WorkflowCommand['body']): WorkflowCommand =>
  create(WorkflowCommandSchema, { meta: { commandId: 'derived' }, body });

function refusal(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (DomainError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('operation correlation ids', () => {
  it('parse back into the workflow, step and request they name', () => {
    expect(CORRELATION).toBe(`wf:wf-1:a:${COMMAND_ID}`);
    expect(parseOperationCorrelationId(CORRELATION)).toEqual({
      workflowId: 'wf-1',
      stepId: 'a',
      requestId: COMMAND_ID,
    });
  });
  it.each([
    COMMAND_ID,
    'wf:wf-1:a',
    'wf:wf-1:a:b:c',
    'xx:wf-1:a:b',
    'wf::a:b',
    'wf:w.1:a:b',
  ])('do not parse from %j', (text) => {
    expect(parseOperationCorrelationId(text)).toBeUndefined();
  });
});

describe('operation results reaction', () => {
  it('completes the step a commit with its correlation id answers', () => {
    expect(operationResult(graphCreated, meta(CORRELATION))).toEqual([
      {
        case: 'completeStepExecution',
        value: expect.objectContaining({
          workflowId: 'wf-1',
          stepId: 'a',
          correlationId: CORRELATION,
          output: {
            domain: 'graph',
            eventType: 'GraphCreated',
            aggregateId: 'g-1',
            version: 1,
            eventId: 'evt-1',
          },
        }) as unknown,
      },
    ]);
  });

  it('ignores commits under any other correlation id', () => {
    expect(operationResult(graphCreated, meta(COMMAND_ID))).toEqual([]);
    expect(operationResult(graphCreated, meta('wf:bad.id:a:b'))).toEqual([]);
  });

  it('fails the step when the source reports a failure', () => {
    const [body] = operationResult(
      graphCreated,
      meta(CORRELATION, 'GraphArchived'),
      (_event, { eventType }) =>
        eventType === 'GraphArchived' ? 'gone' : undefined,
    );
    expect(body).toEqual({
      case: 'failStepExecution',
      value: expect.objectContaining({
        workflowId: 'wf-1',
        stepId: 'a',
        error: 'gone',
        correlationId: CORRELATION,
        details: expect.objectContaining({
          eventType: 'GraphArchived',
        }) as unknown,
      }) as unknown,
    });
    const [blank] = operationResult(graphCreated, meta(CORRELATION), () => ' ');
    expect(blank?.value).toMatchObject({ error: 'GraphCreated failed' });
  });

  it('is a reaction on the source domain, named after it', () => {
    const reaction = operationResults({
      domain: 'graph',
      event: GraphEventSchema,
      events: ['GraphCreated'],
    });
    expect(reaction).toMatchObject({
      name: 'results-graph',
      source: { domain: 'graph', event: GraphEventSchema },
      events: ['GraphCreated'],
    });
    expect(reaction.react(graphCreated, meta(CORRELATION))).toHaveLength(1);
  });

  describe('when its command meets the decider', () => {
    it('completes the awaiting step once; a repeat is refused with INVALID_TRANSITION', () => {
      const [body] = operationResult(graphCreated, meta(CORRELATION));
      const state = stateOf(awaiting());
      const events = workflowDecider.decide(asCommand(body!), state);
      expect(events.map((e) => e.body.case)).toEqual([
        'stepExecutionCompleted',
      ]);
      const after = events.reduce(workflowDecider.evolve, state);
      expect(
        refusal(() => workflowDecider.decide(asCommand(body!), after)),
      ).toBe(ErrorCode.INVALID_TRANSITION);
    });

    it('fails the step for good when no retries are left', () => {
      const [body] = operationResult(
        graphCreated,
        meta(CORRELATION),
        () => 'boom',
      );
      expect(
        workflowDecider.decide(asCommand(body!), stateOf(awaiting())),
      ).toEqual([
        evt('stepFailed', {
          stepId: 'a',
          error: 'boom',
          correlationId: CORRELATION,
          details: {
            domain: 'graph',
            eventType: 'GraphCreated',
            aggregateId: 'g-1',
            version: 1,
            eventId: 'evt-1',
          },
        }),
      ]);
    });

    it('counts a retry, and refuses the same failure again with BUSINESS_RULE_VIOLATION', () => {
      const [body] = operationResult(
        graphCreated,
        meta(CORRELATION),
        () => 'boom',
      );
      const state = stateOf(awaiting(3));
      const events = workflowDecider.decide(asCommand(body!), state);
      expect(events.map((e) => e.body.case)).toEqual(['stepExecutionFailed']);
      const after = events.reduce(workflowDecider.evolve, state);
      expect(
        refusal(() => workflowDecider.decide(asCommand(body!), after)),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
    });

    it('refuses a result for an operation the step no longer awaits with BUSINESS_RULE_VIOLATION', () => {
      const stale = operationCorrelationId({
        workflowId: 'wf-1',
        stepId: 'a',
        requestId: 'earlier',
      });
      const [body] = operationResult(graphCreated, meta(stale));
      expect(
        refusal(() =>
          workflowDecider.decide(asCommand(body!), stateOf(awaiting())),
        ),
      ).toBe(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });
});

describe('transaction correlation ids', () => {
  it('parse back into the workflow and transaction they name', () => {
    const id = transactionCorrelationId({
      workflowId: 'wf-1',
      transactionId: 'tx-1',
    });
    expect(id).toBe('wftx:wf-1:tx-1');
    expect(parseTransactionCorrelationId(id)).toEqual({
      workflowId: 'wf-1',
      transactionId: 'tx-1',
    });
    expect(parseOperationCorrelationId(id)).toBeUndefined();
  });
  it.each([
    'wftx:wf-1',
    'wftx:wf-1:a:b',
    'wf:wf-1:tx',
    'wftx::tx',
    'wftx:w:t.1',
  ])('do not parse from %j', (text) => {
    expect(parseTransactionCorrelationId(text)).toBeUndefined();
  });
});

describe('operation results reaction on a transaction', () => {
  const TX_CORRELATION = 'wftx:wf-1:tx-1';
  const inTransaction = (): WorkflowEvent[] => [
    ...running(stepAdded('a')),
    executing('a'),
    evt('crossDomainTransactionStarted', {
      stepId: 'a',
      transactionId: 'tx-1',
      correlationId: TX_CORRELATION,
      participants: [
        { domain: 'graph', operation: 'graph.CreateGraph' },
        { domain: 'location', operation: 'location.DefineLocation' },
      ],
    }),
  ];

  it('records the source domain as prepared, with what it committed', () => {
    expect(operationResult(graphCreated, meta(TX_CORRELATION))).toEqual([
      {
        case: 'recordTransactionVote',
        value: expect.objectContaining({
          workflowId: 'wf-1',
          transactionId: 'tx-1',
          participant: 'graph',
          vote: ParticipantVote.PREPARED,
          reason: '',
          details: expect.objectContaining({
            eventType: 'GraphCreated',
            aggregateId: 'g-1',
          }) as unknown,
        }) as unknown,
      },
    ]);
  });

  it('records a refusal when the source reports a failure', () => {
    const [body] = operationResult(
      graphCreated,
      meta(TX_CORRELATION),
      () => 'no room',
    );
    expect(body?.value).toMatchObject({
      vote: ParticipantVote.REFUSED,
      reason: 'no room',
    });
  });

  describe('when its command meets the decider', () => {
    it('records the vote once; a repeat is refused with INVALID_TRANSITION', () => {
      const [body] = operationResult(graphCreated, meta(TX_CORRELATION));
      const state = stateOf(inTransaction());
      const events = workflowDecider.decide(asCommand(body!), state);
      expect(events.map((e) => e.body.case)).toEqual([
        'crossDomainTransactionPrepared',
      ]);
      const after = events.reduce(workflowDecider.evolve, state);
      expect(
        refusal(() => workflowDecider.decide(asCommand(body!), after)),
      ).toBe(ErrorCode.INVALID_TRANSITION);
    });

    it('rolls the transaction back and fails the step on a refusal', () => {
      const [body] = operationResult(
        graphCreated,
        meta(TX_CORRELATION),
        () => 'no room',
      );
      const events = workflowDecider.decide(
        asCommand(body!),
        stateOf(inTransaction()),
      );
      expect(events.map((e) => e.body.case)).toEqual([
        'crossDomainTransactionRolledBack',
        'stepFailed',
      ]);
    });
  });
});

describe('documentFailure', () => {
  const stateChanged = (to: DocumentStatus): DocumentEvent =>
    create(DocumentEventSchema, {
      body: {
        case: 'stateChanged',
        value: { documentId: 'd', from: DocumentStatus.UNDER_REVIEW, to },
      },
    });

  it('fails a review that ends rejected, and quarantined content', () => {
    expect(documentFailure(stateChanged(DocumentStatus.REJECTED))).toBe(
      'document d was rejected in review',
    );
    const quarantined = create(DocumentEventSchema, {
      body: { case: 'contentQuarantined', value: { documentId: 'd' } },
    });
    expect(documentFailure(quarantined)).toBe(
      'the content of document d was quarantined',
    );
  });

  it('lets anything else complete the operation', () => {
    expect(
      documentFailure(stateChanged(DocumentStatus.PUBLISHED)),
    ).toBeUndefined();
  });
});
