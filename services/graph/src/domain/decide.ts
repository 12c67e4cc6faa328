import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  requireId,
  requireText,
  show,
  validateTags,
  notFound,
  outdatedMirror,
} from '@cim/kernel';
import {
  GraphEventSchema,
  GraphStatus,
  GraphType,
  ImportFormat,
  type AddEdge,
  type AddNode,
  type ArchiveGraph,
  type ChangeGraphStatus,
  type ChangeNodeMetadata,
  type CreateGraph,
  type GraphCommand,
  type GraphEvent,
  type ImportGraph,
  type RemoveEdge,
  type RemoveNode,
  type UpdateEdge,
  type UpdateGraph,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { parseImportDot } from '../import-dot.js';
import { parseImportGraphml } from '../import-graphml.js';
import { parseImportJson } from '../import-json.js';
import { parseImportMermaid } from '../import-mermaid.js';
import { IMPORT_LIMITS, type ParsedGraph } from '../import-text.js';
import { closesCycle, linksCloseCycle } from './dag.js';
import {
  LIMITS,
  isAcyclicType,
  validateConceptualPoint,
  validateRelationship,
  validateWeight,
} from './rules.js';
import type {
  EdgeState,
  GraphData,
  GraphState,
  NodeState,
  PresentGraph,
} from './state.js';

type EventBody = NonNullable<MessageInitShape<typeof GraphEventSchema>['body']>;

const event = (body: EventBody): GraphEvent =>
  create(GraphEventSchema, { body });

/**
 * Decides the events for a command, or throws DomainError. Checks run in a
 * fixed order: the command's own fields (VALIDATION_FAILED), then the graph's
 * existence and status (NOT_FOUND, INVALID_TRANSITION), then the entities the
 * command names (NOT_FOUND, ALREADY_EXISTS), then structural rules
 * (BUSINESS_RULE_VIOLATION). Ids a command leaves empty derive from its command id.
 */
export function decide(command: GraphCommand, state: GraphState): GraphEvent[] {
  const { body } = command;
  const commandId = command.meta?.commandId ?? '';
  switch (body.case) {
    case 'create':
      return [createGraph(body.value, state)];
    case 'update':
      return updateGraph(body.value, state);
    case 'changeStatus':
      return [changeGraphStatus(body.value, state)];
    case 'archive':
      return [archiveGraph(body.value, state)];
    case 'addNode':
      return [addNode(body.value, state, commandId)];
    case 'changeNodeMetadata':
      return changeNodeMetadata(body.value, state);
    case 'removeNode':
      return removeNode(body.value, state);
    case 'addEdge':
      return [addEdge(body.value, state, commandId)];
    case 'updateEdge':
      return [updateEdge(body.value, state)];
    case 'removeEdge':
      return [removeEdge(body.value, state)];
    case 'importGraph':
      return importGraph(body.value, state, commandId);
    case undefined:
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'command has no body');
  }
}

function existing(state: GraphState, graphId: string): PresentGraph {
  if (state.status === 'absent') {
    notFound(`graph ${show(graphId)} not found`);
  }
  return state;
}

function active(state: GraphState, graphId: string): PresentGraph {
  const graph = existing(state, graphId);
  if (graph.status !== 'active') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `graph ${show(graphId)} is ${graph.status.replace('_', '-')} and accepts no changes`,
    );
  }
  return graph;
}

function idOrDerived(id: string, commandId: string, field: string): string {
  const chosen = id !== '' ? id : commandId;
  if (chosen === '') {
    invalid(`${field} is required when the command has no command id`);
  }
  requireId(chosen, field);
  return chosen;
}

function nodeOf(graph: GraphData, nodeId: string, role: string): NodeState {
  const node = graph.nodes.get(nodeId);
  if (node === undefined) {
    notFound(
      `${role} ${show(nodeId)} not found in graph ${show(graph.graphId)}`,
    );
  }
  return node;
}

function edgeOf(graph: GraphData, edgeId: string): EdgeState {
  const edge = graph.edges.get(edgeId);
  if (edge === undefined) {
    notFound(`edge ${show(edgeId)} not found in graph ${show(graph.graphId)}`);
  }
  return edge;
}

