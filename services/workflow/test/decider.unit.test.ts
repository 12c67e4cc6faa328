import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cim/kernel';
import {
  StepType,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { deciderSpec } from '@cim/testing';
import { workflowDecider } from '../src/domain/index.js';
import {
  ACTOR,
  COMMAND_ID,
  addStep,
  cmd,
  draft,
  emptyCommand,
  evt,
  executing,
  running,
  started,
  stepAdded,
  value,
} from './fixtures.js';

const given = deciderSpec(workflowDecider);

const manual = (stepId: string, assignedTo?: string) =>
  stepAdded(stepId, {
    stepType: StepType.MANUAL,
    ...(assignedTo !== undefined && { assignedTo }),
  });
const approval = (stepId: string) =>
  stepAdded(stepId, { stepType: StepType.APPROVAL });
const paused = (...steps: WorkflowEvent[]) => [
  ...running(...steps),
  evt('paused'),
];
const CORRELATION = `wf:wf-1:a:${COMMAND_ID}`;
const awaitingA = [
  ...running(stepAdded('a')),
  executing('a'),
  evt('crossDomainOperationRequested', {
    stepId: 'a',
    targetDomain: 'graph',
    operation: 'graph.CreateGraph',
    correlationId: CORRELATION,
  }),
];

describe('workflow decider', () => {
  it('rejects a command without a body with VALIDATION_FAILED', () => {
    given([])
      .when(emptyCommand())
      .thenRejects(ErrorCode.VALIDATION_FAILED, /no body/);
  });

  describe('CreateWorkflow', () => {
    it('creates a workflow, recording the actor as its creator', () => {
      given([])
        .when(
          cmd('create', {
            name: 'Onboarding',
            description: 'new hires',
            metadata: { team: 'hr' },
          }),
        )
        .then([
          evt('created', {
            name: 'Onboarding',
            description: 'new hires',
            metadata: { team: 'hr' },
            createdBy: ACTOR,
          }),
        ]);
    });
    it('rejects a blank name with VALIDATION_FAILED', () => {
      given([])
        .when(cmd('create', { name: ' ' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /name must not be blank/);
    });
    it('rejects a name over 200 characters with VALIDATION_FAILED', () => {
      given([])
        .when(cmd('create', { name: 'x'.repeat(201) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at most 200/);
    });
    it.each(['w.1', 'w*', 'w 1', 'x'.repeat(129), ''])(
      'rejects the workflow id %j with VALIDATION_FAILED',
      (workflowId) => {
        given([])
          .when(cmd('create', { workflowId, name: 'n' }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /workflow_id/);
      },
    );
    it('rejects metadata with a blank key with VALIDATION_FAILED', () => {
      given([])
        .when(cmd('create', { name: 'n', metadata: { ' ': 1 } }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /metadata key/);
    });
    it('rejects metadata holding NaN with VALIDATION_FAILED', () => {
      given([])
        .when(cmd('create', { name: 'n', metadata: { x: Number.NaN } }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /finite/);
    });
    it('rejects an existing workflow with ALREADY_EXISTS', () => {
      given(draft())
        .when(cmd('create', { name: 'again' }))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('AddStep', () => {
    it('adds a step with its fields, dependencies sorted', () => {
      given(draft(stepAdded('b'), stepAdded('c')))
        .when(
          addStep('a', {
            description: 'd',
            config: { url: 'x' },
            dependencies: ['c', 'b'],
            estimatedDurationMinutes: 30,
            maxRetries: 2,
          }),
        )
        .then([
          stepAdded('a', {
            description: 'd',
            config: { url: 'x' },
            dependencies: ['b', 'c'],
            estimatedDurationMinutes: 30,
            maxRetries: 2,
          }),
        ]);
    });
    it('derives the step id from the command id when none is given', () => {
      given(draft())
        .when(addStep(''))
        .then([
          evt('stepAdded', {
            stepId: COMMAND_ID,
            name: 'Step ',
            stepType: StepType.AUTOMATED,
          }),
        ]);
    });
    it('adds an assigned manual step and a custom step', () => {
      given(draft())
        .when(addStep('m', { stepType: StepType.MANUAL, assignedTo: 'ann' }))
        .then([manual('m', 'ann')]);
      given(draft())
        .when(addStep('c', { stepType: StepType.CUSTOM, customType: 'ml' }))
        .then([
          stepAdded('c', { stepType: StepType.CUSTOM, customType: 'ml' }),
        ]);
    });
    it('adds a step to a paused workflow', () => {
      given(paused(stepAdded('a')))
        .when(addStep('b', { dependencies: ['a'] }))
        .then([stepAdded('b', { dependencies: ['a'] })]);
    });
    it.each<[string, Parameters<typeof addStep>[1], RegExp]>([
      [
        'an unspecified type',
        { stepType: StepType.UNSPECIFIED },
        /step_type is required/,
      ],
      [
        'an unknown type',
        { stepType: 99 as StepType },
        /not a known step type/,
      ],
      [
        'a custom type without a name',
        { stepType: StepType.CUSTOM },
        /custom_type must not be blank/,
      ],
      [
        'a custom name on another type',
        { customType: 'x' },
        /only for STEP_TYPE_CUSTOM/,
      ],
      ['a repeated dependency', { dependencies: ['b', 'b'] }, /repeats/],
      [
        'a malformed dependency id',
        { dependencies: ['b.c'] },
        /dependencies\[0\]/,
      ],
      ['more than 100 retries', { maxRetries: 101 }, /max_retries/],
      ['a blank name', { name: '' }, /name must not be blank/],
      [
        'a blank assignee',
        { stepType: StepType.MANUAL, assignedTo: ' ' },
        /assigned_to/,
      ],
      ['a config key that is blank', { config: { '': 1 } }, /config key/],
    ])('rejects %s with VALIDATION_FAILED', (_what, fields, message) => {
      given(draft(stepAdded('b')))
        .when(addStep('a', fields))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it('rejects an unknown workflow with NOT_FOUND', () => {
      given([]).when(addStep('a')).thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a running workflow with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(addStep('b'))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /draft or paused/);
    });
    it('rejects a cancelled workflow with INVALID_TRANSITION', () => {
      given([...draft(), evt('cancelled')])
        .when(addStep('b'))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects an existing step id with ALREADY_EXISTS', () => {
      given(draft(stepAdded('a')))
        .when(addStep('a'))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects a dependency on itself with BUSINESS_RULE_VIOLATION', () => {
      given(draft())
        .when(addStep('a', { dependencies: ['a'] }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /cycle/);
    });
    it('rejects an unknown dependency with NOT_FOUND', () => {
      given(draft(stepAdded('b')))
        .when(addStep('a', { dependencies: ['b', 'zz'] }))
        .thenRejects(ErrorCode.NOT_FOUND, /dependency "zz"/);
    });
    it('rejects an assignee on an automated step with BUSINESS_RULE_VIOLATION', () => {
      given(draft())
        .when(addStep('a', { assignedTo: 'ann' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /manual and approval/);
    });
    it('rejects step 1001 with BUSINESS_RULE_VIOLATION', () => {
      const many = Array.from({ length: 1000 }, (_, i) => stepAdded(`s${i}`));
      given(draft(...many))
        .when(addStep('one-more'))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /1000/);
    });
  });

  describe('RemoveStep', () => {
    it('removes a pending step nothing depends on', () => {
      given(draft(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })))
        .when(cmd('removeStep', { stepId: 'b', reason: 'dup' }))
        .then([evt('stepRemoved', { stepId: 'b', reason: 'dup' })]);
    });
    it('rejects a step others depend on with BUSINESS_RULE_VIOLATION', () => {
      given(draft(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })))
        .when(cmd('removeStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /"b"/);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(draft())
        .when(cmd('removeStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a running workflow with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(cmd('removeStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a started step with INVALID_TRANSITION', () => {
      given([...running(stepAdded('a')), executing('a'), evt('paused')])
        .when(cmd('removeStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /only a pending step/);
    });
  });

  describe('AddStepDependency', () => {
    const abc = draft(stepAdded('a'), stepAdded('b'), stepAdded('c'));
    it('makes a step wait for another', () => {
      given(abc)
        .when(cmd('addStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .then([evt('stepDependencyAdded', { stepId: 'b', dependsOn: 'a' })]);
    });
    it('rejects a direct cycle with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...abc,
        evt('stepDependencyAdded', { stepId: 'b', dependsOn: 'a' }),
      ])
        .when(cmd('addStepDependency', { stepId: 'a', dependsOn: 'b' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /cycle/);
    });
    it('rejects a cycle through other steps with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...abc,
        evt('stepDependencyAdded', { stepId: 'b', dependsOn: 'a' }),
        evt('stepDependencyAdded', { stepId: 'c', dependsOn: 'b' }),
      ])
        .when(cmd('addStepDependency', { stepId: 'a', dependsOn: 'c' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /cycle/);
    });
    it('rejects a dependency on itself with BUSINESS_RULE_VIOLATION', () => {
      given(abc)
        .when(cmd('addStepDependency', { stepId: 'a', dependsOn: 'a' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /cycle/);
    });
    it('rejects a repeated dependency with ALREADY_EXISTS', () => {
      given([
        ...abc,
        evt('stepDependencyAdded', { stepId: 'b', dependsOn: 'a' }),
      ])
        .when(cmd('addStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects an unknown step or dependency with NOT_FOUND', () => {
      given(abc)
        .when(cmd('addStepDependency', { stepId: 'x', dependsOn: 'a' }))
        .thenRejects(ErrorCode.NOT_FOUND, /step "x"/);
      given(abc)
        .when(cmd('addStepDependency', { stepId: 'a', dependsOn: 'x' }))
        .thenRejects(ErrorCode.NOT_FOUND, /dependency "x"/);
    });
    it('rejects a malformed depends_on with VALIDATION_FAILED', () => {
      given(abc)
        .when(cmd('addStepDependency', { stepId: 'a', dependsOn: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /depends_on/);
    });
    it('rejects a running workflow with INVALID_TRANSITION', () => {
      given(running(stepAdded('a'), stepAdded('b')))
        .when(cmd('addStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a started step with INVALID_TRANSITION', () => {
      given([
        ...running(stepAdded('a'), stepAdded('b')),
        executing('b'),
        evt('paused'),
      ])
        .when(cmd('addStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /pending/);
    });
  });

  describe('RemoveStepDependency', () => {
    const ab = draft(stepAdded('a'), stepAdded('b', { dependencies: ['a'] }));
    it('removes a dependency', () => {
      given(ab)
        .when(cmd('removeStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .then([evt('stepDependencyRemoved', { stepId: 'b', dependsOn: 'a' })]);
    });
    it('rejects a dependency that does not exist with NOT_FOUND', () => {
      given(ab)
        .when(cmd('removeStepDependency', { stepId: 'a', dependsOn: 'b' }))
        .thenRejects(ErrorCode.NOT_FOUND, /does not depend/);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(ab)
        .when(cmd('removeStepDependency', { stepId: 'x', dependsOn: 'a' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a completed workflow with INVALID_TRANSITION', () => {
      given([...ab, started(), evt('cancelled')])
        .when(cmd('removeStepDependency', { stepId: 'b', dependsOn: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
  });

  describe('AddStepConfiguration and RemoveStepConfiguration', () => {
    it('sets a configuration key, in a running workflow too', () => {
      given(running(stepAdded('a')))
        .when(
          cmd('addStepConfiguration', {
            stepId: 'a',
            key: 'url',
            value: value('https://x'),
          }),
        )
        .then([
          evt('stepConfigurationAdded', {
            stepId: 'a',
            key: 'url',
            value: value('https://x'),
          }),
        ]);
    });
    it('removes a configuration key', () => {
      given(draft(stepAdded('a', { config: { url: 'x' } })))
        .when(cmd('removeStepConfiguration', { stepId: 'a', key: 'url' }))
        .then([evt('stepConfigurationRemoved', { stepId: 'a', key: 'url' })]);
    });
    it('rejects a missing value with VALIDATION_FAILED', () => {
      given(draft(stepAdded('a')))
        .when(cmd('addStepConfiguration', { stepId: 'a', key: 'k' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /value is required/);
    });
    it('rejects a value holding Infinity with VALIDATION_FAILED', () => {
      given(draft(stepAdded('a')))
        .when(
          cmd('addStepConfiguration', {
            stepId: 'a',
            key: 'k',
            value: { kind: { case: 'numberValue', value: Infinity } },
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /finite/);
    });
    it('rejects a blank key with VALIDATION_FAILED', () => {
      given(draft(stepAdded('a')))
        .when(
          cmd('addStepConfiguration', {
            stepId: 'a',
            key: '',
            value: value(1),
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /key/);
    });
    it('rejects a finished step with INVALID_TRANSITION', () => {
      given([...running(stepAdded('a')), evt('stepSkipped', { stepId: 'a' })])
        .when(
          cmd('addStepConfiguration', {
            stepId: 'a',
            key: 'k',
            value: value(1),
          }),
        )
        .thenRejects(ErrorCode.INVALID_TRANSITION, /skipped/);
    });
    it('rejects a missing key with NOT_FOUND', () => {
      given(draft(stepAdded('a')))
        .when(cmd('removeStepConfiguration', { stepId: 'a', key: 'k' }))
        .thenRejects(ErrorCode.NOT_FOUND, /configuration key/);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(draft())
        .when(
          cmd('addStepConfiguration', {
            stepId: 'a',
            key: 'k',
            value: value(1),
          }),
        )
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('StartWorkflow', () => {
    it('starts a draft with steps, carrying its context', () => {
      given(draft(stepAdded('a')))
        .when(cmd('start', { context: { customer: 'acme' } }))
        .then([evt('started', { context: { customer: 'acme' } })]);
    });
    it('rejects a workflow without steps with BUSINESS_RULE_VIOLATION', () => {
      given(draft())
        .when(cmd('start'))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /no steps/);
    });
    it('rejects a running workflow with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(cmd('start'))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects an unknown workflow with NOT_FOUND', () => {
      given([]).when(cmd('start')).thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('StartStepExecution', () => {
    it('starts an automated step', () => {
      given(running(stepAdded('a')))
        .when(cmd('startStepExecution', { stepId: 'a' }))
        .then([executing('a')]);
    });
    it('starts a manual step as a task of its assignee', () => {
      given(running(manual('m', 'ann')))
        .when(cmd('startStepExecution', { stepId: 'm' }))
        .then([evt('taskStarted', { stepId: 'm', assignee: 'ann' })]);
    });
    it('starts an unassigned approval step as a task', () => {
      given(running(approval('p')))
        .when(cmd('startStepExecution', { stepId: 'p' }))
        .then([evt('taskStarted', { stepId: 'p' })]);
    });
    it('starts a step whose dependencies completed or were skipped', () => {
      given([
        ...running(
          stepAdded('a'),
          stepAdded('b'),
          stepAdded('c', { dependencies: ['a', 'b'] }),
        ),
        executing('a'),
        evt('stepExecutionCompleted', { stepId: 'a' }),
        evt('stepSkipped', { stepId: 'b' }),
      ])
        .when(cmd('startStepExecution', { stepId: 'c' }))
        .then([executing('c')]);
    });
    it('rejects a step with an unfinished dependency with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })),
        executing('a'),
      ])
        .when(cmd('startStepExecution', { stepId: 'b' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /waits for "a"/);
    });
    it('rejects a step whose dependency failed with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })),
        executing('a'),
        evt('stepFailed', { stepId: 'a', error: 'x' }),
      ])
        .when(cmd('startStepExecution', { stepId: 'b' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
    it.each([
      ['draft', draft(stepAdded('a'))],
      ['paused', paused(stepAdded('a'))],
    ])('rejects a %s workflow with INVALID_TRANSITION', (_status, history) => {
      given(history)
        .when(cmd('startStepExecution', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /running/);
    });
    it('rejects a started step with INVALID_TRANSITION', () => {
      given([...running(stepAdded('a')), executing('a')])
        .when(cmd('startStepExecution', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /only a pending step/);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(running(stepAdded('a')))
        .when(cmd('startStepExecution', { stepId: 'x' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('CompleteStepExecution', () => {
    const executingA = [...running(stepAdded('a')), executing('a')];
    it('completes a running step with its output', () => {
      given(executingA)
        .when(cmd('completeStepExecution', { stepId: 'a', output: { n: 1 } }))
        .then([
          evt('stepExecutionCompleted', { stepId: 'a', output: { n: 1 } }),
        ]);
    });
    it('completes a running step while the workflow is paused', () => {
      given([...executingA, evt('paused')])
        .when(cmd('completeStepExecution', { stepId: 'a' }))
        .then([evt('stepExecutionCompleted', { stepId: 'a' })]);
    });
    it('completes the operation a step awaits under its correlation id', () => {
      given(awaitingA)
        .when(
          cmd('completeStepExecution', {
            stepId: 'a',
            correlationId: CORRELATION,
          }),
        )
        .then([
          evt('stepExecutionCompleted', {
            stepId: 'a',
            correlationId: CORRELATION,
          }),
        ]);
    });
    it('rejects a stale correlation id with BUSINESS_RULE_VIOLATION', () => {
      given(awaitingA)
        .when(
          cmd('completeStepExecution', {
            stepId: 'a',
            correlationId: 'wf:wf-1:a:old',
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /awaits operation/);
    });
    it('rejects a correlation id for a step that awaits nothing with BUSINESS_RULE_VIOLATION', () => {
      given(executingA)
        .when(
          cmd('completeStepExecution', {
            stepId: 'a',
            correlationId: CORRELATION,
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /awaits no operation/);
    });
    it('rejects a repeated completion with INVALID_TRANSITION', () => {
      given([
        ...awaitingA,
        evt('stepExecutionCompleted', {
          stepId: 'a',
          correlationId: CORRELATION,
        }),
      ])
        .when(
          cmd('completeStepExecution', {
            stepId: 'a',
            correlationId: CORRELATION,
          }),
        )
        .thenRejects(ErrorCode.INVALID_TRANSITION, /completed/);
    });
    it('rejects a pending step with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(cmd('completeStepExecution', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /pending/);
    });
    it('rejects a human task with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(manual('m', 'ann')),
        evt('taskStarted', { stepId: 'm', assignee: 'ann' }),
      ])
        .when(cmd('completeStepExecution', { stepId: 'm' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /CompleteTask/);
    });
    it('rejects a cancelled workflow with INVALID_TRANSITION', () => {
      given([...executingA, evt('cancelled')])
        .when(cmd('completeStepExecution', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects output holding NaN with VALIDATION_FAILED', () => {
      given(executingA)
        .when(
          cmd('completeStepExecution', {
            stepId: 'a',
            output: { x: Number.NaN },
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('FailStepExecution', () => {
    const retrying = [
      ...running(stepAdded('a', { maxRetries: 2 })),
      executing('a'),
    ];
    it('counts a retry and keeps the step running while retries are left', () => {
      given(retrying)
        .when(
          cmd('failStepExecution', {
            stepId: 'a',
            error: 'timeout',
            details: { code: 504 },
          }),
        )
        .then([
          evt('stepExecutionFailed', {
            stepId: 'a',
            error: 'timeout',
            details: { code: 504 },
            retryCount: 1,
            maxRetries: 2,
          }),
        ]);
    });
    it('fails the step after its last retry', () => {
      const first = evt('stepExecutionFailed', {
        stepId: 'a',
        error: 'e',
        retryCount: 1,
        maxRetries: 2,
      });
      const second = evt('stepExecutionFailed', {
        stepId: 'a',
        error: 'e',
        retryCount: 2,
        maxRetries: 2,
      });
      given([...retrying, first])
        .when(cmd('failStepExecution', { stepId: 'a', error: 'e' }))
        .then([second]);
      given([...retrying, first, second])
        .when(cmd('failStepExecution', { stepId: 'a', error: 'e' }))
        .then([evt('stepFailed', { stepId: 'a', error: 'e', retryCount: 2 })]);
    });
    it('fails a step without retries at once', () => {
      given([...running(stepAdded('a')), executing('a')])
        .when(cmd('failStepExecution', { stepId: 'a', error: 'e' }))
        .then([evt('stepFailed', { stepId: 'a', error: 'e' })]);
    });
    it('fails an awaited operation under its correlation id and stops awaiting it', () => {
      given(awaitingA)
        .when(
          cmd('failStepExecution', {
            stepId: 'a',
            error: 'e',
            correlationId: CORRELATION,
          }),
        )
        .then([
          evt('stepFailed', {
            stepId: 'a',
            error: 'e',
            correlationId: CORRELATION,
          }),
        ]);
    });
    it('rejects a blank error with VALIDATION_FAILED', () => {
      given(retrying)
        .when(cmd('failStepExecution', { stepId: 'a' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /error/);
    });
    it('rejects a step that is not active with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(cmd('failStepExecution', { stepId: 'a', error: 'e' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /only an active step/);
    });
    it('rejects a stale correlation id with BUSINESS_RULE_VIOLATION', () => {
      given(awaitingA)
        .when(
          cmd('failStepExecution', {
            stepId: 'a',
            error: 'e',
            correlationId: 'other',
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });

  describe('SkipStep', () => {
    it('skips a pending step and a running one', () => {
      given(running(stepAdded('a')))
        .when(cmd('skipStep', { stepId: 'a', reason: 'n/a' }))
        .then([evt('stepSkipped', { stepId: 'a', reason: 'n/a' })]);
      given([...running(stepAdded('a')), executing('a')])
        .when(cmd('skipStep', { stepId: 'a' }))
        .then([evt('stepSkipped', { stepId: 'a' })]);
    });
    it('rejects a finished step with INVALID_TRANSITION', () => {
      given([
        ...running(stepAdded('a')),
        executing('a'),
        evt('stepExecutionCompleted', { stepId: 'a' }),
      ])
        .when(cmd('skipStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already completed/);
    });
    it('rejects a terminal workflow with INVALID_TRANSITION', () => {
      given([...running(stepAdded('a')), evt('failed', { error: 'x' })])
        .when(cmd('skipStep', { stepId: 'a' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /failed/);
    });
    it('rejects an unknown step with NOT_FOUND', () => {
      given(running(stepAdded('a')))
        .when(cmd('skipStep', { stepId: 'b' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('AssignTask and ReassignTask', () => {
    it('assigns an unassigned manual step', () => {
      given(draft(manual('m')))
        .when(cmd('assignTask', { stepId: 'm', assignee: 'ann' }))
        .then([evt('taskAssigned', { stepId: 'm', assignee: 'ann' })]);
    });
    it('reassigns a task from its assignee', () => {
      given(running(manual('m', 'ann')))
        .when(cmd('reassignTask', { stepId: 'm', from: 'ann', to: 'bob' }))
        .then([evt('taskReassigned', { stepId: 'm', from: 'ann', to: 'bob' })]);
    });
    it('rejects assigning an automated step with BUSINESS_RULE_VIOLATION', () => {
      given(draft(stepAdded('a')))
        .when(cmd('assignTask', { stepId: 'a', assignee: 'ann' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /manual and approval/);
    });
    it('rejects assigning an assigned task with INVALID_TRANSITION', () => {
      given(draft(manual('m', 'ann')))
        .when(cmd('assignTask', { stepId: 'm', assignee: 'bob' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /reassign/);
    });
    it('rejects a blank assignee with VALIDATION_FAILED', () => {
      given(draft(manual('m')))
        .when(cmd('assignTask', { stepId: 'm', assignee: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects assigning a finished task with INVALID_TRANSITION', () => {
      given([...running(manual('m')), evt('stepSkipped', { stepId: 'm' })])
        .when(cmd('assignTask', { stepId: 'm', assignee: 'ann' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a from that is not the assignee with BUSINESS_RULE_VIOLATION', () => {
      given(draft(manual('m', 'ann')))
        .when(cmd('reassignTask', { stepId: 'm', from: 'bob', to: 'cat' }))
        .thenRejects(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          /assigned to "ann", not "bob"/,
        );
      given(draft(manual('m')))
        .when(cmd('reassignTask', { stepId: 'm', from: 'bob', to: 'cat' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /not assigned/);
    });
    it('rejects reassigning to the same assignee with VALIDATION_FAILED', () => {
      given(draft(manual('m', 'ann')))
        .when(cmd('reassignTask', { stepId: 'm', from: 'ann', to: 'ann' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /differ/);
    });
    it('rejects reassigning an automated step with BUSINESS_RULE_VIOLATION', () => {
      given(draft(stepAdded('a')))
        .when(cmd('reassignTask', { stepId: 'a', from: 'ann', to: 'bob' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });

  describe('CompleteTask', () => {
    const startedTask = [
      ...running(manual('m', 'ann')),
      evt('taskStarted', { stepId: 'm', assignee: 'ann' }),
    ];
    it('completes a started task of its assignee', () => {
      given(startedTask)
        .when(
          cmd('completeTask', {
            stepId: 'm',
            completedBy: 'ann',
            formData: { ok: true },
          }),
        )
        .then([
          evt('taskCompleted', {
            stepId: 'm',
            completedBy: 'ann',
            formData: { ok: true },
          }),
        ]);
    });
    it('rejects anyone but the assignee with UNAUTHORIZED', () => {
      given(startedTask)
        .when(cmd('completeTask', { stepId: 'm', completedBy: 'bob' }))
        .thenRejects(ErrorCode.UNAUTHORIZED, /assigned to "ann"/);
    });
    it('rejects an unassigned task with BUSINESS_RULE_VIOLATION', () => {
      given([...running(manual('m')), evt('taskStarted', { stepId: 'm' })])
        .when(cmd('completeTask', { stepId: 'm', completedBy: 'ann' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /not assigned/);
    });
    it('rejects a task that has not started with INVALID_TRANSITION', () => {
      given(running(manual('m', 'ann')))
        .when(cmd('completeTask', { stepId: 'm', completedBy: 'ann' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /started task/);
    });
    it('rejects an approval step with BUSINESS_RULE_VIOLATION', () => {
      given([...running(approval('p')), evt('taskStarted', { stepId: 'p' })])
        .when(cmd('completeTask', { stepId: 'p', completedBy: 'ann' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /manual/);
    });
    it('rejects a blank completed_by with VALIDATION_FAILED', () => {
      given(startedTask)
        .when(cmd('completeTask', { stepId: 'm' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /completed_by/);
    });
  });

  describe('approvals', () => {
    const startedApproval = [
      ...running(approval('p')),
      evt('taskStarted', { stepId: 'p' }),
    ];
    const waiting = [
      ...startedApproval,
      evt('stepApprovalRequested', {
        stepId: 'p',
        approver: 'boss',
        message: 'pls',
      }),
    ];
    it('requests, grants and rejects approvals', () => {
      given(startedApproval)
        .when(
          cmd('requestStepApproval', {
            stepId: 'p',
            approver: 'boss',
            message: 'pls',
          }),
        )
        .then([
          evt('stepApprovalRequested', {
            stepId: 'p',
            approver: 'boss',
            message: 'pls',
          }),
        ]);
      given(waiting)
        .when(
          cmd('grantStepApproval', {
            stepId: 'p',
            approver: 'boss',
            message: 'ok',
          }),
        )
        .then([
          evt('stepApprovalGranted', {
            stepId: 'p',
            approver: 'boss',
            message: 'ok',
          }),
        ]);
      given(waiting)
        .when(
          cmd('rejectStepApproval', {
            stepId: 'p',
            approver: 'boss',
            reason: 'no',
          }),
        )
        .then([
          evt('stepApprovalRejected', {
            stepId: 'p',
            approver: 'boss',
            reason: 'no',
          }),
        ]);
    });
    it('rejects a request for a step that is not an approval with BUSINESS_RULE_VIOLATION', () => {
      given([...running(stepAdded('a')), executing('a')])
        .when(cmd('requestStepApproval', { stepId: 'a', approver: 'boss' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /approval/);
    });
    it('rejects a request for an approval step not started with INVALID_TRANSITION', () => {
      given(running(approval('p')))
        .when(cmd('requestStepApproval', { stepId: 'p', approver: 'boss' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a request without an approver with VALIDATION_FAILED', () => {
      given(startedApproval)
        .when(cmd('requestStepApproval', { stepId: 'p' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /approver/);
    });
    it('rejects a request while paused with INVALID_TRANSITION', () => {
      given([...startedApproval, evt('paused')])
        .when(cmd('requestStepApproval', { stepId: 'p', approver: 'boss' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a grant or rejection by another approver with UNAUTHORIZED', () => {
      given(waiting)
        .when(cmd('grantStepApproval', { stepId: 'p', approver: 'intern' }))
        .thenRejects(ErrorCode.UNAUTHORIZED, /waits for "boss"/);
      given(waiting)
        .when(
          cmd('rejectStepApproval', {
            stepId: 'p',
            approver: 'intern',
            reason: 'x',
          }),
        )
        .thenRejects(ErrorCode.UNAUTHORIZED);
    });
    it('rejects a grant when no approval is pending with INVALID_TRANSITION', () => {
      given(startedApproval)
        .when(cmd('grantStepApproval', { stepId: 'p', approver: 'boss' }))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /not waiting/);
    });
    it('rejects a rejection without a reason with VALIDATION_FAILED', () => {
      given(waiting)
        .when(cmd('rejectStepApproval', { stepId: 'p', approver: 'boss' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /reason/);
    });
    it('rejects a grant on a manual step with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(manual('m', 'ann')),
        evt('taskStarted', { stepId: 'm', assignee: 'ann' }),
      ])
        .when(cmd('grantStepApproval', { stepId: 'm', approver: 'ann' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });

  describe('workflow transitions', () => {
    const histories = {
      draft: draft(stepAdded('a')),
      running: running(stepAdded('a')),
      paused: paused(stepAdded('a')),
      completed: [
        ...running(stepAdded('a')),
        evt('stepSkipped', { stepId: 'a' }),
        evt('completed'),
      ],
      failed: [...running(stepAdded('a')), evt('failed', { error: 'x' })],
      cancelled: [...draft(stepAdded('a')), evt('cancelled')],
    } as const;
    type Status = keyof typeof histories;
    const commands = {
      pause: {
        command: cmd('pause', { reason: 'r' }),
        event: evt('paused', { reason: 'r' }),
        from: ['running'],
      },
      resume: {
        command: cmd('resume'),
        event: evt('resumed'),
        from: ['paused'],
      },
      cancel: {
        command: cmd('cancel', { reason: 'r' }),
        event: evt('cancelled', { reason: 'r' }),
        from: ['draft', 'running', 'paused'],
      },
      fail: {
        command: cmd('fail', { error: 'boom' }),
        event: evt('failed', { error: 'boom' }),
        from: ['running', 'paused'],
      },
      start: { command: cmd('start'), event: started(), from: ['draft'] },
    } as const;
    const cases = Object.entries(commands).flatMap(([name, spec]) =>
      (Object.keys(histories) as Status[]).map(
        (status) =>
          [
            name,
            status,
            (spec.from as readonly string[]).includes(status),
          ] as const,
      ),
    );
    it.each(cases)(
      '%s from %s is allowed: %s (else INVALID_TRANSITION)',
      (name, status, allowed) => {
        const spec = commands[name as keyof typeof commands];
        const when = given(histories[status]).when(spec.command);
        if (allowed) when.then([spec.event]);
        else when.thenRejects(ErrorCode.INVALID_TRANSITION);
      },
    );
    it('rejects FailWorkflow without an error with VALIDATION_FAILED', () => {
      given(histories.running)
        .when(cmd('fail'))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects every command on an unknown workflow with NOT_FOUND', () => {
      given([]).when(cmd('pause')).thenRejects(ErrorCode.NOT_FOUND);
      given([]).when(cmd('complete')).thenRejects(ErrorCode.NOT_FOUND);
    });

    describe('CompleteWorkflow', () => {
      it('completes a running workflow whose steps are completed or skipped', () => {
        given([
          ...running(stepAdded('a'), stepAdded('b')),
          executing('a'),
          evt('stepExecutionCompleted', { stepId: 'a' }),
          evt('stepSkipped', { stepId: 'b' }),
        ])
          .when(cmd('complete'))
          .then([evt('completed')]);
      });
      it('rejects unfinished steps with BUSINESS_RULE_VIOLATION', () => {
        given([
          ...running(stepAdded('a'), stepAdded('b')),
          evt('stepSkipped', { stepId: 'b' }),
        ])
          .when(cmd('complete'))
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /1 step/);
      });
      it('rejects a failed step with BUSINESS_RULE_VIOLATION', () => {
        given([
          ...running(stepAdded('a')),
          executing('a'),
          evt('stepFailed', { stepId: 'a', error: 'e' }),
        ])
          .when(cmd('complete'))
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
      });
      it.each(['draft', 'paused', 'completed', 'cancelled'] as const)(
        'rejects a %s workflow with INVALID_TRANSITION',
        (status) => {
          given(histories[status])
            .when(cmd('complete'))
            .thenRejects(ErrorCode.INVALID_TRANSITION);
        },
      );
    });
  });

  describe('context variables and metadata', () => {
    it('sets and removes a context variable', () => {
      given(running(stepAdded('a')))
        .when(
          cmd('setContextVariable', {
            key: 'k',
            value: value({ a: [1, null] }),
          }),
        )
        .then([
          evt('contextVariableSet', {
            key: 'k',
            value: value({ a: [1, null] }),
          }),
        ]);
      given([
        ...draft(),
        evt('contextVariableSet', { key: 'k', value: value(1) }),
      ])
        .when(cmd('removeContextVariable', { key: 'k' }))
        .then([evt('contextVariableRemoved', { key: 'k' })]);
    });
    it('adds and removes metadata', () => {
      given(draft())
        .when(cmd('addMetadata', { key: 'owner', value: value('ann') }))
        .then([evt('metadataAdded', { key: 'owner', value: value('ann') })]);
      given([evt('created', { name: 'n', metadata: { owner: 'ann' } })])
        .when(cmd('removeMetadata', { key: 'owner' }))
        .then([evt('metadataRemoved', { key: 'owner' })]);
    });
    it('rejects removing a missing key with NOT_FOUND', () => {
      given(draft())
        .when(cmd('removeContextVariable', { key: 'k' }))
        .thenRejects(ErrorCode.NOT_FOUND, /context variable/);
      given(draft())
        .when(cmd('removeMetadata', { key: 'k' }))
        .thenRejects(ErrorCode.NOT_FOUND, /metadata key/);
    });
    it('rejects changes to a terminal workflow with INVALID_TRANSITION', () => {
      const done = [...draft(stepAdded('a')), evt('cancelled')];
      given(done)
        .when(cmd('setContextVariable', { key: 'k', value: value(1) }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
      given(done)
        .when(cmd('addMetadata', { key: 'k', value: value(1) }))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a missing value or a blank key with VALIDATION_FAILED', () => {
      given(draft())
        .when(cmd('setContextVariable', { key: 'k' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /value is required/);
      given(draft())
        .when(cmd('addMetadata', { key: ' ', value: value(1) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /key/);
      given(draft())
        .when(cmd('setContextVariable', { key: 'k', value: {} }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /JSON value/);
    });
  });

  describe('RequestCrossDomainOperation', () => {
    const runningA = [...running(stepAdded('a')), executing('a')];
    const request = (f = {}) =>
      cmd('requestCrossDomainOperation', {
        stepId: 'a',
        targetDomain: 'graph',
        operation: 'graph.CreateGraph',
        parameters: { name: 'g' },
        ...f,
      });
    it('requests an operation under a correlation id naming the workflow, step and command', () => {
      given(runningA)
        .when(request())
        .then([
          evt('crossDomainOperationRequested', {
            stepId: 'a',
            targetDomain: 'graph',
            operation: 'graph.CreateGraph',
            parameters: { name: 'g' },
            correlationId: CORRELATION,
          }),
        ]);
    });
    it('requests from an integration step', () => {
      const events = given([
        ...running(stepAdded('i', { stepType: StepType.INTEGRATION })),
        executing('i'),
      ])
        .when(request({ stepId: 'i' }))
        .events();
      expect(events).toHaveLength(1);
    });
    it('rejects a manual step with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...running(manual('a', 'ann')),
        evt('taskStarted', { stepId: 'a', assignee: 'ann' }),
      ])
        .when(request())
        .thenRejects(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          /automated and integration/,
        );
    });
    it('rejects a step that has not started with INVALID_TRANSITION', () => {
      given(running(stepAdded('a')))
        .when(request())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /start it/);
    });
    it('rejects a step already awaiting an operation with INVALID_TRANSITION', () => {
      given(awaitingA)
        .when(request())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already awaits/);
    });
    it('rejects a paused workflow with INVALID_TRANSITION', () => {
      given([...runningA, evt('paused')])
        .when(request())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it.each([
      [
        'a target domain that is no domain name',
        { targetDomain: 'Graph.v1' },
        /target_domain/,
      ],
      ['a blank operation', { operation: '' }, /operation/],
      ['parameters holding NaN', { parameters: { x: Number.NaN } }, /finite/],
    ] as const)(
      'rejects %s with VALIDATION_FAILED',
      (_what, fields, message) => {
        given(runningA)
          .when(request(fields))
          .thenRejects(ErrorCode.VALIDATION_FAILED, message);
      },
    );
    it('rejects a command without a command id with VALIDATION_FAILED', () => {
      given(runningA)
        .when(
          cmd(
            'requestCrossDomainOperation',
            { stepId: 'a', targetDomain: 'graph', operation: 'op' },
            { commandId: '' },
          ),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /command id/);
    });
  });
});
