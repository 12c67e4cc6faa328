import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  JoinMode,
  ProgressRequestSchema,
  ProgressResponseSchema,
  StepType,
  TemplateNodeKind,
  TimerKind,
  type WorkflowCommand,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { criticalPath } from '../src/analysis.js';
import {
  workflowDecider,
  type PresentWorkflow,
  type WorkflowState,
} from '../src/domain/index.js';
import { reviveWorkflowRow } from '../src/projection.js';
import { workflowQueries } from '../src/queries.js';
import {
  addStep,
  cmd,
  draft,
  projectAll,
  rowsOf,
  stateOf,
  stepAdded,
} from './fixtures.js';

const IDS = ['a', 'b', 'c', 'd', 'e', 'f'];
const stepId = fc.constantFrom(...IDS);

function present(state: WorkflowState): PresentWorkflow {
  if (state.status === 'absent') throw new Error('workflow is absent');
  return state;
}

/** Applies a command: its events folded in, or the state unchanged when refused (any other error fails the test). */
function apply(
  state: WorkflowState,
  command: WorkflowCommand,
): {
  state: WorkflowState;
  events: readonly WorkflowEvent[];
  refused?: ErrorCode;
} {
  try {
    const events = workflowDecider.decide(command, state);
    return { state: events.reduce(workflowDecider.evolve, state), events };
  } catch (error) {
    if (!DomainError.is(error)) throw error;
    return { state, events: [], refused: error.code };
  }
}

/** Dependency edges as a plain adjacency list: step → steps it waits for. */
function edgesOf(workflow: PresentWorkflow): Map<string, string[]> {
  return new Map(
    [...workflow.steps].map(([id, step]) => [
      id,
      [...step.dependencies.keys()],
    ]),
  );
}

/** Transitive closure by Floyd–Warshall: reach.get(x).has(y) when x waits for y through ≥ 1 edge. */
function closure(edges: Map<string, string[]>): Map<string, Set<string>> {
  const ids = [...edges.keys()];
  const reach = new Map(ids.map((id) => [id, new Set(edges.get(id))]));
  for (const k of ids)
    for (const i of ids)
      if (reach.get(i)!.has(k))
        for (const j of reach.get(k)!) reach.get(i)!.add(j);
  return reach;
}

const isAcyclic = (workflow: PresentWorkflow): boolean =>
  [...closure(edgesOf(workflow))].every(([id, reached]) => !reached.has(id));

