import { beforeEach, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ErrorCode } from '@cim/kernel';
import {
  StepType,
  TimerKind,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { deciderSpec } from '@cim/testing';
import { workflowDecider } from '../src/domain/index.js';
import { prepare } from '../src/prepare.js';
import { project, type WorkflowRow } from '../src/projection.js';
import { TimerIndex } from '../src/timer-index.js';
import { timerSchedule } from '../src/timers.js';
import {
  T0,
  WF,
  cmd,
  commitMeta,
  evt,
  executing,
  rowsOf,
  running,
  stateOf,
  stepAdded,
} from './fixtures.js';

const given = deciderSpec(workflowDecider);

/** When the timer steps of these tests start, Unix ms. */
const START = T0 + 5_000;
const SECOND = 1000;

const timerStep = (stepId: string, kind: TimerKind, seconds = 30) =>
  stepAdded(stepId, {
    stepType: StepType.TIMER,
    timer: { kind, minutes: 1, seconds },
  });
/** Step `stepId` started as a timer step at START. */
const timing = (stepId: string, startedAtMs = START) =>
  evt('stepExecutionStarted', {
    stepId,
    startedAt: timestampFromMs(startedAtMs),
  });
/** A running workflow with a started timer step `t` of `kind`, due at START + 90 s. */
const armed = (kind: TimerKind, ...more: WorkflowEvent[]) => [
  ...running(timerStep('t', kind)),
  timing('t'),
  ...more,
];
const DUE = START + 90 * SECOND;
const fire = (dueAtMs = DUE, firedAtMs = DUE + 400, stepId = 't') =>
  cmd('fireStepTimer', {
    stepId,
    dueAt: timestampFromMs(dueAtMs),
    firedAt: timestampFromMs(firedAtMs),
  });
const elapsed = (kind: TimerKind, firedAtMs = DUE + 400) =>
  evt('stepTimerElapsed', {
    stepId: 't',
    kind,
    dueAt: timestampFromMs(DUE),
    firedAt: timestampFromMs(firedAtMs),
  });

describe('workflow timers', () => {
  describe('StartStepExecution of a timer step', () => {
    it('records the start time the command carries', () => {
      given(running(timerStep('t', TimerKind.DELAY)))
        .when(
          cmd('startStepExecution', {
            stepId: 't',
            startedAt: timestampFromMs(START),
          }),
        )
        .then([timing('t')]);
    });
    it('rejects StartStepExecution without started_at with VALIDATION_FAILED', () => {
      given(running(timerStep('t', TimerKind.DELAY)))
        .when(cmd('startStepExecution', { stepId: 't' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /started_at/);
    });
    it('keeps other steps’ start events free of a start time', () => {
      given(running(stepAdded('a')))
        .when(
          cmd('startStepExecution', {
            stepId: 'a',
            startedAt: timestampFromMs(START),
          }),
        )
        .then([executing('a')]);
    });
    it('is due its minutes and seconds after the start', () => {
      const state = stateOf(armed(TimerKind.SLA));
      expect(
        state.status === 'absent' ? undefined : state.steps.get('t')?.dueAtMs,
      ).toBe(DUE);
    });
  });

  describe('FireStepTimer', () => {
    it('completes a delay step, recording when it fired', () => {
      given(armed(TimerKind.DELAY))
        .when(fire())
        .then([
          elapsed(TimerKind.DELAY),
          evt('stepExecutionCompleted', {
            stepId: 't',
            output: {
              timer: 'delay',
              dueAt: '2023-11-14T22:14:55Z',
              firedAt: '2023-11-14T22:14:55.400Z',
            },
          }),
        ]);
    });
    it('fails a deadline step without retrying it', () => {
      const deadline = [
        ...running(
          stepAdded('t', {
            stepType: StepType.TIMER,
            timer: { kind: TimerKind.DEADLINE, minutes: 1, seconds: 30 },
            maxRetries: 3,
          }),
        ),
        timing('t'),
      ];
      given(deadline)
        .when(fire())
        .then([
          elapsed(TimerKind.DEADLINE),
          evt('stepFailed', {
            stepId: 't',
            error: 'deadline passed at 2023-11-14T22:14:55Z',
            retryCount: 0,
          }),
        ]);
    });
    it.each([
      ['an SLA', TimerKind.SLA],
      ['a reminder', TimerKind.REMINDER],
    ])('records %s as elapsed and leaves the step running', (_, kind) => {
      given(armed(kind))
        .when(fire())
        .then([elapsed(kind)]);
      const state = stateOf([...armed(kind), elapsed(kind)]);
      expect(
        state.status === 'absent' ? undefined : state.steps.get('t'),
      ).toMatchObject({ status: 'running', timerFiredAtMs: DUE + 400 });
    });
    it('fires a timer late (the workflow was paused past its due time)', () => {
      given(armed(TimerKind.REMINDER, evt('paused'), evt('resumed')))
        .when(fire(DUE, DUE + 3_600_000))
        .then([elapsed(TimerKind.REMINDER, DUE + 3_600_000)]);
    });

    it.each([
      [
        'without due_at',
        cmd('fireStepTimer', { stepId: 't', firedAt: timestampFromMs(DUE) }),
      ],
      [
        'without fired_at',
        cmd('fireStepTimer', { stepId: 't', dueAt: timestampFromMs(DUE) }),
      ],
      ['with a malformed step id', fire(DUE, DUE, 'a.b')],
    ])('rejects FireStepTimer %s with VALIDATION_FAILED', (_, command) => {
      given(armed(TimerKind.DELAY))
        .when(command)
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects FireStepTimer for a missing workflow with NOT_FOUND', () => {
      given([]).when(fire()).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects FireStepTimer while the workflow is paused with INVALID_TRANSITION', () => {
      given(armed(TimerKind.DELAY, evt('paused')))
        .when(fire())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /paused/);
    });
    it('rejects FireStepTimer for a missing step with NOT_FOUND', () => {
      given(armed(TimerKind.DELAY))
        .when(fire(DUE, DUE, 'x'))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects FireStepTimer for a step that is not a timer with BUSINESS_RULE_VIOLATION', () => {
      given([...running(stepAdded('a')), executing('a')])
        .when(fire(DUE, DUE, 'a'))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /only timer steps/);
    });
    it('rejects FireStepTimer for a pending timer step with INVALID_TRANSITION', () => {
      given(running(timerStep('t', TimerKind.DELAY)))
        .when(fire())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /pending/);
    });
    it('rejects FireStepTimer for a timer step completed in time with INVALID_TRANSITION', () => {
      given(
        armed(
          TimerKind.DEADLINE,
          evt('stepExecutionCompleted', { stepId: 't' }),
        ),
      )
        .when(fire())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /completed/);
    });
    it('rejects FireStepTimer for a delay that already fired with INVALID_TRANSITION', () => {
      const fired = given(armed(TimerKind.DELAY)).when(fire()).events();
      given([...armed(TimerKind.DELAY), ...fired])
        .when(fire())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /completed/);
    });
    it('rejects FireStepTimer for an SLA that already fired with INVALID_TRANSITION', () => {
      given(armed(TimerKind.SLA, elapsed(TimerKind.SLA)))
        .when(fire(DUE, DUE + 5_000))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already fired/);
    });
    it('rejects FireStepTimer for a step started without a recorded start with BUSINESS_RULE_VIOLATION', () => {
      given([...running(timerStep('t', TimerKind.DELAY)), executing('t')])
        .when(fire())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /start time/);
    });
    it.each([
      ['earlier', DUE - SECOND],
      ['later', DUE + SECOND],
    ])(
      'rejects FireStepTimer whose due_at is %s than the recorded one with BUSINESS_RULE_VIOLATION',
      (_, dueAtMs) => {
        given(armed(TimerKind.DELAY))
          .when(fire(dueAtMs, DUE + 5_000))
          .thenRejects(
            ErrorCode.BUSINESS_RULE_VIOLATION,
            /is due at 2023-11-14T22:14:55Z, not/,
          );
      },
    );
    it('rejects FireStepTimer fired before it is due with BUSINESS_RULE_VIOLATION', () => {
      given(armed(TimerKind.DELAY))
        .when(fire(DUE, DUE - 1))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /not due until/);
    });
  });

  /**
   * The schedule two ways: through an index that followed every fold, and
   * through one that reads rows it never saw fold (as after a snapshot) on
   * its first look.
   */
  describe.each([
    ['through the index the projection keeps', 'folds'],
    ['through an index seeded from the rows', 'seed'],
  ] as const)('the timer schedule, %s', (_, how) => {
    let index = new TimerIndex();
    beforeEach(() => {
      index = new TimerIndex();
      // Its first look reads no rows, so every timer it knows came through the folds.
      if (how === 'folds') index.due(rowsOf(), 0).next();
    });
    /** The workflow's row after `events`, folded one at a time; the index follows when `how` is folds. */
    const rowOf = (events: WorkflowEvent[], workflowId = WF) => {
      let row: WorkflowRow | undefined;
      events.forEach((e, i) => {
        if (e.body.case !== undefined) e.body.value.workflowId = workflowId;
        const next = project(row, e, commitMeta(i + 1, undefined, workflowId));
        if (how === 'folds')
          index.update(workflowId, row?.timers, next?.timers);
        row = next;
      });
      if (row === undefined) throw new Error('no row');
      return row;
    };
    const due = (nowMs: number, ...rows: ReturnType<typeof rowOf>[]) => {
      const found = timerSchedule(index).due(rowsOf(...rows), nowMs);
      return [...found].map(({ key, body }) => ({ key, body }));
    };

    it('answers FireStepTimer for a running timer once it is due, keyed by workflow, step and due time', () => {
      const row = rowOf(armed(TimerKind.DELAY));
      expect(due(DUE - 1, row)).toEqual([]);
      const [fired, ...rest] = due(DUE + 250, row);
      expect(rest).toEqual([]);
      expect(fired?.key).toBe(`${WF}/t/${DUE}`);
      expect(fired?.body).toMatchObject({
        case: 'fireStepTimer',
        value: {
          workflowId: WF,
          stepId: 't',
          dueAt: timestampFromMs(DUE),
          firedAt: timestampFromMs(DUE + 250),
        },
      });
    });
    it('answers every due timer of every running workflow', () => {
      const two = [
        ...running(
          timerStep('t', TimerKind.SLA),
          timerStep('u', TimerKind.REMINDER, 0),
        ),
        timing('t'),
        timing('u'),
      ];
      const keys = due(DUE, rowOf(two, 'wf-a'), rowOf(two, 'wf-b')).map(
        (d) => d.key,
      );
      expect(keys.sort()).toEqual([
        `wf-a/t/${DUE}`,
        `wf-a/u/${START + 60 * SECOND}`,
        `wf-b/t/${DUE}`,
        `wf-b/u/${START + 60 * SECOND}`,
      ]);
    });
    it.each([
      ['it fired', armed(TimerKind.SLA, elapsed(TimerKind.SLA))],
      [
        'the step finished',
        armed(TimerKind.DEADLINE, evt('stepSkipped', { stepId: 't' })),
      ],
      ['the workflow is paused', armed(TimerKind.DELAY, evt('paused'))],
      ['the workflow was cancelled', armed(TimerKind.DELAY, evt('cancelled'))],
      ['the step is pending', running(timerStep('t', TimerKind.DELAY))],
      [
        'its start was not recorded',
        [...running(timerStep('t', TimerKind.DELAY)), executing('t')],
      ],
    ])('answers nothing for a timer once %s', (_, events) => {
      expect(due(DUE + 3_600_000, rowOf(events))).toEqual([]);
    });
    it('answers a paused workflow’s due timer again once it resumes', () => {
      const row = rowOf(armed(TimerKind.DELAY, evt('paused'), evt('resumed')));
      expect(due(DUE, row).map((d) => d.key)).toEqual([`${WF}/t/${DUE}`]);
    });
  });

  describe('prepare', () => {
    it('stamps StartStepExecution with the service clock, replacing a sent time', () => {
      const before = Date.now();
      const command = prepare(
        cmd('startStepExecution', {
          stepId: 't',
          startedAt: timestampFromMs(0),
        }),
      );
      const startedAt =
        command.body.case === 'startStepExecution'
          ? command.body.value.startedAt
          : undefined;
      expect(Number(startedAt?.seconds) * 1000).toBeGreaterThanOrEqual(
        Math.floor(before / 1000) * 1000,
      );
    });
    it('leaves other commands as they are', () => {
      const command = cmd('completeStepExecution', { stepId: 't' });
      expect(prepare(command)).toBe(command);
    });
  });
});
