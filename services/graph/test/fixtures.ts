import {
  create,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  AddEdgeSchema,
  AddNodeSchema,
  ChangeNodeMetadataSchema,
  CreateGraphSchema,
  EdgeAddedSchema,
  EdgeRemovedSchema,
  EdgeUpdatedSchema,
  GraphCommandSchema,
  GraphCreatedSchema,
  GraphEventSchema,
  GraphImportedSchema,
  GraphStatus,
  GraphStatusChangedSchema,
  GraphType,
  GraphUpdatedSchema,
  ImportFormat,
  ImportGraphSchema,
  NodeAddedSchema,
  NodeRemovedSchema,
  NodeUpdatedSchema,
  RelationshipSchema,
  UpdateEdgeSchema,
  UpdateGraphSchema,
  type GraphCommand,
  type GraphEvent,
  type Relationship,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { CommitMeta, Rows } from '@cim/service';
import { graphDecider, type GraphState } from '../src/domain/index.js';
import { project, type GraphRow } from '../src/projection.js';

/** The graph every builder targets unless told otherwise. */
export const GRAPH_ID = 'g-1';
/** A fixed command id (UUIDv7 shape), so derived node and edge ids are predictable. */
export const COMMAND_ID = '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
/** Commit time stamped by fixtures, Unix milliseconds. */
export const T0 = 1_700_000_000_000;

/** The plain-object form of a message's init shape: every field optional. */
type Fields<S extends DescMessage> = Exclude<
  MessageInitShape<S>,
  { $typeName: string }
>;

type CommandBody = NonNullable<
  MessageInitShape<typeof GraphCommandSchema>['body']
>;
type EventBody = NonNullable<MessageInitShape<typeof GraphEventSchema>['body']>;

function command(
  body: CommandBody | undefined,
  commandId: string,
): GraphCommand {
  return create(GraphCommandSchema, {
    meta: { commandId },
    ...(body && { body }),
  });
}

const event = (body: EventBody): GraphEvent =>
  create(GraphEventSchema, { body });

/** Relationship builders. */
export const rel = {
  dependency: (kind = 'runtime', strength = 1): Relationship =>
    create(RelationshipSchema, {
      kind: { case: 'dependency', value: { kind, strength } },
    }),
  similarity: (score: number): Relationship =>
    create(RelationshipSchema, {
      kind: { case: 'similarity', value: { score } },
    }),
  sequence: (): Relationship =>
    create(RelationshipSchema, { kind: { case: 'sequence', value: {} } }),
  custom: (name: string): Relationship =>
    create(RelationshipSchema, { kind: { case: 'custom', value: { name } } }),
};

/** Command builders: defaults describe graph g-1, nodes a and b, edge e1 from a to b. */
export const cmd = {
  create: (f: Fields<typeof CreateGraphSchema> = {}, commandId = COMMAND_ID) =>
    command(
      {
        case: 'create',
        value: create(CreateGraphSchema, {
          graphId: GRAPH_ID,
          name: 'Payments',
          graphType: GraphType.GENERIC,
          ...f,
        }),
      },
      commandId,
    ),
  update: (f: Fields<typeof UpdateGraphSchema> = {}, commandId = COMMAND_ID) =>
    command(
      {
        case: 'update',
        value: create(UpdateGraphSchema, { graphId: GRAPH_ID, ...f }),
      },
      commandId,
    ),
  changeStatus: (status: GraphStatus, graphId = GRAPH_ID) =>
    command({ case: 'changeStatus', value: { graphId, status } }, COMMAND_ID),
  archive: (graphId = GRAPH_ID) =>
    command({ case: 'archive', value: { graphId } }, COMMAND_ID),
  addNode: (f: Fields<typeof AddNodeSchema> = {}, commandId = COMMAND_ID) =>
    command(
      {
        case: 'addNode',
        value: create(AddNodeSchema, {
          graphId: GRAPH_ID,
          nodeId: 'a',
          nodeType: 'task',
          ...f,
        }),
      },
      commandId,
    ),
  changeNodeMetadata: (f: Fields<typeof ChangeNodeMetadataSchema> = {}) =>
    command(
      {
        case: 'changeNodeMetadata',
        value: create(ChangeNodeMetadataSchema, {
          graphId: GRAPH_ID,
          nodeId: 'a',
          ...f,
        }),
      },
      COMMAND_ID,
    ),
  removeNode: (nodeId = 'a', graphId = GRAPH_ID) =>
    command({ case: 'removeNode', value: { graphId, nodeId } }, COMMAND_ID),
  addEdge: (f: Fields<typeof AddEdgeSchema> = {}, commandId = COMMAND_ID) =>
    command(
      {
        case: 'addEdge',
        value: create(AddEdgeSchema, {
          graphId: GRAPH_ID,
          edgeId: 'e1',
          source: 'a',
          target: 'b',
          edgeType: 'next',
          directed: true,
          ...f,
        }),
      },
      commandId,
    ),
  updateEdge: (f: Fields<typeof UpdateEdgeSchema> = {}) =>
    command(
      {
        case: 'updateEdge',
        value: create(UpdateEdgeSchema, {
          graphId: GRAPH_ID,
          edgeId: 'e1',
          ...f,
        }),
      },
      COMMAND_ID,
    ),
  removeEdge: (edgeId = 'e1', graphId = GRAPH_ID) =>
    command({ case: 'removeEdge', value: { graphId, edgeId } }, COMMAND_ID),
  importGraph: (
    content: string,
    f: Fields<typeof ImportGraphSchema> = {},
    commandId = COMMAND_ID,
  ) =>
    command(
      {
        case: 'importGraph',
        value: create(ImportGraphSchema, {
          graphId: GRAPH_ID,
          format: ImportFormat.JSON,
          content,
          ...f,
        }),
      },
      commandId,
    ),
  /** A command whose body oneof is unset. */
  empty: () => command(undefined, COMMAND_ID),
};

/** Event builders matching what the command builders' defaults decide. */
export const evt = {
  created: (f: Fields<typeof GraphCreatedSchema> = {}) =>
    event({
      case: 'created',
      value: create(GraphCreatedSchema, {
        graphId: GRAPH_ID,
        name: 'Payments',
        graphType: GraphType.GENERIC,
        ...f,
      }),
    }),
  updated: (f: Fields<typeof GraphUpdatedSchema> = {}) =>
    event({
      case: 'updated',
      value: create(GraphUpdatedSchema, { graphId: GRAPH_ID, ...f }),
    }),
  statusChanged: (from: GraphStatus, to: GraphStatus) =>
    event({
      case: 'statusChanged',
      value: create(GraphStatusChangedSchema, { graphId: GRAPH_ID, from, to }),
    }),
  readOnly: () => evt.statusChanged(GraphStatus.ACTIVE, GraphStatus.READ_ONLY),
  archived: () => event({ case: 'archived', value: { graphId: GRAPH_ID } }),
  nodeAdded: (f: Fields<typeof NodeAddedSchema> = {}) =>
    event({
      case: 'nodeAdded',
      value: create(NodeAddedSchema, {
        graphId: GRAPH_ID,
        nodeId: 'a',
        nodeType: 'task',
        ...f,
      }),
    }),
  nodeUpdated: (f: Fields<typeof NodeUpdatedSchema> = {}) =>
    event({
      case: 'nodeUpdated',
      value: create(NodeUpdatedSchema, {
        graphId: GRAPH_ID,
        nodeId: 'a',
        ...f,
      }),
    }),
  nodeRemoved: (f: Fields<typeof NodeRemovedSchema> = {}) =>
    event({
      case: 'nodeRemoved',
      value: create(NodeRemovedSchema, {
        graphId: GRAPH_ID,
        nodeId: 'a',
        ...f,
      }),
    }),
  edgeAdded: (f: Fields<typeof EdgeAddedSchema> = {}) =>
    event({
      case: 'edgeAdded',
      value: create(EdgeAddedSchema, {
        graphId: GRAPH_ID,
        edgeId: 'e1',
        source: 'a',
        target: 'b',
        edgeType: 'next',
        directed: true,
        ...f,
      }),
    }),
  edgeUpdated: (f: Fields<typeof EdgeUpdatedSchema> = {}) =>
    event({
      case: 'edgeUpdated',
      value: create(EdgeUpdatedSchema, {
        graphId: GRAPH_ID,
        edgeId: 'e1',
        ...f,
      }),
    }),
  edgeRemoved: (f: Fields<typeof EdgeRemovedSchema> = {}) =>
    event({
      case: 'edgeRemoved',
      value: create(EdgeRemovedSchema, {
        graphId: GRAPH_ID,
        edgeId: 'e1',
        source: 'a',
        target: 'b',
        ...f,
      }),
    }),
  imported: (
    nodeCount: number,
    edgeCount: number,
    f: Fields<typeof GraphImportedSchema> = {},
  ) =>
    event({
      case: 'imported',
      value: create(GraphImportedSchema, {
        graphId: GRAPH_ID,
        format: ImportFormat.JSON,
        nodeCount,
        edgeCount,
        ...f,
      }),
    }),
  /** An event with no body, as an older reader sees an event type from a newer schema. */
  unknown: () => create(GraphEventSchema, {}),
};

/** A graph with nodes `ids` of type `task` (after GraphCreated). */
export function nodes(...ids: string[]): GraphEvent[] {
  return ids.map((nodeId) => evt.nodeAdded({ nodeId }));
}

/** Commit metadata for the event that makes aggregate version `version`. */
export function commitMeta(
  version: number,
  occurredAtMs = T0 + version,
  aggregateId = GRAPH_ID,
): CommitMeta {
  return {
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `event-${version}`,
    commandId: COMMAND_ID,
    correlationId: COMMAND_ID,
    actor: 'user:test',
    occurredAtMs,
  };
}

/** Folds events into a row, numbering versions on from the row's. */
export function projectAll(
  events: readonly GraphEvent[],
  row?: GraphRow,
): GraphRow | undefined {
  let current = row;
  let version = Number(row?.version ?? 0n);
  for (const e of events) {
    current = project(
      current,
      e,
      commitMeta(++version, T0 + version, current?.graphId ?? GRAPH_ID),
    );
  }
  return current;
}

/** Folds events into a decider state. */
export function stateOf(
  events: readonly GraphEvent[],
  state: GraphState = graphDecider.initialState(),
): GraphState {
  return events.reduce(graphDecider.evolve, state);
}

/** Rows as the runtime hands them to query handlers. */
export function rowsOf(
  ...rows: GraphRow[]
): Rows<GraphRow> & Map<string, GraphRow> {
  return new Map(rows.map((row) => [row.graphId, row]));
}