describe('workflow properties', () => {
  it('never accepts a cycle while a DAG is built, and refuses exactly the edges that would close one', () => {
    const op = fc.oneof(
      fc
        .tuple(stepId, fc.uniqueArray(stepId, { maxLength: 3 }))
        .map(([id, deps]) => addStep(id, { dependencies: deps })),
      fc
        .tuple(stepId, stepId)
        .map(([id, on]) =>
          cmd('addStepDependency', { stepId: id, dependsOn: on }),
        ),
      fc
        .tuple(stepId, stepId)
        .map(([id, on]) =>
          cmd('removeStepDependency', { stepId: id, dependsOn: on }),
        ),
      stepId.map((id) => cmd('removeStep', { stepId: id })),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (commands) => {
        let state = stateOf(draft());
        for (const command of commands) {
          const before = present(state);
          const next = apply(state, command);
          const after = present(next.state);
          expect(isAcyclic(after)).toBe(true);
          // Reverse edges mirror dependencies.
          for (const [id, step] of after.steps) {
            for (const on of step.dependencies.keys())
              expect(after.steps.get(on)?.dependents.has(id)).toBe(true);
            for (const by of step.dependents.keys())
              expect(after.steps.get(by)?.dependencies.has(id)).toBe(true);
          }
          if (command.body.case === 'addStepDependency') {
            const { stepId: id, dependsOn } = command.body.value;
            const known = before.steps.has(id) && before.steps.has(dependsOn);
            const linked =
              before.steps.get(id)?.dependencies.has(dependsOn) === true;
            const cycle =
              id === dependsOn ||
              closure(edgesOf(before)).get(dependsOn)?.has(id) === true;
            if (known && !linked) {
              expect(next.refused).toBe(
                cycle ? ErrorCode.BUSINESS_RULE_VIOLATION : undefined,
              );
            }
          }
          state = next.state;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finds a critical path as long as the longest chain found by brute force', () => {
    const dag = fc.integer({ min: 1, max: 7 }).chain((n) =>
      fc.record({
        names: fc.shuffledSubarray(['p', 'q', 'r', 's', 't', 'u', 'v'], {
          minLength: n,
          maxLength: n,
        }),
        estimates: fc.array(
          fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
          {
            minLength: n,
            maxLength: n,
          },
        ),
        links: fc.array(fc.boolean(), { minLength: n * n, maxLength: n * n }),
      }),
    );
    fc.assert(
      fc.property(dag, ({ names, estimates, links }) => {
        const n = names.length;
        // Node i may depend only on nodes before it: acyclic by construction.
        const deps = names.map((_, i) =>
          names.filter((_, j) => j < i && links[i * n + j] === true),
        );
        const weight = new Map(
          names.map((name, i) => [name, estimates[i] ?? 0]),
        );
        const state = present(
          stateOf(
            draft(
              ...names.map((name, i) =>
                stepAdded(name, {
                  dependencies: [...deps[i]!].sort(),
                  ...(estimates[i] !== undefined && {
                    estimatedDurationMinutes: estimates[i],
                  }),
                }),
              ),
            ),
          ),
        );
        // Brute force: every chain, extended through every dependent.
        const dependents = new Map(names.map((name) => [name, [] as string[]]));
        names.forEach((name, i) =>
          deps[i]!.forEach((d) => dependents.get(d)!.push(name)),
        );
        let bestMinutes = -1;
        let bestLength = 0;
        const walk = (id: string, minutes: number, length: number): void => {
          const total = minutes + weight.get(id)!;
          if (
            total > bestMinutes ||
            (total === bestMinutes && length + 1 > bestLength)
          ) {
            bestMinutes = total;
            bestLength = length + 1;
          }
          for (const next of dependents.get(id)!) walk(next, total, length + 1);
        };
        for (const name of names) walk(name, 0, 0);

        const path = criticalPath(state.steps);
        expect(path.totalMinutes).toBe(bestMinutes);
        expect(path.stepIds).toHaveLength(bestLength);
        expect(path.stepIds.reduce((sum, id) => sum + weight.get(id)!, 0)).toBe(
          path.totalMinutes,
        );
        for (let k = 1; k < path.stepIds.length; k++) {
          const step = state.steps.get(path.stepIds[k]!);
          expect(step?.dependencies.has(path.stepIds[k - 1]!)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps Progress consistent with the steps through any run', () => {
    const op = fc.oneof(
      {
        weight: 3,
        arbitrary: stepId.map((id) =>
          cmd('startStepExecution', { stepId: id }),
        ),
      },
      {
        weight: 3,
        arbitrary: stepId.map((id) =>
          cmd('completeStepExecution', { stepId: id }),
        ),
      },
      {
        weight: 2,
        arbitrary: stepId.map((id) =>
          cmd('failStepExecution', { stepId: id, error: 'e' }),
        ),
      },
      {
        weight: 1,
        arbitrary: stepId.map((id) => cmd('skipStep', { stepId: id })),
      },
      {
        weight: 1,
        arbitrary: stepId.map((id) =>
          cmd('completeTask', {
            stepId: id,
            completedBy: 'ann',
            formData: { v: 1 },
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(stepId, fc.boolean()).map(([id, human]) =>
          addStep(`${id}2`, {
            stepType: human ? StepType.MANUAL : StepType.AUTOMATED,
            ...(human && { assignedTo: 'ann' }),
            estimatedDurationMinutes: 3,
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          cmd('pause'),
          cmd('resume'),
          cmd('cancel'),
          cmd('complete'),
        ),
      },
    );
    const layout = fc.array(
      fc.record({
        human: fc.boolean(),
        retries: fc.integer({ min: 0, max: 2 }),
        estimate: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
      }),
      { minLength: IDS.length, maxLength: IDS.length },
    );
    fc.assert(
      fc.property(
        layout,
        fc.array(op, { maxLength: 30 }),
        (steps, commands) => {
          const setup = draft(
            ...steps.map(({ human, retries, estimate }, i) =>
              stepAdded(IDS[i]!, {
                stepType: human ? StepType.MANUAL : StepType.AUTOMATED,
                maxRetries: retries,
                ...(human && { assignedTo: 'ann' }),
                ...(i > 0 && { dependencies: [IDS[i - 1]!] }),
                ...(estimate !== undefined && {
                  estimatedDurationMinutes: estimate,
                }),
              }),
            ),
          );
          let state = stateOf(setup);
          let row = projectAll(setup)!;
          state = apply(state, cmd('start')).state;
          row = projectAll(
            [...workflowDecider.decide(cmd('start'), stateOf(setup))],
            row,
          )!;
          for (const command of commands) {
            const next = apply(state, command);
            state = next.state;
            row = projectAll(next.events, row)!;
            const progress = create(
              ProgressResponseSchema,
              workflowQueries(rowsOf(row)).progress(
                create(ProgressRequestSchema, { workflowId: 'wf-1' }),
                { position: 0n },
              ) as MessageInitShape<typeof ProgressResponseSchema>,
            );
            const { steps } = present(state);
            const byStatus = (name: string) =>
              [...steps.values()].filter((s) => s.status === name).length;
            expect(progress).toMatchObject({
              totalSteps: steps.size,
              pending: byStatus('pending'),
              running: byStatus('running'),
              inProgress: byStatus('in_progress'),
              waitingApproval: byStatus('waiting_approval'),
              completed: byStatus('completed'),
              failed: byStatus('failed'),
              skipped: byStatus('skipped'),
              cancelled: byStatus('cancelled'),
            });
            const counted = [
              progress.pending,
              progress.running,
              progress.inProgress,
              progress.waitingApproval,
              progress.completed,
              progress.failed,
              progress.skipped,
              progress.cancelled,
            ].reduce((sum, c) => sum + c, 0);
            expect(counted).toBe(steps.size);
            const done = progress.completed + progress.skipped;
            expect(progress.percentComplete).toBeCloseTo(
              (done / steps.size) * 100,
              10,
            );
            expect(progress.percentComplete).toBeGreaterThanOrEqual(0);
            expect(progress.percentComplete).toBeLessThanOrEqual(100);
            expect(
              Number(progress.estimatedMinutesRemaining),
            ).toBeLessThanOrEqual(Number(progress.estimatedMinutesTotal));
            // A failed step used its retries (or had none); a running one has some left or just started.
            for (const step of steps.values()) {
              expect(step.retryCount).toBeLessThanOrEqual(step.maxRetries);
            }
            if (state.status === 'completed') {
              expect(done).toBe(steps.size);
            }
          }
          expect(row.workflow).toEqual(state);
          expect(reviveWorkflowRow(deserialize(serialize(row)))).toEqual(row);
        },
      ),
      { numRuns: 150 },
    );
  });

  describe('templates', () => {
    const K = TemplateNodeKind;
    const MIDDLE = [K.TASK, K.DECISION, K.PARALLEL, K.JOIN, K.TIMER, K.END];
    const STEP_TYPE = new Map([
      [K.START, StepType.START],
      [K.TASK, StepType.MANUAL],
      [K.DECISION, StepType.DECISION],
      [K.PARALLEL, StepType.PARALLEL],
      [K.JOIN, StepType.JOIN],
      [K.TIMER, StepType.TIMER],
      [K.END, StepType.END],
    ]);

    /**
     * A valid template of n nodes, listed in a shuffled order: node 0 is the
     * START, node n-1 an END; node j takes inputs only from non-END nodes
     * before it (acyclic, every node reachable from the START), and a node
     * left without outputs feeds the last END. Joins get a random policy
     * that fits their inputs.
     */
    const validTemplate = fc
      .integer({ min: 2, max: 12 })
      .chain((n) =>
        fc.record({
          kinds: fc.array(fc.constantFrom(...MIDDLE), {
            minLength: n - 2,
            maxLength: n - 2,
          }),
          links: fc.array(fc.boolean(), { minLength: n * n, maxLength: n * n }),
          picks: fc.array(fc.nat(), { minLength: n, maxLength: n }),
          modes: fc.array(
            fc.constantFrom(
              JoinMode.WAIT_ALL,
              JoinMode.WAIT_ANY,
              JoinMode.WAIT_COUNT,
              JoinMode.WAIT_SPECIFIC,
            ),
            { minLength: n, maxLength: n },
          ),
          order: fc.shuffledSubarray(
            Array.from({ length: n }, (_, i) => i),
            { minLength: n, maxLength: n },
          ),
        }),
      )
      .map(({ kinds, links, picks, modes, order }) => {
        const n = kinds.length + 2;
        const kind = [K.START, ...kinds, K.END];
        const id = (i: number) => `n${i}`;
        const inputs: number[][] = kind.map(() => []);
        for (let j = 1; j < n; j++) {
          const sources = Array.from({ length: j }, (_, i) => i).filter(
            (i) => kind[i] !== K.END,
          );
          inputs[j] = sources.filter((i) => links[j * n + i] === true);
          if (inputs[j]!.length === 0) {
            inputs[j] = [sources[picks[j]! % sources.length]!];
          }
        }
        for (let i = 0; i < n - 1; i++) {
          const feeds = inputs.some((into) => into.includes(i));
          if (kind[i] !== K.END && !feeds) inputs[n - 1]!.push(i);
        }
        const nodes = order.map((i) => {
          const into = inputs[i]!.map(id);
          const mode = modes[i]!;
          return {
            nodeId: id(i),
            kind: kind[i]!,
            name: `Node ${i}`,
            ...(kind[i] === K.TASK && { stepType: StepType.MANUAL }),
            ...(kind[i] === K.TIMER && {
              timer: { kind: TimerKind.SLA, minutes: 1 + i },
            }),
            ...(kind[i] === K.JOIN && {
              join: {
                mode,
                ...(mode === JoinMode.WAIT_COUNT && {
                  count: 1 + (picks[i]! % into.length),
                }),
                ...(mode === JoinMode.WAIT_SPECIFIC && {
                  inputs: into.slice(0, 1 + (picks[i]! % into.length)),
                }),
              },
            }),
          };
        });
        const edges = inputs.flatMap((into, j) =>
          into.map((i) => ({ from: id(i), to: id(j) })),
        );
        return { nodes, edges, inputs, kind };
      });

    it('expands any valid template into a DAG whose steps match its nodes', () => {
      fc.assert(
        fc.property(validTemplate, ({ nodes, edges, inputs, kind }) => {
          const events = workflowDecider.decide(
            cmd('createFromTemplate', {
              template: { name: 'T', version: 1, nodes, edges },
            }),
            stateOf([]),
          );
          // Every step is added after the steps it depends on.
          const added: string[] = [];
          for (const e of events.slice(1)) {
            if (e.body.case !== 'stepAdded') throw new Error(e.body.case);
            for (const d of e.body.value.dependencies)
              expect(added).toContain(d);
            added.push(e.body.value.stepId);
          }
          const workflow = present(
            events.reduce(workflowDecider.evolve, stateOf([])),
          );
          expect(isAcyclic(workflow)).toBe(true);
          expect(workflow.steps.size).toBe(nodes.length);
          for (const node of nodes) {
            const i = Number(node.nodeId.slice(1));
            const step = workflow.steps.get(node.nodeId)!;
            expect(step.stepType).toBe(STEP_TYPE.get(kind[i]!));
            expect(step.name).toBe(`Node ${i}`);
            expect([...step.dependencies.keys()]).toEqual(
              inputs[i]!.map((d) => `n${d}`).sort(),
            );
            expect(step.join?.mode).toBe(node.join?.mode);
            expect(step.timer?.minutes).toBe(node.timer?.minutes);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('refuses any valid template with an edge back to an input with VALIDATION_FAILED, and nothing is decided', () => {
      fc.assert(
        fc.property(validTemplate, fc.nat(), fc.nat(), (t, a, b) => {
          // From a node that is no END back to one of its inputs: a cycle,
          // or an input into the START.
          const candidates = t.kind.flatMap((k, j) =>
            j > 0 && k !== K.END ? [j] : [],
          );
          if (candidates.length === 0) return;
          const from = candidates[a % candidates.length]!;
          const to = t.inputs[from]![b % t.inputs[from]!.length]!;
          const edges = [...t.edges, { from: `n${from}`, to: `n${to}` }];
          const command = cmd('createFromTemplate', {
            template: { name: 'T', version: 1, nodes: t.nodes, edges },
          });
          expect(apply(stateOf([]), command)).toMatchObject({
            events: [],
            refused: ErrorCode.VALIDATION_FAILED,
          });
        }),
        { numRuns: 300 },
      );
    });
  });
});
