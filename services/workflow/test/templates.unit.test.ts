import { describe, expect, it } from '@jest/globals';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ErrorCode } from '@cim/kernel';
import {
  JoinMode,
  StepType,
  TemplateNodeKind,
  TimerKind,
  type TemplateNodeSchema,
  type WorkflowEvent,
  type WorkflowTemplateSchema,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { deciderSpec } from '@cim/testing';
import { workflowDecider } from '../src/domain/index.js';
import {
  ACTOR,
  addStep,
  cmd,
  draft,
  evt,
  executing,
  running,
  stepAdded,
  value,
} from './fixtures.js';

const given = deciderSpec(workflowDecider);

type NodeInit = Exclude<
  MessageInitShape<typeof TemplateNodeSchema>,
  { $typeName: string }
>;
type TemplateInit = Exclude<
  MessageInitShape<typeof WorkflowTemplateSchema>,
  { $typeName: string }
>;

const K = TemplateNodeKind;
const node = (
  nodeId: string,
  kind: TemplateNodeKind,
  f: NodeInit = {},
): NodeInit => ({
  nodeId,
  kind,
  name: `Node ${nodeId}`,
  ...(kind === K.TASK && { stepType: StepType.AUTOMATED }),
  ...(kind === K.TIMER && { timer: { kind: TimerKind.DELAY, minutes: 10 } }),
  ...f,
});
const edges = (...pairs: string[]) =>
  pairs.map((pair) => {
    const [from = '', to = ''] = pair.split('>');
    return { from, to };
  });

/**
 * Onboarding v2: s → form (manual, assignee from a parameter) → fork →
 * (mail, account) → j (join) → wait (timer) → e.
 */
const onboarding = (
  join: NodeInit['join'] = { mode: JoinMode.WAIT_ANY },
): TemplateInit => ({
  name: 'Onboarding',
  version: 2,
  description: 'Onboard ${hire}',
  parameters: [
    { name: 'hire', required: true },
    { name: 'manager', defaultValue: value('user:boss') },
    { name: 'quota', defaultValue: value(5) },
  ],
  nodes: [
    node('e', K.END),
    node('s', K.START),
    node('form', K.TASK, {
      name: 'Form for ${hire}',
      stepType: StepType.MANUAL,
      assignedTo: '${manager}',
      config: { quota: '${quota}', note: 'quota ${quota}' },
    }),
    node('fork', K.PARALLEL),
    node('mail', K.TASK, { maxRetries: 2, estimatedDurationMinutes: 3 }),
    node('account', K.TASK, { stepType: StepType.INTEGRATION }),
    node('j', K.JOIN, { join }),
    node('wait', K.TIMER),
  ],
  edges: edges(
    's>form',
    'form>fork',
    'fork>mail',
    'fork>account',
    'mail>j',
    'account>j',
    'j>wait',
    'wait>e',
  ),
});

const fromTemplate = (
  template: TemplateInit = onboarding(),
  parameters: Record<string, unknown> = { hire: 'bob' },
  f = {},
) =>
  cmd('createFromTemplate', {
    template,
    parameters: parameters as never,
    ...f,
  });

/** The template with its fields changed by `change`. */
const changed = (change: (t: TemplateInit) => void): TemplateInit => {
  const template = onboarding();
  change(template);
  return template;
};
const nodesOf = (t: TemplateInit): NodeInit[] => t.nodes as NodeInit[];

describe('CreateWorkflowFromTemplate', () => {
  it('expands the template into the workflow and its steps, each after its inputs', () => {
    given([])
      .when(fromTemplate())
      .then([
        evt('created', {
          name: 'Onboarding',
          description: 'Onboard bob',
          createdBy: ACTOR,
          templateName: 'Onboarding',
          templateVersion: 2,
          templateParameters: { hire: 'bob', manager: 'user:boss', quota: 5 },
        }),
        stepAdded('s', { name: 'Node s', stepType: StepType.START }),
        stepAdded('form', {
          name: 'Form for bob',
          stepType: StepType.MANUAL,
          assignedTo: 'user:boss',
          config: { quota: 5, note: 'quota 5' },
          dependencies: ['s'],
        }),
        stepAdded('fork', {
          name: 'Node fork',
          stepType: StepType.PARALLEL,
          dependencies: ['form'],
        }),
        stepAdded('mail', {
          name: 'Node mail',
          maxRetries: 2,
          estimatedDurationMinutes: 3,
          dependencies: ['fork'],
        }),
        stepAdded('account', {
          name: 'Node account',
          stepType: StepType.INTEGRATION,
          dependencies: ['fork'],
        }),
        stepAdded('j', {
          name: 'Node j',
          stepType: StepType.JOIN,
          dependencies: ['account', 'mail'],
          join: { mode: JoinMode.WAIT_ANY },
        }),
        stepAdded('wait', {
          name: 'Node wait',
          stepType: StepType.TIMER,
          dependencies: ['j'],
          timer: { kind: TimerKind.DELAY, minutes: 10 },
        }),
        stepAdded('e', {
          name: 'Node e',
          stepType: StepType.END,
          dependencies: ['wait'],
        }),
      ]);
  });
  it('uses supplied values over defaults, the command name over the template name, and records a join without policy as wait_all', () => {
    const events = given([])
      .when(
        fromTemplate(
          changed((t) => delete nodesOf(t)[6]!.join),
          { hire: 'ann', quota: [1, 2], manager: 'user:lee' },
          { name: 'Ann joins', metadata: { team: 'ops' } },
        ),
      )
      .events();
    expect(events[0]?.body.value).toMatchObject({
      name: 'Ann joins',
      metadata: { team: 'ops' },
      templateParameters: { hire: 'ann', manager: 'user:lee', quota: [1, 2] },
    });
    const byId = new Map(
      events
        .slice(1)
        .map((e) => [
          e.body.case === 'stepAdded' ? e.body.value.stepId : '',
          e.body.value,
        ]),
    );
    expect(byId.get('form')).toMatchObject({
      assignedTo: 'user:lee',
      config: { quota: [1, 2], note: 'quota [1,2]' },
    });
    expect(byId.get('j')).toMatchObject({
      join: { mode: JoinMode.WAIT_ALL, count: 0, inputs: [] },
    });
  });
  it('gives an optional parameter without default the value null', () => {
    const template = changed((t) => {
      t.parameters = [{ name: 'hire', required: true }, { name: 'extra' }];
      t.description = '${extra}';
      nodesOf(t)[2]!.assignedTo = 'user:x';
      nodesOf(t)[2]!.config = { v: '${extra}' };
    });
    const events = given([]).when(fromTemplate(template)).events();
    expect(events[0]?.body.value).toMatchObject({ description: 'null' });
    expect(events[2]?.body.value).toMatchObject({ config: { v: null } });
  });
  it('leaves a `${` that no `}` closes as written, reading a mebibyte of them in one pass', () => {
    // With `[^}]*` a reference scanned to the end from every `${` (minutes for this much).
    const unclosed = 'a${'.repeat(350_000);
    const template = changed((t) => {
      nodesOf(t)[2]!.assignedTo = 'user:x';
      nodesOf(t)[2]!.config = { note: unclosed, mixed: '${a$b} ${hire}' };
    });
    const events = given([]).when(fromTemplate(template)).events();
    expect(events[2]?.body.value).toMatchObject({
      config: { note: unclosed, mixed: '${a$b} bob' },
    });
  });
  it('rejects an existing workflow with ALREADY_EXISTS', () => {
    given(draft()).when(fromTemplate()).thenRejects(ErrorCode.ALREADY_EXISTS);
  });

  it.each<[string, () => ReturnType<typeof fromTemplate>, RegExp]>([
    [
      'a missing template',
      () => cmd('createFromTemplate', { parameters: {} }),
      /template is required/,
    ],
    [
      'a blank template name',
      () => fromTemplate(changed((t) => (t.name = ''))),
      /template\.name/,
    ],
    [
      'version 0',
      () => fromTemplate(changed((t) => (t.version = 0))),
      /version must be at least 1/,
    ],
    [
      'an unknown parameter',
      () => fromTemplate(onboarding(), { hire: 'bob', colour: 'red' }),
      /"colour", which the template does not declare/,
    ],
    [
      'a missing required parameter',
      () => fromTemplate(onboarding(), {}),
      /parameter "hire" is required/,
    ],
    [
      'a parameter value holding NaN',
      () => fromTemplate(onboarding(), { hire: Number.NaN }),
      /finite/,
    ],
    [
      'a malformed parameter name',
      () => fromTemplate(changed((t) => (t.parameters = [{ name: '1st' }]))),
      /parameters\[0\]\.name/,
    ],
    [
      'a repeated parameter',
      () =>
        fromTemplate(
          changed((t) => (t.parameters = [{ name: 'hire' }, { name: 'hire' }])),
        ),
      /repeats the parameter "hire"/,
    ],
    [
      'a required parameter with a default',
      () =>
        fromTemplate(
          changed(
            (t) =>
              (t.parameters = [
                { name: 'hire', required: true, defaultValue: value('x') },
              ]),
          ),
        ),
      /required and cannot have a default/,
    ],
    [
      'a reference to an undeclared parameter',
      () => fromTemplate(changed((t) => (nodesOf(t)[3]!.name = '${nope}'))),
      /nodes\[3\]\.name refers to "nope"/,
    ],
    [
      'a name blank after substitution',
      () =>
        fromTemplate(
          changed((t) => (nodesOf(t)[3]!.name = '${hire}')),
          {
            hire: ' ',
          },
        ),
      /nodes\[3\]\.name must not be blank/,
    ],
    ['no nodes', () => fromTemplate(changed((t) => (t.nodes = []))), /empty/],
    [
      'a repeated node id',
      () => fromTemplate(changed((t) => (nodesOf(t)[3]!.nodeId = 'form'))),
      /repeats the node id "form"/,
    ],
    [
      'a node id that is no subject token',
      () => fromTemplate(changed((t) => (nodesOf(t)[3]!.nodeId = 'a.b'))),
      /nodes\[3\]\.node_id/,
    ],
    [
      'a node without a kind',
      () => fromTemplate(changed((t) => (nodesOf(t)[3]!.kind = K.UNSPECIFIED))),
      /kind is required/,
    ],
    [
      'a task without a step type',
      () =>
        fromTemplate(
          changed((t) => (nodesOf(t)[4]!.stepType = StepType.UNSPECIFIED)),
        ),
      /nodes\[4\]\.step_type is required/,
    ],
    [
      'a task of a template-only step type',
      () =>
        fromTemplate(changed((t) => (nodesOf(t)[4]!.stepType = StepType.JOIN))),
      /comes only from a template node/,
    ],
    [
      'a step type on a node that is no task',
      () =>
        fromTemplate(
          changed((t) => (nodesOf(t)[3]!.stepType = StepType.MANUAL)),
        ),
      /only for TASK nodes/,
    ],
    [
      'an assignee on an automated task',
      () =>
        fromTemplate(changed((t) => (nodesOf(t)[4]!.assignedTo = 'user:x'))),
      /assigned_to is only for manual and approval/,
    ],
    [
      'more than 100 retries',
      () => fromTemplate(changed((t) => (nodesOf(t)[4]!.maxRetries = 101))),
      /max_retries/,
    ],
    [
      'a timer node without a timer',
      () => fromTemplate(changed((t) => delete nodesOf(t)[7]!.timer)),
      /timer is required/,
    ],
    [
      'a timer of 0 minutes',
      () =>
        fromTemplate(
          changed(
            (t) => (nodesOf(t)[7]!.timer = { kind: TimerKind.SLA, minutes: 0 }),
          ),
        ),
      /must run at least one second/,
    ],
    [
      'a timer of 60 seconds',
      () =>
        fromTemplate(
          changed(
            (t) =>
              (nodesOf(t)[7]!.timer = {
                kind: TimerKind.SLA,
                minutes: 1,
                seconds: 60,
              }),
          ),
        ),
      /seconds must be at most 59/,
    ],
    [
      'a timer without a kind',
      () =>
        fromTemplate(changed((t) => (nodesOf(t)[7]!.timer = { minutes: 5 }))),
      /timer\.kind/,
    ],
    [
      'a timer on a task',
      () =>
        fromTemplate(
          changed(
            (t) => (nodesOf(t)[4]!.timer = { kind: TimerKind.SLA, minutes: 5 }),
          ),
        ),
      /timer is only for TIMER nodes/,
    ],
    [
      'a join policy on a task',
      () =>
        fromTemplate(
          changed((t) => (nodesOf(t)[4]!.join = { mode: JoinMode.WAIT_ANY })),
        ),
      /join is only for JOIN nodes/,
    ],
    [
      'an edge from an unknown node',
      () => fromTemplate(changed((t) => t.edges?.push({ from: 'x', to: 'e' }))),
      /edges\[8\]\.from names no node/,
    ],
    [
      'an edge to an unknown node',
      () => fromTemplate(changed((t) => t.edges?.push({ from: 's', to: 'x' }))),
      /edges\[8\]\.to names no node/,
    ],
    [
      'an edge from a node to itself',
      () =>
        fromTemplate(
          changed((t) => t.edges?.push({ from: 'fork', to: 'fork' })),
        ),
      /"fork" to itself/,
    ],
    [
      'a repeated edge',
      () =>
        fromTemplate(changed((t) => t.edges?.push({ from: 's', to: 'form' }))),
      /repeats the edge/,
    ],
    [
      'no START node',
      () => fromTemplate(changed((t) => (nodesOf(t)[1]!.kind = K.DECISION))),
      /exactly one START node, it has 0/,
    ],
    [
      'two START nodes',
      () =>
        fromTemplate(
          changed((t) => {
            t.nodes?.push(node('s2', K.START));
            t.edges?.push({ from: 's2', to: 'fork' });
          }),
        ),
      /exactly one START node, it has 2/,
    ],
    [
      'no END node',
      () =>
        fromTemplate(
          changed((t) => {
            nodesOf(t)[0]!.kind = K.TASK;
            nodesOf(t)[0]!.stepType = StepType.AUTOMATED;
          }),
        ),
      /at least one END node/,
    ],
    [
      'a START node with an input',
      () =>
        fromTemplate(changed((t) => t.edges?.push({ from: 'fork', to: 's' }))),
      /START node "s" must have no inputs/,
    ],
    [
      'an END node with an output',
      () =>
        fromTemplate(
          changed((t) => {
            t.nodes?.push(node('e2', K.END));
            t.edges?.push({ from: 'e', to: 'e2' });
          }),
        ),
      /END node "e" must have no outputs/,
    ],
    [
      'a node without inputs',
      () =>
        fromTemplate(
          changed((t) => {
            t.nodes?.push(node('orphan', K.TASK));
            t.edges?.push({ from: 'orphan', to: 'e' });
          }),
        ),
      /"orphan" has no inputs/,
    ],
    [
      'a node without outputs',
      () =>
        fromTemplate(
          changed((t) => {
            t.nodes?.push(node('dead', K.TASK));
            t.edges?.push({ from: 'fork', to: 'dead' });
          }),
        ),
      /"dead" has no outputs/,
    ],
    [
      'a cycle',
      () =>
        fromTemplate(
          changed((t) => t.edges?.push({ from: 'wait', to: 'fork' })),
        ),
      /form a cycle through "fork", "mail", "account", "j", "wait"/,
    ],
    [
      'a join waiting for more inputs than it has',
      () => fromTemplate(onboarding({ mode: JoinMode.WAIT_COUNT, count: 3 })),
      /waits for 3 inputs; it must be within 1 and its 2 inputs/,
    ],
    [
      'a join waiting for no input',
      () => fromTemplate(onboarding({ mode: JoinMode.WAIT_COUNT })),
      /waits for 0 inputs/,
    ],
    [
      'a count on a join that does not count',
      () => fromTemplate(onboarding({ mode: JoinMode.WAIT_ANY, count: 1 })),
      /count is only for JOIN_MODE_WAIT_COUNT/,
    ],
    [
      'a join naming a node that is not its input',
      () =>
        fromTemplate(
          onboarding({ mode: JoinMode.WAIT_SPECIFIC, inputs: ['form'] }),
        ),
      /waits for "form", which is not one of its inputs/,
    ],
    [
      'a wait_specific join naming no input',
      () => fromTemplate(onboarding({ mode: JoinMode.WAIT_SPECIFIC })),
      /must name the inputs/,
    ],
    [
      'inputs on a join that does not name them',
      () =>
        fromTemplate(onboarding({ mode: JoinMode.WAIT_ALL, inputs: ['mail'] })),
      /inputs are only for JOIN_MODE_WAIT_SPECIFIC/,
    ],
    [
      'a join without a mode',
      () => fromTemplate(onboarding({ count: 1 })),
      /needs a known mode/,
    ],
  ])('rejects %s with VALIDATION_FAILED', (_what, command, message) => {
    given([]).when(command()).thenRejects(ErrorCode.VALIDATION_FAILED, message);
  });
});

describe('AddStep of a template-only step type', () => {
  it.each([StepType.START, StepType.END, StepType.JOIN, StepType.TIMER])(
    'rejects step type %s with VALIDATION_FAILED',
    (stepType) => {
      given(draft())
        .when(addStep('a', { stepType }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /comes only from a template/);
    },
  );
});

describe('join steps', () => {
  const joined = (join: NodeInit['join'], ...finished: WorkflowEvent[]) => [
    ...running(
      stepAdded('b'),
      stepAdded('c'),
      stepAdded('d'),
      stepAdded('j', {
        stepType: StepType.JOIN,
        dependencies: ['b', 'c', 'd'],
        join: join ?? {},
      }),
    ),
    ...finished,
  ];
  const done = (stepId: string) => [
    executing(stepId),
    evt('stepExecutionCompleted', { stepId }),
  ];
  const startJ = cmd('startStepExecution', { stepId: 'j' });
  const startedJ = [evt('stepExecutionStarted', { stepId: 'j' })];

  it('start once any input is done under wait_any', () => {
    given(joined({ mode: JoinMode.WAIT_ANY }, ...done('c')))
      .when(startJ)
      .then(startedJ);
    given(
      joined({ mode: JoinMode.WAIT_ANY }, evt('stepSkipped', { stepId: 'd' })),
    )
      .when(startJ)
      .then(startedJ);
  });
  it('rejects a wait_any join with no input done with BUSINESS_RULE_VIOLATION', () => {
    given(joined({ mode: JoinMode.WAIT_ANY }, executing('b')))
      .when(startJ)
      .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /waits for any of/);
  });
  it('start once `count` inputs are done under wait_count', () => {
    given(
      joined(
        { mode: JoinMode.WAIT_COUNT, count: 2 },
        ...done('b'),
        ...done('d'),
      ),
    )
      .when(startJ)
      .then(startedJ);
  });
  it('rejects a wait_count join short of its count with BUSINESS_RULE_VIOLATION', () => {
    given(joined({ mode: JoinMode.WAIT_COUNT, count: 2 }, ...done('b')))
      .when(startJ)
      .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /\(1 so far\)/);
  });
  it('start once the named inputs are done under wait_specific', () => {
    given(
      joined(
        { mode: JoinMode.WAIT_SPECIFIC, inputs: ['b', 'd'] },
        ...done('b'),
        ...done('d'),
      ),
    )
      .when(startJ)
      .then(startedJ);
  });
  it('rejects a wait_specific join whose named input is not done with BUSINESS_RULE_VIOLATION', () => {
    given(
      joined(
        { mode: JoinMode.WAIT_SPECIFIC, inputs: ['b', 'd'] },
        ...done('b'),
        ...done('c'),
      ),
    )
      .when(startJ)
      .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /waits for "d"/);
  });
  it('rejects a wait_all join with an input not done with BUSINESS_RULE_VIOLATION', () => {
    given(joined({ mode: JoinMode.WAIT_ALL }, ...done('b'), ...done('c')))
      .when(startJ)
      .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /waits for "d"/);
  });

  describe('RemoveStepDependency', () => {
    const paused = (join: NodeInit['join']) => [...joined(join), evt('paused')];
    it('removes an input a wait_specific join does not name', () => {
      given(paused({ mode: JoinMode.WAIT_SPECIFIC, inputs: ['b'] }))
        .when(cmd('removeStepDependency', { stepId: 'j', dependsOn: 'c' }))
        .then([evt('stepDependencyRemoved', { stepId: 'j', dependsOn: 'c' })]);
    });
    it('rejects removing an input a wait_specific join names with BUSINESS_RULE_VIOLATION', () => {
      given(paused({ mode: JoinMode.WAIT_SPECIFIC, inputs: ['b'] }))
        .when(cmd('removeStepDependency', { stepId: 'j', dependsOn: 'b' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /by name/);
    });
    it('rejects leaving a wait_count join fewer inputs than its count with BUSINESS_RULE_VIOLATION', () => {
      given(paused({ mode: JoinMode.WAIT_COUNT, count: 3 }))
        .when(cmd('removeStepDependency', { stepId: 'j', dependsOn: 'b' }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /keep only 2/);
    });
  });
});