function createGraph(
  { graphId, name, description, graphType, metadata, tags }: CreateGraph,
  state: GraphState,
): GraphEvent {
  requireId(graphId, 'graph_id');
  requireText(name, 'name', LIMITS.name);
  limitText(description, 'description', LIMITS.description);
  const type =
    graphType === GraphType.UNSPECIFIED ? GraphType.GENERIC : graphType;
  if (GraphType[type] === undefined) {
    invalid(`graph_type ${graphType} is not a known graph type`);
  }
  validateTags(tags, 'tags', LIMITS);
  if (state.status !== 'absent') {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `graph ${show(graphId)} already exists`,
    );
  }
  return event({
    case: 'created',
    value: {
      graphId,
      name,
      description,
      graphType: type,
      tags: [...tags],
      ...(metadata && { metadata }),
    },
  });
}

function updateGraph(
  { graphId, name, description, metadata, tags, sourceVersion }: UpdateGraph,
  state: GraphState,
): GraphEvent[] {
  requireId(graphId, 'graph_id');
  if (
    name === undefined &&
    description === undefined &&
    metadata === undefined &&
    tags === undefined
  ) {
    invalid(
      'UpdateGraph must set at least one of name, description, metadata, tags',
    );
  }
  if (name !== undefined) requireText(name, 'name', LIMITS.name);
  if (description !== undefined) {
    limitText(description, 'description', LIMITS.description);
  }
  if (tags !== undefined) validateTags(tags.values, 'tags', LIMITS);
  const graph = active(state, graphId);
  if (outdatedMirror(sourceVersion, graph.sourceVersion)) return [];
  return [
    event({
      case: 'updated',
      value: {
        graphId,
        ...(name !== undefined && { name }),
        ...(description !== undefined && { description }),
        ...(metadata && { metadata }),
        ...(tags && { tags: { values: [...tags.values] } }),
        ...(sourceVersion !== undefined && { sourceVersion }),
      },
    }),
  ];
}

function changeGraphStatus(
  { graphId, status }: ChangeGraphStatus,
  state: GraphState,
): GraphEvent {
  requireId(graphId, 'graph_id');
  if (status === GraphStatus.ARCHIVED) {
    invalid('status ARCHIVED is reached with ArchiveGraph');
  }
  if (status !== GraphStatus.ACTIVE && status !== GraphStatus.READ_ONLY) {
    invalid(
      `status must be ACTIVE or READ_ONLY, got ${GraphStatus[status] ?? status}`,
    );
  }
  const graph = existing(state, graphId);
  if (graph.status === 'archived') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `graph ${show(graphId)} is archived, which is final`,
    );
  }
  const from =
    graph.status === 'active' ? GraphStatus.ACTIVE : GraphStatus.READ_ONLY;
  if (from === status) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `graph ${show(graphId)} is already ${GraphStatus[status]}`,
    );
  }
  return event({ case: 'statusChanged', value: { graphId, from, to: status } });
}

function archiveGraph(
  { graphId }: ArchiveGraph,
  state: GraphState,
): GraphEvent {
  requireId(graphId, 'graph_id');
  if (existing(state, graphId).status === 'archived') {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `graph ${show(graphId)} is already archived`,
    );
  }
  return event({ case: 'archived', value: { graphId } });
}

function addNode(
  command: AddNode,
  state: GraphState,
  commandId: string,
): GraphEvent {
  const { graphId, nodeType, label, metadata, conceptualPoint } = command;
  requireId(graphId, 'graph_id');
  const nodeId = idOrDerived(command.nodeId, commandId, 'node_id');
  requireText(nodeType, 'node_type', LIMITS.type);
  if (label !== undefined) limitText(label, 'label', LIMITS.label);
  validateConceptualPoint(conceptualPoint);
  const graph = active(state, graphId);
  if (graph.nodes.has(nodeId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `node ${show(nodeId)} already exists in graph ${show(graphId)}`,
    );
  }
  return event({
    case: 'nodeAdded',
    value: {
      graphId,
      nodeId,
      nodeType,
      conceptualPoint: [...conceptualPoint],
      ...(label !== undefined && { label }),
      ...(metadata && { metadata }),
    },
  });
}

