import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import { StepType } from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  objectOf,
  reviveWorkflowState,
  workflowDecider,
  type PresentWorkflow,
  type WorkflowState,
} from '../src/domain/index.js';
import { project } from '../src/projection.js';
import {
  T0,
  commitMeta,
  projectAll,
  cmd,
  draft,
  evt,
  executing,
  running,
  started,
  stateOf,
  stepAdded,
  unknownEvent,
  value,
} from './fixtures.js';

function present(state: WorkflowState): PresentWorkflow {
  if (state.status === 'absent') throw new Error('workflow is absent');
  return state;
}

const depsOf = (state: PresentWorkflow, id: string) => [
  ...(state.steps.get(id)?.dependencies.keys() ?? []),
];
const dependentsOf = (state: PresentWorkflow, id: string) => [
  ...(state.steps.get(id)?.dependents.keys() ?? []),
];

describe('workflow evolve', () => {
  it('starts a workflow as a draft with its metadata', () => {
    const state = present(
      stateOf([
        evt('created', { name: 'n', metadata: { a: 1 }, createdBy: 'u' }),
      ]),
    );
    expect(state).toMatchObject({ status: 'draft', name: 'n', createdBy: 'u' });
    expect(objectOf(state.metadata)).toEqual({ a: 1 });
  });

  it('ignores events before the workflow exists, and a second creation', () => {
    expect(stateOf([stepAdded('a'), started()])).toEqual({ status: 'absent' });
    const once = stateOf(draft());
    expect(stateOf([evt('created', { name: 'other' })], once)).toBe(once);
  });

  it('keeps both directions of every dependency', () => {
    const state = present(
      stateOf([
        ...draft(
          stepAdded('a'),
          stepAdded('b'),
          stepAdded('c', { dependencies: ['a', 'b'] }),
        ),
        evt('stepDependencyAdded', { stepId: 'b', dependsOn: 'a' }),
        evt('stepDependencyRemoved', { stepId: 'c', dependsOn: 'b' }),
      ]),
    );
    expect(depsOf(state, 'c')).toEqual(['a']);
    expect(depsOf(state, 'b')).toEqual(['a']);
    expect(dependentsOf(state, 'a')).toEqual(['b', 'c']);
    expect(dependentsOf(state, 'b')).toEqual([]);
  });

  it('unlinks a removed step from the steps it depended on', () => {
    const state = present(
      stateOf([
        ...draft(stepAdded('a'), stepAdded('b', { dependencies: ['a'] })),
        evt('stepRemoved', { stepId: 'b' }),
      ]),
    );
    expect([...state.steps.keys()]).toEqual(['a']);
    expect(dependentsOf(state, 'a')).toEqual([]);
    expect(state.counts.pending).toBe(1);
  });

  it('drops dependencies on missing steps rather than dangling', () => {
    const state = present(
      stateOf(draft(stepAdded('a', { dependencies: ['ghost', 'a'] }))),
    );
    expect(depsOf(state, 'a')).toEqual([]);
  });

  it('counts steps by status as they move', () => {
    const state = present(
      stateOf([
        ...running(
          stepAdded('a'),
          stepAdded('b'),
          stepAdded('c', { maxRetries: 1 }),
          stepAdded('d'),
        ),
        executing('a'),
        evt('stepExecutionCompleted', { stepId: 'a' }),
        evt('stepSkipped', { stepId: 'b' }),
        executing('c'),
        evt('stepExecutionFailed', { stepId: 'c', error: 'e', retryCount: 1 }),
      ]),
    );
    expect(state.counts).toEqual({
      pending: 1,
      running: 1,
      in_progress: 0,
      waiting_approval: 0,
      completed: 1,
      failed: 0,
      skipped: 1,
      cancelled: 0,
    });
    expect(state.steps.get('c')).toMatchObject({
      status: 'running',
      retryCount: 1,
      error: 'e',
    });
  });

  it('copies a completed task form into the context as step_<id>_<key>', () => {
    const state = present(
      stateOf([
        ...running(
          stepAdded('m', { stepType: StepType.MANUAL, assignedTo: 'ann' }),
        ),
        evt('taskStarted', { stepId: 'm', assignee: 'ann' }),
        evt('contextVariableSet', { key: 'kept', value: value(true) }),
        evt('taskCompleted', {
          stepId: 'm',
          completedBy: 'ann',
          formData: { approved: true, amount: 12.5 },
        }),
      ]),
    );
    expect(objectOf(state.context)).toEqual({
      kept: true,
      step_m_amount: 12.5,
      step_m_approved: true,
    });
    expect(state.steps.get('m')).toMatchObject({
      status: 'completed',
      completedBy: 'ann',
      formData: { approved: true, amount: 12.5 },
    });
  });

  it('merges the start context into the context', () => {
    const state = present(
      stateOf([
        ...draft(stepAdded('a')),
        evt('contextVariableSet', { key: 'a', value: value(1) }),
        evt('started', { context: { b: 'x' } }),
      ]),
    );
    expect(objectOf(state.context)).toEqual({ a: 1, b: 'x' });
  });

  it('cancels every unfinished step with the workflow and keeps finished ones', () => {
    const state = present(
      stateOf([
        ...running(stepAdded('a'), stepAdded('b'), stepAdded('c')),
        executing('a'),
        evt('stepExecutionCompleted', { stepId: 'a' }),
        executing('b'),
        evt('cancelled', { reason: 'stop' }),
      ]),
    );
    expect(state.status).toBe('cancelled');
    expect([...state.steps].map(([id, s]) => [id, s.status])).toEqual([
      ['a', 'completed'],
      ['b', 'cancelled'],
      ['c', 'cancelled'],
    ]);
    expect(state.counts.cancelled).toBe(2);
  });

  it('tracks the awaited operation until an outcome', () => {
    const requested = evt('crossDomainOperationRequested', {
      stepId: 'a',
      targetDomain: 'graph',
      operation: 'op',
      correlationId: 'wf:wf-1:a:x',
    });
    const history = [...running(stepAdded('a')), executing('a'), requested];
    expect(present(stateOf(history)).steps.get('a')?.awaiting).toBe(
      'wf:wf-1:a:x',
    );
    const done = present(
      stateOf([
        ...history,
        evt('stepExecutionCompleted', { stepId: 'a', output: { r: 1 } }),
      ]),
    );
    expect(done.steps.get('a')).toMatchObject({
      awaiting: undefined,
      status: 'completed',
      output: { r: 1 },
    });
  });

  it('moves paused and running only between each other', () => {
    expect(stateOf([...draft(stepAdded('a')), evt('resumed')]).status).toBe(
      'draft',
    );
    expect(
      stateOf([...running(stepAdded('a')), evt('paused'), evt('resumed')])
        .status,
    ).toBe('running');
  });

  it('leaves the state unchanged for an event from a newer schema', () => {
    const state = stateOf(draft(stepAdded('a')));
    expect(workflowDecider.evolve(state, unknownEvent())).toBe(state);
  });

  it('leaves every earlier state unchanged', () => {
    const before = stateOf(draft(stepAdded('a')));
    const copy = deserialize(serialize(before)) as unknown;
    stateOf(
      [stepAdded('b', { dependencies: ['a'] }), evt('cancelled')],
      before,
    );
    expect(reviveWorkflowState(copy)).toEqual(before);
  });

  it('survives a structured clone with revive, and decides alike afterwards', () => {
    const state = stateOf([
      ...running(
        stepAdded('a', { config: { k: 1 } }),
        stepAdded('b', { dependencies: ['a'] }),
      ),
      evt('contextVariableSet', { key: 'c', value: value([1, 'x']) }),
    ]);
    const revived = reviveWorkflowState(deserialize(serialize(state)));
    expect(revived).toEqual(state);
    const next = cmd('startStepExecution', { stepId: 'a' });
    expect(workflowDecider.decide(next, revived)).toEqual(
      workflowDecider.decide(next, state),
    );
    expect(() =>
      workflowDecider.decide(
        cmd('addStepDependency', { stepId: 'a', dependsOn: 'b' }),
        revived,
      ),
    ).toThrow();
  });

  it('moves only the version and time of a row for an event from a newer schema', () => {
    const row = projectAll(draft(stepAdded('a')))!;
    const bumped = project(row, unknownEvent(), commitMeta(9, T0 + 5));
    expect(bumped?.workflow).toBe(row.workflow);
    expect(bumped).toMatchObject({ version: 9n, updatedAtMs: T0 + 5 });
  });
});
