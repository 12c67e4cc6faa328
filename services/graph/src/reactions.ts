import { create, type Message } from '@bufbuild/protobuf';
import { derivedUuid } from '@cim/kernel';
import {
  DocumentEventSchema,
  DocumentType,
  LinkType,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  AddEdgeSchema,
  AddNodeSchema,
  CreateGraphSchema,
  GraphCommandSchema,
  GraphType,
  RemoveEdgeSchema,
  RemoveNodeSchema,
  ChangeNodeMetadataSchema,
  UpdateGraphSchema,
  type GraphCommand,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  StepType,
  WorkflowEventSchema,
  type WorkflowEvent,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { ForeignEventMeta, Reaction } from '@cim/service';
import { LIMITS } from './domain/rules.js';

type CommandBody = GraphCommand['body'];

/** The well-known graph that mirrors every document: one node per document. */
export const DOCUMENTS_GRAPH_ID = 'documents';

/** The graph that mirrors one workflow: `workflow-<workflow id>`. */
export function workflowGraphId(workflowId: string): string {
  return `workflow-${workflowId}`;
}

/** The id of the edge that mirrors "step depends on dependsOn" (unique per pair within the workflow's graph). */
export function dependencyEdgeId(stepId: string, dependsOn: string): string {
  return derivedUuid('workflow-dependency', stepId, dependsOn);
}

/** The id of the edge that mirrors a document link (or fork) from one document to another. */
export function documentLinkEdgeId(
  documentId: string,
  targetId: string,
  kind: string,
): string {
  return derivedUuid('document-link', documentId, targetId, kind);
}

const clip = (text: string, max: number) =>
  text.length > max ? text.slice(0, max) : text;

const lower = (name: string | undefined, fallback: string) =>
  name === undefined ? fallback : name.toLowerCase();

/** The command that creates the documents graph (refused as ALREADY_EXISTS once it exists). */
export function createDocumentsGraph(): CommandBody {
  return {
    case: 'create',
    value: create(CreateGraphSchema, {
      graphId: DOCUMENTS_GRAPH_ID,
      name: 'Documents',
      description:
        'Mirrors the document domain: a node per document, edges for forks and links.',
      graphType: GraphType.KNOWLEDGE,
      metadata: { mirrors: 'document' },
    }),
  };
}

/** The node of a new document: what ingesting and creating from a CID both record. */
function documentNode({
  documentId,
  title,
  contentCid,
  mimeType,
  documentType,
}: {
  readonly documentId: string;
  readonly title: string;
  readonly contentCid: string;
  readonly mimeType: string;
  readonly documentType: DocumentType;
}): CommandBody {
  const label = clip(title, LIMITS.label);
  return {
    case: 'addNode',
    value: create(AddNodeSchema, {
      graphId: DOCUMENTS_GRAPH_ID,
      nodeId: documentId,
      nodeType: 'document',
      ...(label.trim() !== '' && { label }),
      metadata: {
        documentId,
        contentCid,
        mimeType,
        documentType: lower(DocumentType[documentType], 'unspecified'),
      },
    }),
  };
}

function documentEdge(
  documentId: string,
  targetId: string,
  kind: string,
): CommandBody {
  return {
    case: 'addEdge',
    value: create(AddEdgeSchema, {
      graphId: DOCUMENTS_GRAPH_ID,
      edgeId: documentLinkEdgeId(documentId, targetId, kind),
      source: documentId,
      target: targetId,
      edgeType: kind,
      directed: true,
      relationship: {
        kind: { case: 'association', value: { relation: kind } },
      },
    }),
  };
}

/**
 * Document events → the documents graph. A new document (ingested, or
 * created from a stored CID, which is also how a fork begins) becomes a node
 * `<document id>` of type `document`, labelled with its title; a fork also
 * gets an edge `forked_from` to its origin, and DocumentsLinked an edge named
 * after the link type. Every new document first asks for the graph to be
 * created, which is refused once it exists. Pure.
 */
export function documentCommands({ body }: DocumentEvent): CommandBody[] {
  switch (body.case) {
    case 'contentIngested':
      return [createDocumentsGraph(), documentNode(body.value)];
    case 'createdFromCid': {
      const e = body.value;
      const commands = [createDocumentsGraph(), documentNode(e)];
      if (e.forkedFrom !== undefined && e.forkedFrom.documentId !== '') {
        commands.push(
          documentEdge(e.documentId, e.forkedFrom.documentId, 'forked_from'),
        );
      }
      return commands;
    }
    case 'linked': {
      const { documentId, targetId, linkType } = body.value;
      return [
        documentEdge(
          documentId,
          targetId,
          lower(LinkType[linkType], 'related'),
        ),
      ];
    }
    default:
      return [];
  }
}

/** Document events the graph reacts to. */
export const documentNodesReaction: Reaction<GraphCommand> = {
  name: 'document-nodes',
  source: { domain: 'document', event: DocumentEventSchema },
  events: [
    'DocumentContentIngested',
    'DocumentCreatedFromCid',
    'DocumentsLinked',
  ],
  react: (event: Message) => documentCommands(event as DocumentEvent),
};

/** A step's node type: its step type in lower case (`manual`, `approval`, …). */
export function stepNodeType(stepType: StepType): string {
  return stepType === StepType.UNSPECIFIED
    ? 'step'
    : lower(StepType[stepType], 'step');
}

function stepStatus(
  workflowId: string,
  stepId: string,
  status: string,
  version: bigint,
): CommandBody {
  return {
    case: 'changeNodeMetadata',
    value: create(ChangeNodeMetadataSchema, {
      graphId: workflowGraphId(workflowId),
      nodeId: stepId,
      metadata: { status, workflowVersion: Number(version) },
      sourceVersion: version,
    }),
  };
}

function workflowStatus(
  workflowId: string,
  status: string,
  version: bigint,
): CommandBody {
  return {
    case: 'update',
    value: create(UpdateGraphSchema, {
      graphId: workflowGraphId(workflowId),
      metadata: { workflowId, status, workflowVersion: Number(version) },
      sourceVersion: version,
    }),
  };
}

function dependencyEdge(
  workflowId: string,
  stepId: string,
  dependsOn: string,
): CommandBody {
  return {
    case: 'addEdge',
    value: create(AddEdgeSchema, {
      graphId: workflowGraphId(workflowId),
      edgeId: dependencyEdgeId(stepId, dependsOn),
      source: stepId,
      target: dependsOn,
      edgeType: 'depends_on',
      directed: true,
      relationship: {
        kind: { case: 'dependency', value: { kind: 'step', strength: 1 } },
      },
    }),
  };
}

/**
 * Workflow events → the workflow's mirrored graph `workflow-<id>` of type
 * WORKFLOW: a node per step (type = step type, label = step name, metadata
 * `{status, workflowVersion}`), an edge `depends_on` from a step to each step
 * it depends on, kept in step as steps and dependencies are added and
 * removed; step status changes replace the node's metadata, workflow status
 * changes the graph's metadata `{workflowId, status, workflowVersion}`.
 * Assignments, configuration and context are not mirrored. Pure.
 */
export function workflowCommands(
  { body }: WorkflowEvent,
  meta: Pick<ForeignEventMeta, 'version'>,
): CommandBody[] {
  const { version } = meta;
  switch (body.case) {
    case 'created': {
      const { workflowId, name, description } = body.value;
      return [
        {
          case: 'create',
          value: create(CreateGraphSchema, {
            graphId: workflowGraphId(workflowId),
            name: clip(name, LIMITS.name),
            description: clip(description, LIMITS.description),
            graphType: GraphType.WORKFLOW,
            metadata: {
              workflowId,
              status: 'draft',
              workflowVersion: Number(version),
            },
          }),
        },
      ];
    }
    case 'stepAdded': {
      const { workflowId, stepId, name, stepType, dependencies } = body.value;
      const label = clip(name, LIMITS.label);
      return [
        {
          case: 'addNode',
          value: create(AddNodeSchema, {
            graphId: workflowGraphId(workflowId),
            nodeId: stepId,
            nodeType: stepNodeType(stepType),
            ...(label.trim() !== '' && { label }),
            metadata: { status: 'pending', workflowVersion: Number(version) },
          }),
        },
        ...dependencies.map((dependsOn) =>
          dependencyEdge(workflowId, stepId, dependsOn),
        ),
      ];
    }
    case 'stepRemoved': {
      const { workflowId, stepId } = body.value;
      return [
        {
          case: 'removeNode',
          value: create(RemoveNodeSchema, {
            graphId: workflowGraphId(workflowId),
            nodeId: stepId,
          }),
        },
      ];
    }
    case 'stepDependencyAdded': {
      const { workflowId, stepId, dependsOn } = body.value;
      return [dependencyEdge(workflowId, stepId, dependsOn)];
    }
    case 'stepDependencyRemoved': {
      const { workflowId, stepId, dependsOn } = body.value;
      return [
        {
          case: 'removeEdge',
          value: create(RemoveEdgeSchema, {
            graphId: workflowGraphId(workflowId),
            edgeId: dependencyEdgeId(stepId, dependsOn),
          }),
        },
      ];
    }
    case 'stepExecutionStarted':
      return [
        stepStatus(
          body.value.workflowId,
          body.value.stepId,
          'running',
          version,
        ),
      ];
    case 'taskStarted':
      return [
        stepStatus(
          body.value.workflowId,
          body.value.stepId,
          'in_progress',
          version,
        ),
      ];
    case 'stepApprovalRequested':
      return [
        stepStatus(
          body.value.workflowId,
          body.value.stepId,
          'waiting_approval',
          version,
        ),
      ];
    case 'stepExecutionCompleted':
    case 'taskCompleted':
    case 'stepApprovalGranted':
      return [
        stepStatus(
          body.value.workflowId,
          body.value.stepId,
          'completed',
          version,
        ),
      ];
    case 'stepFailed':
    case 'stepApprovalRejected':
      return [
        stepStatus(body.value.workflowId, body.value.stepId, 'failed', version),
      ];
    case 'stepSkipped':
      return [
        stepStatus(
          body.value.workflowId,
          body.value.stepId,
          'skipped',
          version,
        ),
      ];
    case 'started':
      return [workflowStatus(body.value.workflowId, 'running', version)];
    case 'paused':
      return [workflowStatus(body.value.workflowId, 'paused', version)];
    case 'resumed':
      return [workflowStatus(body.value.workflowId, 'running', version)];
    case 'completed':
      return [workflowStatus(body.value.workflowId, 'completed', version)];
    case 'failed':
      return [workflowStatus(body.value.workflowId, 'failed', version)];
    case 'cancelled':
      return [workflowStatus(body.value.workflowId, 'cancelled', version)];
    default:
      return [];
  }
}

/** Workflow events the graph reacts to. */
export const workflowGraphReaction: Reaction<GraphCommand> = {
  name: 'workflow-graphs',
  source: { domain: 'workflow', event: WorkflowEventSchema },
  react: (event: Message, meta: ForeignEventMeta) =>
    workflowCommands(event as WorkflowEvent, meta),
};

/** The command message a reaction body becomes, for tests that decide it directly. */
export function reactionCommand(
  body: CommandBody,
  commandId: string,
): GraphCommand {
  return create(GraphCommandSchema, { meta: { commandId }, body });
}