function changeNodeMetadata(
  { graphId, nodeId, metadata, sourceVersion }: ChangeNodeMetadata,
  state: GraphState,
): GraphEvent[] {
  requireId(graphId, 'graph_id');
  requireId(nodeId, 'node_id');
  const node = nodeOf(active(state, graphId), nodeId, 'node');
  if (outdatedMirror(sourceVersion, node.sourceVersion)) return [];
  return [
    event({
      case: 'nodeUpdated',
      value: {
        graphId,
        nodeId,
        ...(metadata && { metadata }),
        ...(sourceVersion !== undefined && { sourceVersion }),
      },
    }),
  ];
}

function removeNode(
  { graphId, nodeId }: RemoveNode,
  state: GraphState,
): GraphEvent[] {
  requireId(graphId, 'graph_id');
  requireId(nodeId, 'node_id');
  const node = nodeOf(active(state, graphId), nodeId, 'node');
  const removed = [...node.incident.entries()];
  return [
    ...removed.map(([edgeId, { source, target }]) =>
      event({
        case: 'edgeRemoved',
        value: { graphId, edgeId, source, target },
      }),
    ),
    event({
      case: 'nodeRemoved',
      value: {
        graphId,
        nodeId,
        removedEdges: removed.map(([edgeId]) => edgeId),
        ...(node.metadata && { metadata: node.metadata }),
      },
    }),
  ];
}

function addEdge(
  command: AddEdge,
  state: GraphState,
  commandId: string,
): GraphEvent {
  const {
    graphId,
    source,
    target,
    edgeType,
    relationship,
    directed,
    weight,
    metadata,
  } = command;
  requireId(graphId, 'graph_id');
  const edgeId = idOrDerived(command.edgeId, commandId, 'edge_id');
  requireId(source, 'source');
  requireId(target, 'target');
  requireText(edgeType, 'edge_type', LIMITS.type);
  validateWeight(weight);
  validateRelationship(relationship);
  const graph = active(state, graphId);
  if (graph.edges.has(edgeId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `edge ${show(edgeId)} already exists in graph ${show(graphId)}`,
    );
  }
  nodeOf(graph, source, 'source node');
  nodeOf(graph, target, 'target node');
  if (
    directed &&
    isAcyclicType(graph.graphType) &&
    closesCycle(graph, source, target)
  ) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `edge ${show(edgeId)} from ${show(source)} to ${show(target)} would close a cycle; ` +
        `${GraphType[graph.graphType]} graphs must stay acyclic`,
    );
  }
  return event({
    case: 'edgeAdded',
    value: {
      graphId,
      edgeId,
      source,
      target,
      edgeType,
      directed,
      ...(relationship && { relationship }),
      ...(weight !== undefined && { weight }),
      ...(metadata && { metadata }),
    },
  });
}

function updateEdge(command: UpdateEdge, state: GraphState): GraphEvent {
  const {
    graphId,
    edgeId,
    edgeType,
    relationship,
    weight,
    clearWeight,
    metadata,
  } = command;
  requireId(graphId, 'graph_id');
  requireId(edgeId, 'edge_id');
  if (
    edgeType === undefined &&
    relationship === undefined &&
    weight === undefined &&
    !clearWeight &&
    metadata === undefined
  ) {
    invalid(
      'UpdateEdge must set at least one of edge_type, relationship, weight, clear_weight, metadata',
    );
  }
  if (weight !== undefined && clearWeight) {
    invalid('weight and clear_weight cannot both be set');
  }
  if (edgeType !== undefined) requireText(edgeType, 'edge_type', LIMITS.type);
  validateWeight(weight);
  validateRelationship(relationship);
  edgeOf(active(state, graphId), edgeId);
  return event({
    case: 'edgeUpdated',
    value: {
      graphId,
      edgeId,
      weightCleared: clearWeight,
      ...(edgeType !== undefined && { edgeType }),
      ...(relationship && { relationship }),
      ...(weight !== undefined && { weight }),
      ...(metadata && { metadata }),
    },
  });
}

function removeEdge(
  { graphId, edgeId }: RemoveEdge,
  state: GraphState,
): GraphEvent {
  requireId(graphId, 'graph_id');
  requireId(edgeId, 'edge_id');
  const { source, target } = edgeOf(active(state, graphId), edgeId);
  return event({
    case: 'edgeRemoved',
    value: { graphId, edgeId, source, target },
  });
}

