import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cim/kernel';
import {
  ParticipantVote,
  StepType,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { deciderSpec } from '@cim/testing';
import {
  transactionCorrelationId,
  workflowDecider,
} from '../src/domain/index.js';
import {
  COMMAND_ID,
  cmd,
  evt,
  executing,
  running,
  stateOf,
  stepAdded,
} from './fixtures.js';

const given = deciderSpec(workflowDecider);

const TX = 'tx-1';
const CORRELATION = transactionCorrelationId({
  workflowId: 'wf-1',
  transactionId: TX,
});
const PARTICIPANTS = [
  { domain: 'document', operation: 'document.CreateDocument' },
  { domain: 'graph', operation: 'graph.CreateGraph', parameters: { n: 1 } },
];

/** Step `a` running, optionally with retries. */
const runningA = (maxRetries = 0): WorkflowEvent[] => [
  ...running(stepAdded('a', { maxRetries })),
  executing('a'),
];

const txStarted = (): WorkflowEvent =>
  evt('crossDomainTransactionStarted', {
    stepId: 'a',
    transactionId: TX,
    correlationId: CORRELATION,
    participants: PARTICIPANTS,
  });

const prepared = (participant: string): WorkflowEvent =>
  evt('crossDomainTransactionPrepared', {
    stepId: 'a',
    transactionId: TX,
    participant,
    details: { by: participant },
  });

/** An open transaction over document and graph, run by step `a`. */
const open = (maxRetries = 0): WorkflowEvent[] => [
  ...runningA(maxRetries),
  txStarted(),
];

const allPrepared = (): WorkflowEvent[] => [
  ...open(),
  prepared('document'),
  prepared('graph'),
];

const start = (f = {}) =>
  cmd('startCrossDomainTransaction', {
    stepId: 'a',
    transactionId: TX,
    participants: [...PARTICIPANTS].reverse(),
    ...f,
  });
const vote = (participant: string, v: ParticipantVote, f = {}) =>
  cmd('recordTransactionVote', {
    transactionId: TX,
    participant,
    vote: v,
    details: { by: participant },
    ...f,
  });
const commit = () => cmd('commitCrossDomainTransaction', { transactionId: TX });
const rollBack = (reason = 'changed my mind') =>
  cmd('rollBackCrossDomainTransaction', { transactionId: TX, reason });

describe('cross-domain transactions', () => {
  describe('StartCrossDomainTransaction', () => {
    it('starts a transaction under a wftx correlation id, participants by domain', () => {
      given(runningA()).when(start()).then([txStarted()]);
    });
    it('derives the transaction id from the command id when none is given', () => {
      const [started] = given(runningA())
        .when(start({ transactionId: '' }))
        .events();
      expect(started?.body.value).toMatchObject({
        transactionId: COMMAND_ID,
        correlationId: `wftx:wf-1:${COMMAND_ID}`,
      });
    });
    it('starts one from an integration step', () => {
      given([
        ...running(stepAdded('a', { stepType: StepType.INTEGRATION })),
        executing('a'),
      ])
        .when(start())
        .then([txStarted()]);
    });
    it('makes the step await the transaction', () => {
      const state = stateOf(open());
      if (state.status === 'absent') throw new Error('absent');
      expect(state.steps.get('a')?.awaiting).toBe(CORRELATION);
      expect(state.transactions.get(TX)).toMatchObject({
        status: 'open',
        stepId: 'a',
        participants: [
          { domain: 'document', vote: 'pending' },
          { domain: 'graph', vote: 'pending' },
        ],
      });
    });
    it.each([
      ['no participants', { participants: [] }, /at least one/],
      [
        'seventeen participants',
        {
          participants: Array.from({ length: 17 }, (_, i) => ({
            domain: `d${i}`,
            operation: 'op',
          })),
        },
        /at most 16/,
      ],
      [
        'a repeated domain',
        {
          participants: [
            { domain: 'graph', operation: 'a' },
            { domain: 'graph', operation: 'b' },
          ],
        },
        /repeats domain "graph"/,
      ],
      [
        'a participant that is no domain name',
        { participants: [{ domain: 'Graph', operation: 'op' }] },
        /participants\[0\]\.domain/,
      ],
      [
        'a blank operation',
        { participants: [{ domain: 'graph', operation: ' ' }] },
        /participants\[0\]\.operation/,
      ],
      [
        'parameters holding NaN',
        {
          participants: [
            { domain: 'graph', operation: 'op', parameters: { x: Number.NaN } },
          ],
        },
        /finite/,
      ],
      [
        'a malformed transaction id',
        { transactionId: 'a.b' },
        /transaction_id/,
      ],
    ] as const)(
      'rejects %s with VALIDATION_FAILED',
      (_what, fields, message) => {
        given(runningA())
          .when(start(fields))
          .thenRejects(ErrorCode.VALIDATION_FAILED, message);
      },
    );
    it('rejects an unknown workflow with NOT_FOUND', () => {
      given([]).when(start()).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(runningA())
        .when(start({ stepId: 'zz' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a paused workflow with INVALID_TRANSITION', () => {
      given([...runningA(), evt('paused')])
        .when(start())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a manual step with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(stepAdded('a', { stepType: StepType.MANUAL })),
        evt('taskStarted', { stepId: 'a' }),
      ])
        .when(start())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /run transactions/);
    });
    it('rejects a step that has not started with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(start())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /start it/);
    });
    it('rejects a step that already awaits a transaction or an operation with INVALID_TRANSITION', () => {
      given(open())
        .when(start({ transactionId: 'tx-2' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already awaits/);
      given([
        ...runningA(),
        evt('crossDomainOperationRequested', {
          stepId: 'a',
          targetDomain: 'graph',
          operation: 'op',
          correlationId: 'wf:wf-1:a:r',
        }),
      ])
        .when(start())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already awaits/);
    });
    it('rejects a transaction id used before with ALREADY_EXISTS', () => {
      given([
        ...open(1),
        evt('crossDomainTransactionRolledBack', {
          stepId: 'a',
          transactionId: TX,
          reason: 'r',
        }),
      ])
        .when(start())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('RecordTransactionVote', () => {
    it('records a prepared vote', () => {
      given(open())
        .when(vote('graph', ParticipantVote.PREPARED))
        .then([prepared('graph')]);
    });
    it('records a prepared vote while the workflow is paused', () => {
      given([...open(), evt('paused')])
        .when(vote('graph', ParticipantVote.PREPARED))
        .then([prepared('graph')]);
    });
    it('rolls back on a refusal and fails the step when no retry is left', () => {
      given(open())
        .when(vote('graph', ParticipantVote.REFUSED, { reason: 'no room' }))
        .then([
          evt('crossDomainTransactionRolledBack', {
            stepId: 'a',
            transactionId: TX,
            reason: 'graph refused: no room',
            refusedBy: 'graph',
          }),
          evt('stepFailed', {
            stepId: 'a',
            error: 'graph refused: no room',
            details: { by: 'graph' },
            correlationId: CORRELATION,
          }),
        ]);
    });
    it('rolls back on a refusal and counts a retry while retries are left', () => {
      const events = given(open(2))
        .when(vote('document', ParticipantVote.REFUSED))
        .events();
      expect(events.map((e) => e.body.case)).toEqual([
        'crossDomainTransactionRolledBack',
        'stepExecutionFailed',
      ]);
      expect(events[1]?.body.value).toMatchObject({
        error: 'document refused: no reason given',
        retryCount: 1,
        maxRetries: 2,
      });
    });
    it('rejects an unset vote with VALIDATION_FAILED', () => {
      given(open())
        .when(vote('graph', ParticipantVote.PENDING))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /vote must be/);
    });
    it('rejects a participant that is no domain name with VALIDATION_FAILED', () => {
      given(open())
        .when(vote('Graph!', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /participant/);
    });
    it('rejects an unknown transaction with NOT_FOUND', () => {
      given(runningA())
        .when(vote('graph', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.NOT_FOUND, /transaction "tx-1" not found/);
    });
    it('rejects a domain that takes no part with NOT_FOUND', () => {
      given(open())
        .when(vote('location', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.NOT_FOUND, /takes no part/);
    });
    it('rejects a second vote of a participant with INVALID_TRANSITION', () => {
      given([...open(), prepared('graph')])
        .when(vote('graph', ParticipantVote.REFUSED))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already voted prepared/);
    });
    it('rejects a vote on a committed or rolled back transaction with INVALID_TRANSITION', () => {
      const committed = [
        ...allPrepared(),
        evt('crossDomainTransactionCommitted', {
          stepId: 'a',
          transactionId: TX,
        }),
      ];
      given(committed)
        .when(vote('graph', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already committed/);
      given([
        ...open(),
        evt('crossDomainTransactionRolledBack', {
          stepId: 'a',
          transactionId: TX,
          reason: 'r',
        }),
      ])
        .when(vote('graph', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already rolled back/);
    });
    it('rejects a cancelled workflow with INVALID_TRANSITION', () => {
      given([...open(), evt('cancelled')])
        .when(vote('graph', ParticipantVote.PREPARED))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
  });

  describe('CommitCrossDomainTransaction', () => {
    it('commits when every participant is prepared, completing the step with their reports', () => {
      given(allPrepared())
        .when(commit())
        .then([
          evt('crossDomainTransactionCommitted', {
            stepId: 'a',
            transactionId: TX,
          }),
          evt('stepExecutionCompleted', {
            stepId: 'a',
            correlationId: CORRELATION,
            output: {
              transactionId: TX,
              participants: {
                document: { by: 'document' },
                graph: { by: 'graph' },
              },
            },
          }),
        ]);
    });
    it('leaves the step completed and the transaction committed', () => {
      const events = given(allPrepared()).when(commit()).events();
      const state = stateOf([...allPrepared(), ...events]);
      if (state.status === 'absent') throw new Error('absent');
      expect(state.steps.get('a')).toMatchObject({
        status: 'completed',
        awaiting: undefined,
      });
      expect(state.transactions.get(TX)?.status).toBe('committed');
    });
    it('rejects a transaction with a participant not yet prepared with BUSINESS_RULE_VIOLATION', () => {
      given([...open(), prepared('graph')])
        .when(commit())
        .thenRejects(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          /"document" not prepared/,
        );
    });
    it('rejects a committed transaction with INVALID_TRANSITION', () => {
      given([
        ...allPrepared(),
        evt('crossDomainTransactionCommitted', {
          stepId: 'a',
          transactionId: TX,
        }),
      ])
        .when(commit())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects an unknown transaction with NOT_FOUND', () => {
      given(runningA()).when(commit()).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a malformed transaction id with VALIDATION_FAILED', () => {
      given(open())
        .when(cmd('commitCrossDomainTransaction', { transactionId: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /transaction_id/);
    });
  });

  describe('RollBackCrossDomainTransaction', () => {
    it('rolls back an open transaction and fails the step', () => {
      given([...open(), prepared('graph')])
        .when(rollBack('too slow'))
        .then([
          evt('crossDomainTransactionRolledBack', {
            stepId: 'a',
            transactionId: TX,
            reason: 'too slow',
          }),
          evt('stepFailed', {
            stepId: 'a',
            error: 'too slow',
            correlationId: CORRELATION,
          }),
        ]);
    });
    it('keeps a step with retries left running, free to start another transaction', () => {
      const events = given(open(1)).when(rollBack()).events();
      const after = [...open(1), ...events];
      const state = stateOf(after);
      if (state.status === 'absent') throw new Error('absent');
      expect(state.steps.get('a')).toMatchObject({
        status: 'running',
        retryCount: 1,
        awaiting: undefined,
      });
      expect(state.transactions.get(TX)).toMatchObject({
        status: 'rolled_back',
        reason: 'changed my mind',
      });
      expect(
        given(after)
          .when(start({ transactionId: 'tx-2' }))
          .events(),
      ).toHaveLength(1);
    });
    it('rejects a blank reason with VALIDATION_FAILED', () => {
      given(open())
        .when(rollBack(' '))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /reason/);
    });
    it('rejects a committed transaction with INVALID_TRANSITION', () => {
      given([
        ...allPrepared(),
        evt('crossDomainTransactionCommitted', {
          stepId: 'a',
          transactionId: TX,
        }),
      ])
        .when(rollBack())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already committed/);
    });
    it('rejects an unknown transaction with NOT_FOUND', () => {
      given(runningA()).when(rollBack()).thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('while a step awaits a transaction', () => {
    it('rejects CompleteStepExecution and FailStepExecution with BUSINESS_RULE_VIOLATION', () => {
      given(open())
        .when(cmd('completeStepExecution', { stepId: 'a' }))
        .thenRejects(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          /awaits transaction "tx-1"/,
        );
      given(open())
        .when(
          cmd('failStepExecution', {
            stepId: 'a',
            error: 'e',
            correlationId: CORRELATION,
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /commit or roll/);
    });
    it('rejects SkipStep with BUSINESS_RULE_VIOLATION', () => {
      given(open())
        .when(cmd('skipStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /awaits transaction/);
    });
    it('rolls open transactions back when the workflow is cancelled', () => {
      given(open())
        .when(cmd('cancel', { reason: 'stop' }))
        .then([
          evt('crossDomainTransactionRolledBack', {
            stepId: 'a',
            transactionId: TX,
            reason: 'the workflow was cancelled',
          }),
          evt('cancelled', { reason: 'stop' }),
        ]);
    });
    it('rolls open transactions back when the workflow fails, and leaves ended ones alone', () => {
      const ended = [
        ...open(1),
        evt('crossDomainTransactionRolledBack', {
          stepId: 'a',
          transactionId: TX,
          reason: 'r',
        }),
        evt('stepExecutionFailed', {
          stepId: 'a',
          error: 'r',
          retryCount: 1,
          maxRetries: 1,
        }),
        evt('crossDomainTransactionStarted', {
          stepId: 'a',
          transactionId: 'tx-2',
          correlationId: 'wftx:wf-1:tx-2',
          participants: PARTICIPANTS,
        }),
      ];
      given(ended)
        .when(cmd('fail', { error: 'boom' }))
        .then([
          evt('crossDomainTransactionRolledBack', {
            stepId: 'a',
            transactionId: 'tx-2',
            reason: 'the workflow failed',
          }),
          evt('failed', { error: 'boom' }),
        ]);
    });
  });
});

describe('evolve of transaction events that do not fit', () => {
  it('leaves the state unchanged for an unknown step or transaction', () => {
    const before = stateOf(open());
    for (const e of [
      evt('crossDomainTransactionStarted', {
        stepId: 'zz',
        transactionId: 'tx-9',
        correlationId: 'wftx:wf-1:tx-9',
      }),
      evt('crossDomainTransactionStarted', {
        stepId: 'a',
        transactionId: TX,
        correlationId: 'wftx:wf-1:other',
      }),
      evt('crossDomainTransactionPrepared', {
        transactionId: 'tx-9',
        participant: 'graph',
      }),
      evt('crossDomainTransactionCommitted', { transactionId: 'tx-9' }),
      evt('crossDomainTransactionRolledBack', { transactionId: 'tx-9' }),
    ]) {
      expect(workflowDecider.evolve(before, e)).toBe(before);
    }
  });
});
