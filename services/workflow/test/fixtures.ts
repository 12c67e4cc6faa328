import {
  create,
  fromJson,
  type JsonValue,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import {
  JoinMode,
  StepType,
  TemplateNodeKind,
  TimerKind,
  WorkflowCommandSchema,
  WorkflowEventSchema,
  type WorkflowTemplateSchema,
  type WorkflowCommand,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { CommitMeta, Rows } from '@cim/service';
import { workflowDecider, type WorkflowState } from '../src/domain/index.js';
import { project, type WorkflowRow } from '../src/projection.js';

/** The workflow every builder targets unless told otherwise. */
export const WF = 'wf-1';
/** A fixed command id (UUID shape), so derived ids are predictable. */
export const COMMAND_ID = '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
/** The actor fixtures' commands carry. */
export const ACTOR = 'user:test';
/** Commit time stamped by fixtures, Unix milliseconds. */
export const T0 = 1_700_000_000_000;

type CommandBody = NonNullable<
  MessageInitShape<typeof WorkflowCommandSchema>['body']
>;
type CommandCase = CommandBody['case'];
type CommandInit<C extends CommandCase> = Extract<
  CommandBody,
  { case: C }
>['value'];

type EventBody = NonNullable<
  MessageInitShape<typeof WorkflowEventSchema>['body']
>;
type EventCase = EventBody['case'];
type EventInit<C extends EventCase> = Extract<EventBody, { case: C }>['value'];

/** Options of one command: its id and actor. */
export interface CommandOptions {
  readonly commandId?: string;
  readonly actor?: string;
}

/** A command of case `kase` on workflow WF (unless `value` names another), fields from `value`. */
export function cmd<C extends CommandCase>(
  kase: C,
  value: CommandInit<C> = {} as CommandInit<C>,
  { commandId = COMMAND_ID, actor = ACTOR }: CommandOptions = {},
): WorkflowCommand {
  return create(WorkflowCommandSchema, {
    meta: { commandId, actor },
    body: { case: kase, value: { workflowId: WF, ...value } } as CommandBody,
  });
}

/** A command whose body oneof is unset. */
export const emptyCommand = (): WorkflowCommand =>
  create(WorkflowCommandSchema, { meta: { commandId: COMMAND_ID } });

/** An event of case `kase` on workflow WF (unless `value` names another). */
export function evt<C extends EventCase>(
  kase: C,
  value: EventInit<C> = {} as EventInit<C>,
): WorkflowEvent {
  return create(WorkflowEventSchema, {
    body: { case: kase, value: { workflowId: WF, ...value } } as EventBody,
  });
}

/** An event with no body, as an older reader sees an event type from a newer schema. */
export const unknownEvent = (): WorkflowEvent =>
  create(WorkflowEventSchema, {});

/** A google.protobuf.Value holding `json`. */
export const value = (json: JsonValue): Value => fromJson(ValueSchema, json);

type StepFields = Exclude<CommandInit<'addStep'>, { $typeName: string }>;

/** AddStep for step `stepId`: automated, named "Step <id>", unless `f` says otherwise. */
export const addStep = (
  stepId: string,
  f: StepFields = {},
  options: CommandOptions = {},
): WorkflowCommand =>
  cmd(
    'addStep',
    { stepId, name: `Step ${stepId}`, stepType: StepType.AUTOMATED, ...f },
    options,
  );

type StepAddedFields = Exclude<EventInit<'stepAdded'>, { $typeName: string }>;

/** StepAdded as AddStep with the same arguments decides it (dependencies given sorted); join and timer as templates record them. */
export const stepAdded = (
  stepId: string,
  f: StepAddedFields = {},
): WorkflowEvent =>
  evt('stepAdded', {
    stepId,
    name: `Step ${stepId}`,
    stepType: StepType.AUTOMATED,
    ...f,
  });

/** WorkflowCreated as the default CreateWorkflow decides it. */
export const created = (): WorkflowEvent =>
  evt('created', { name: 'Onboarding', createdBy: ACTOR });

/** WorkflowStarted without context. */
export const started = (): WorkflowEvent => evt('started');

/** A draft workflow holding `steps` (StepAdded events). */
export const draft = (...steps: WorkflowEvent[]): WorkflowEvent[] => [
  created(),
  ...steps,
];

/** A running workflow holding `steps`. */
export const running = (...steps: WorkflowEvent[]): WorkflowEvent[] => [
  ...draft(...steps),
  started(),
];

/** Step `stepId` started as an automated step. */
export const executing = (stepId: string): WorkflowEvent =>
  evt('stepExecutionStarted', { stepId });

/** Commit metadata for the event that makes aggregate version `version`. */
export function commitMeta(
  version: number,
  occurredAtMs = T0 + version * 60_000,
  aggregateId = WF,
): CommitMeta {
  return {
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `event-${version}`,
    commandId: COMMAND_ID,
    correlationId: COMMAND_ID,
    actor: ACTOR,
    occurredAtMs,
  };
}

/** Folds events into a row, one commit per event a minute apart, numbering versions on from the row's. */
export function projectAll(
  events: readonly WorkflowEvent[],
  row?: WorkflowRow,
): WorkflowRow | undefined {
  let current = row;
  let version = Number(row?.version ?? 0n);
  for (const e of events) {
    version++;
    current = project(
      current,
      e,
      commitMeta(
        version,
        T0 + version * 60_000,
        current?.workflow.workflowId ?? WF,
      ),
    );
  }
  return current;
}

/** Folds events into a decider state. */
export function stateOf(
  events: readonly WorkflowEvent[],
  state: WorkflowState = workflowDecider.initialState(),
): WorkflowState {
  return events.reduce(workflowDecider.evolve, state);
}

/** Rows as the runtime hands them to query handlers. */
export function rowsOf(
  ...rows: WorkflowRow[]
): Rows<WorkflowRow> & Map<string, WorkflowRow> {
  return new Map(rows.map((row) => [row.workflow.workflowId, row]));
}

/**
 * A small template for service tests: s → draft (manual, assigned to the
 * `author` parameter) → (review, check) → j (wait_any) → wait (reminder
 * timer of `minutes`) → e.
 */
export function reviewTemplate(
  edges: readonly (readonly [string, string])[] = [
    ['s', 'draft'],
    ['draft', 'review'],
    ['draft', 'check'],
    ['review', 'j'],
    ['check', 'j'],
    ['j', 'wait'],
    ['wait', 'e'],
  ],
): MessageInitShape<typeof WorkflowTemplateSchema> {
  return {
    name: 'Review',
    version: 1,
    parameters: [
      { name: 'author', required: true },
      { name: 'minutes', defaultValue: value(60) },
    ],
    nodes: [
      { nodeId: 's', kind: TemplateNodeKind.START, name: 'Start' },
      {
        nodeId: 'draft',
        kind: TemplateNodeKind.TASK,
        name: 'Draft by ${author}',
        stepType: StepType.MANUAL,
        assignedTo: '${author}',
      },
      {
        nodeId: 'review',
        kind: TemplateNodeKind.TASK,
        name: 'Review',
        stepType: StepType.APPROVAL,
      },
      {
        nodeId: 'check',
        kind: TemplateNodeKind.TASK,
        name: 'Check',
        stepType: StepType.AUTOMATED,
        config: { budget: '${minutes}' },
      },
      {
        nodeId: 'j',
        kind: TemplateNodeKind.JOIN,
        name: 'First verdict',
        join: { mode: JoinMode.WAIT_ANY },
      },
      {
        nodeId: 'wait',
        kind: TemplateNodeKind.TIMER,
        name: 'Cool-off',
        timer: { kind: TimerKind.REMINDER, minutes: 15 },
      },
      { nodeId: 'e', kind: TemplateNodeKind.END, name: 'Done' },
    ],
    edges: edges.map(([from, to]) => ({ from, to })),
  };
}