function importGraph(
  { graphId, format, content, contentCid }: ImportGraph,
  state: GraphState,
  commandId: string,
): GraphEvent[] {
  requireId(graphId, 'graph_id');
  const parse = parserOf(format);
  if (contentCid === '') {
    if (content.trim() === '') invalid('content must not be blank');
  } else if (content === '') {
    // The service's prepare step replaces a content_cid by the text it names.
    invalid(`content_cid ${show(contentCid)} was not resolved to its content`);
  } else if (content.trim() === '') {
    invalid(`the content of ${show(contentCid)} is blank`);
  }
  if (content.length > IMPORT_LIMITS.contentBytes) {
    invalid(
      `content must be at most ${IMPORT_LIMITS.contentBytes} characters, got ${content.length}`,
    );
  }
  const graph = active(state, graphId);
  const parsed = parse(content, commandId);
  if (parsed.nodes.length > IMPORT_LIMITS.nodes) {
    invalid(
      `a document may hold at most ${IMPORT_LIMITS.nodes} nodes, got ${parsed.nodes.length}`,
    );
  }
  if (parsed.edges.length > IMPORT_LIMITS.edges) {
    invalid(
      `a document may hold at most ${IMPORT_LIMITS.edges} edges, got ${parsed.edges.length}`,
    );
  }
  // A node a DOT or Mermaid edge only names may be one the graph already holds.
  const nodes = parsed.nodes.filter(
    (node) => !(node.implied === true && graph.nodes.has(node.id)),
  );
  const { edges } = parsed;
  nodes.forEach(({ id }, i) => {
    if (graph.nodes.has(id)) {
      throw new DomainError(
        ErrorCode.ALREADY_EXISTS,
        `nodes[${i}].id ${show(id)} already exists in graph ${show(graphId)}`,
      );
    }
  });
  const imported = new Set(nodes.map(({ id }) => id));
  edges.forEach(({ id, source, target }, i) => {
    if (graph.edges.has(id)) {
      throw new DomainError(
        ErrorCode.ALREADY_EXISTS,
        `edges[${i}].id ${show(id)} already exists in graph ${show(graphId)}`,
      );
    }
    for (const [end, nodeId] of [
      ['source', source],
      ['target', target],
    ] as const) {
      if (!graph.nodes.has(nodeId) && !imported.has(nodeId)) {
        notFound(
          `edges[${i}].${end} ${show(nodeId)} is a node of neither graph ${show(graphId)} nor the document`,
        );
      }
    }
  });
  if (
    isAcyclicType(graph.graphType) &&
    linksCloseCycle(graph, imported, edges)
  ) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `the document's directed edges would close a cycle; ${GraphType[graph.graphType]} graphs must stay acyclic`,
    );
  }
  return [
    event({
      case: 'imported',
      value: {
        graphId,
        format,
        nodeCount: nodes.length,
        edgeCount: edges.length,
        contentCid,
      },
    }),
    ...nodes.map(({ id, type, label, metadata }) =>
      event({
        case: 'nodeAdded',
        value: {
          graphId,
          nodeId: id,
          nodeType: type,
          ...(label !== undefined && { label }),
          ...(metadata && { metadata }),
        },
      }),
    ),
    ...edges.map(({ id, source, target, type, directed, weight, metadata }) =>
      event({
        case: 'edgeAdded',
        value: {
          graphId,
          edgeId: id,
          source,
          target,
          edgeType: type,
          directed,
          ...(weight !== undefined && { weight }),
          ...(metadata && { metadata }),
        },
      }),
    ),
  ];
}

/** The parser of an import format; VALIDATION_FAILED for an unknown one. */
function parserOf(
  format: ImportFormat,
): (content: string, commandId: string) => ParsedGraph {
  switch (format) {
    case ImportFormat.JSON:
      return parseImportJson;
    case ImportFormat.DOT:
      return parseImportDot;
    case ImportFormat.GRAPHML:
      return parseImportGraphml;
    case ImportFormat.MERMAID:
      return parseImportMermaid;
    case ImportFormat.UNSPECIFIED:
      return invalid('format must be JSON, DOT, GRAPHML or MERMAID');
    default:
      return invalid(`format ${String(format)} is not a known import format`);
  }
}
