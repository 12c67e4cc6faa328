import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ErrorCode } from '@cim/kernel';
import {
  DocumentEventSchema,
  DocumentType,
  LinkType,
} from '@cim/proto/cim/document/v1/document_pb';
import { GraphType } from '@cim/proto/cim/graph/v1/graph_pb';
import {
  StepType,
  WorkflowEventSchema,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import { graphDecider } from '../src/domain/index.js';
import type { GraphState } from '../src/domain/index.js';
import {
  DOCUMENTS_GRAPH_ID,
  dependencyEdgeId,
  documentCommands,
  reactionCommand,
  stepNodeType,
  workflowCommands,
  workflowGraphId,
} from '../src/reactions.js';

const WF = '0190d5c4-0000-7000-8000-00000000000a';
const DOC = '0190d5c4-0000-7000-8000-00000000000d';

type WorkflowBody = NonNullable<
  MessageInitShape<typeof WorkflowEventSchema>['body']
>;
const wf = (body: WorkflowBody) => create(WorkflowEventSchema, { body });

/** Folds the commands a reaction sends into graph state, as the command path would, failing on any refusal. */
function apply(
  state: GraphState,
  bodies: ReturnType<typeof workflowCommands>,
): GraphState {
  return bodies.reduce((s, body, i) => {
    const events = graphDecider.decide(reactionCommand(body, `c${i}`), s);
    return events.reduce(graphDecider.evolve, s);
  }, state);
}

describe('document reaction mapping', () => {
  it('makes a new document a node of the documents graph, creating the graph first', () => {
    const commands = documentCommands(
      create(DocumentEventSchema, {
        body: {
          case: 'contentIngested',
          value: {
            documentId: DOC,
            title: 'Quarterly report',
            contentCid: 'bafkcid',
            mimeType: 'text/plain',
            documentType: DocumentType.REPORT,
          },
        },
      }),
    );
    expect(commands.map((c) => c.case)).toEqual(['create', 'addNode']);
    expect(commands[0]?.value).toMatchObject({
      graphId: DOCUMENTS_GRAPH_ID,
      graphType: GraphType.KNOWLEDGE,
    });
    expect(commands[1]?.value).toMatchObject({
      graphId: DOCUMENTS_GRAPH_ID,
      nodeId: DOC,
      nodeType: 'document',
      label: 'Quarterly report',
      metadata: {
        documentId: DOC,
        contentCid: 'bafkcid',
        mimeType: 'text/plain',
        documentType: 'report',
      },
    });
  });

  it('joins a fork to its origin and a link to its target', () => {
    const fork = documentCommands(
      create(DocumentEventSchema, {
        body: {
          case: 'createdFromCid',
          value: {
            documentId: 'f',
            title: '',
            forkedFrom: { documentId: 'o' },
          },
        },
      }),
    );
    expect(fork.map((c) => c.case)).toEqual(['create', 'addNode', 'addEdge']);
    expect(fork[1]?.value).not.toHaveProperty('label', '');
    expect(fork[2]?.value).toMatchObject({
      source: 'f',
      target: 'o',
      edgeType: 'forked_from',
      directed: true,
    });
    const link = documentCommands(
      create(DocumentEventSchema, {
        body: {
          case: 'linked',
          value: {
            documentId: 'a',
            targetId: 'b',
            linkType: LinkType.DERIVED_FROM,
          },
        },
      }),
    );
    expect(link[0]?.value).toMatchObject({
      source: 'a',
      target: 'b',
      edgeType: 'derived_from',
    });
  });

  it('ignores other document events', () => {
    expect(
      documentCommands(
        create(DocumentEventSchema, {
          body: { case: 'archived', value: { documentId: DOC } },
        }),
      ),
    ).toEqual([]);
  });
});

describe('workflow reaction mapping', () => {
  const history: WorkflowBody[] = [
    { case: 'created', value: { workflowId: WF, name: 'Release' } },
    {
      case: 'stepAdded',
      value: {
        workflowId: WF,
        stepId: 'build',
        name: 'Build',
        stepType: StepType.AUTOMATED,
      },
    },
    {
      case: 'stepAdded',
      value: {
        workflowId: WF,
        stepId: 'approve',
        name: 'Approve',
        stepType: StepType.APPROVAL,
        dependencies: ['build'],
      },
    },
    {
      case: 'stepAdded',
      value: {
        workflowId: WF,
        stepId: 'notes',
        name: 'Notes',
        stepType: StepType.MANUAL,
      },
    },
    {
      case: 'stepDependencyAdded',
      value: { workflowId: WF, stepId: 'approve', dependsOn: 'notes' },
    },
    {
      case: 'stepDependencyRemoved',
      value: { workflowId: WF, stepId: 'approve', dependsOn: 'build' },
    },
    { case: 'started', value: { workflowId: WF } },
    {
      case: 'stepExecutionStarted',
      value: { workflowId: WF, stepId: 'build' },
    },
    {
      case: 'stepExecutionCompleted',
      value: { workflowId: WF, stepId: 'build' },
    },
    {
      case: 'stepApprovalRequested',
      value: { workflowId: WF, stepId: 'approve' },
    },
    { case: 'stepSkipped', value: { workflowId: WF, stepId: 'notes' } },
  ];

  const replay = (bodies: readonly WorkflowBody[]) =>
    bodies.reduce(
      (state, body, i) =>
        apply(state, workflowCommands(wf(body), { version: BigInt(i + 1) })),
      graphDecider.initialState(),
    );

  it('mirrors steps, dependencies and statuses into a workflow graph', () => {
    const state = replay(history);
    if (state.status === 'absent') throw new Error('no graph');
    expect(state.graphId).toBe(workflowGraphId(WF));
    expect(state.graphType).toBe(GraphType.WORKFLOW);
    expect(
      [...state.nodes].map(([id, n]) => [
        id,
        n.nodeType,
        n.label,
        n.metadata?.['status'],
      ]),
    ).toEqual([
      ['approve', 'approval', 'Approve', 'waiting_approval'],
      ['build', 'automated', 'Build', 'completed'],
      ['notes', 'manual', 'Notes', 'skipped'],
    ]);
    expect([...state.edges.keys()]).toEqual([
      dependencyEdgeId('approve', 'notes'),
    ]);
    expect(state.metadata).toMatchObject({
      workflowId: WF,
      status: 'running',
      workflowVersion: 7,
    });
  });

  it('keeps the newer status when an older status event comes again after the duplicate window', () => {
    const state = replay(history);
    // The build step's start (version 8) and the workflow's start (7), under fresh command ids.
    for (const [body, version] of [
      [history[7]!, 8n],
      [history[6]!, 7n],
    ] as const) {
      for (const command of workflowCommands(wf(body), { version })) {
        expect(
          graphDecider.decide(reactionCommand(command, 'late'), state),
        ).toEqual([]);
      }
    }
    if (state.status === 'absent') throw new Error('no graph');
    expect(state.nodes.get('build')?.metadata?.['status']).toBe('completed');
  });

  it('removes a removed step and its edges', () => {
    const state = replay([
      ...history.slice(0, 3),
      { case: 'stepRemoved', value: { workflowId: WF, stepId: 'approve' } },
    ]);
    if (state.status === 'absent') throw new Error('no graph');
    expect([...state.nodes.keys()]).toEqual(['build']);
    expect(state.edges.size).toBe(0);
  });

  it('is refused, not repeated, when a step is added twice', () => {
    const state = replay(history.slice(0, 2));
    const [again] = workflowCommands(wf(history[1]!), { version: 2n });
    expect(() =>
      graphDecider.decide(reactionCommand(again!, 'x'), state),
    ).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_EXISTS }));
  });

  it.each([
    [StepType.UNSPECIFIED, 'step'],
    [StepType.CUSTOM, 'custom'],
    [StepType.DECISION, 'decision'],
  ])('names step type %s %j', (stepType, name) => {
    expect(stepNodeType(stepType)).toBe(name);
  });

  it('ignores events that change no structure or status', () => {
    expect(
      workflowCommands(
        wf({ case: 'contextVariableSet', value: { workflowId: WF, key: 'k' } }),
        { version: 1n },
      ),
    ).toEqual([]);
  });
});
