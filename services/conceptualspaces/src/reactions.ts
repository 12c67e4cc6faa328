import {
  create,
  type JsonObject,
  type Message,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { derivedUuid } from '@cim/kernel';
import {
  AddConceptSchema,
  RemoveConceptSchema,
  ConceptualspacesCommandSchema,
  CreateConceptualSpaceSchema,
  DimensionKind,
  MoveConceptSchema,
  PlaceGraphConceptSchema,
  type ConceptualspacesCommand,
  type GraphChangeSchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  DocumentEventSchema,
  EntityKind,
  type DocumentEvent,
  type Entity,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  GraphEventSchema,
  GraphType,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { ForeignEventMeta, Reaction } from '@cim/service';
import { GRAPH_FEATURES, isAbstractNodeType } from './domain/graph-features.js';

/** The well-known space every graph is placed in. */
export const GRAPH_SPACE_ID = 'graphs';

type CommandBody = ConceptualspacesCommand['body'];
type ChangeInit = MessageInitShape<typeof GraphChangeSchema>;

/** How abstract a graph's type is, in [0, 1]: knowledge and domain models describe ideas, workflows and code describe doings. */
export function typeAbstraction(graphType: GraphType): number {
  switch (graphType) {
    case GraphType.KNOWLEDGE:
    case GraphType.DOMAIN_MODEL:
      return 1;
    case GraphType.EVENT_FLOW:
      return 0.25;
    case GraphType.WORKFLOW:
    case GraphType.DEVELOPMENT:
      return 0;
    default:
      return 0.5;
  }
}

const keysOf = (object: object | undefined): number =>
  object === undefined ? 0 : Object.keys(object).length;

const present = (text: string | undefined): boolean =>
  text !== undefined && text.trim() !== '';

/** What one graph event changed, as the graph feature counters read it. */
export function graphChangeOf({ body }: GraphEvent): ChangeInit | undefined {
  switch (body.case) {
    case 'created':
      return {
        kind: {
          case: 'created',
          value: {
            name: body.value.name,
            typeAbstraction: typeAbstraction(body.value.graphType),
            tagCount: body.value.tags.length,
            metadataKeys: keysOf(body.value.metadata),
            described: present(body.value.description),
          },
        },
      };
    case 'updated': {
      const { description, metadata, tags } = body.value;
      return {
        kind: {
          case: 'updated',
          value: {
            ...(tags !== undefined && { tagCount: tags.values.length }),
            ...(metadata !== undefined && { metadataKeys: keysOf(metadata) }),
            ...(description !== undefined && {
              described: present(description),
            }),
          },
        },
      };
    }
    case 'statusChanged':
    case 'archived':
      return { kind: { case: 'touched', value: {} } };
    case 'imported':
      return { kind: { case: 'imported', value: {} } };
    case 'nodeAdded':
      return {
        kind: {
          case: 'nodeAdded',
          value: {
            nodeId: body.value.nodeId,
            abstract: isAbstractNodeType(body.value.nodeType),
            labelled: present(body.value.label),
            metadataKeys: keysOf(body.value.metadata),
          },
        },
      };
    case 'nodeUpdated':
      return {
        kind: {
          case: 'nodeUpdated',
          value: {
            nodeId: body.value.nodeId,
            metadataKeys: keysOf(body.value.metadata),
          },
        },
      };
    case 'nodeRemoved':
      return {
        kind: { case: 'nodeRemoved', value: { elementId: body.value.nodeId } },
      };
    case 'edgeAdded':
      return {
        kind: {
          case: 'edgeAdded',
          value: {
            edgeId: body.value.edgeId,
            related: body.value.relationship?.kind.case !== undefined,
            metadataKeys: keysOf(body.value.metadata),
          },
        },
      };
    case 'edgeUpdated': {
      const { edgeId, relationship, metadata } = body.value;
      return {
        kind: {
          case: 'edgeUpdated',
          value: {
            edgeId,
            related: relationship?.kind.case !== undefined,
            ...(metadata !== undefined && { metadataKeys: keysOf(metadata) }),
          },
        },
      };
    }
    case 'edgeRemoved':
      return {
        kind: { case: 'edgeRemoved', value: { elementId: body.value.edgeId } },
      };
    case undefined:
      return undefined;
  }
}

/**
 * The command that creates a well-known space the service places points of
 * other domains in: continuous dimensions on [0, 1), Euclidean. Refused as
 * ALREADY_EXISTS once the space exists, so every reaction may send it first.
 */
function createWellKnownSpace(
  conceptualspacesId: string,
  name: string,
  dimensions: ReadonlyArray<{ readonly id: string; readonly name: string }>,
): CommandBody {
  return {
    case: 'create',
    value: create(CreateConceptualSpaceSchema, {
      conceptualspacesId,
      name,
      dimensions: dimensions.map(({ id, name: dimensionName }) => ({
        dimensionId: id,
        name: dimensionName,
        kind: DimensionKind.CONTINUOUS,
        min: 0,
        max: 1,
      })),
      metric: { minkowskiP: 2 },
    }),
  };
}

/** The command that creates the well-known graph space. */
export const createGraphSpace = (): CommandBody =>
  createWellKnownSpace(GRAPH_SPACE_ID, 'Graphs', GRAPH_FEATURES);

/**
 * Graph events → graph concepts: every graph becomes a point of the
 * well-known space `graphs` (README, "Graphs as concepts"). Each event is
 * sent as a PlaceGraphConcept carrying its graph version, which the space
 * applies exactly once and in version order; a graph's first event also asks
 * for the space to be created. Pure: one event in, commands out.
 */
export const graphConceptsReaction: Reaction<ConceptualspacesCommand> = {
  name: 'graph-concepts',
  source: { domain: 'graph', event: GraphEventSchema },
  react(event: Message, meta: ForeignEventMeta): CommandBody[] {
    const graphEvent = event as GraphEvent;
    const change = graphChangeOf(graphEvent);
    if (change === undefined) return [];
    const place: CommandBody = {
      case: 'placeGraphConcept',
      value: create(PlaceGraphConceptSchema, {
        conceptualspacesId: GRAPH_SPACE_ID,
        graphId: meta.aggregateId,
        graphVersion: meta.version,
        change,
      }),
    };
    return graphEvent.body.case === 'created'
      ? [createGraphSpace(), place]
      : [place];
  },
};

/** The node metadata key that names the space a graph node's conceptual point belongs to. */
export const NODE_SPACE_KEY = 'conceptualspace_id';

/**
 * The concept id of a graph node: `node-` and a UUID derived from the graph
 * and node ids, so it fits the id limits whatever their lengths and the same
 * node always gets the same concept.
 */
export function graphNodeConceptId(graphId: string, nodeId: string): string {
  return `node-${derivedUuid('graph-node', graphId, nodeId)}`;
}

/** The space a node's metadata names under NODE_SPACE_KEY, or undefined. */
function nodeSpace(metadata: JsonObject | undefined): string | undefined {
  const spaceId = metadata?.[NODE_SPACE_KEY];
  // An empty space id would name the command's own id as the aggregate.
  return typeof spaceId === 'string' && spaceId !== '' ? spaceId : undefined;
}

/**
 * Graph nodes with a conceptual point → concepts (README, "Graph nodes as
 * concepts"). A node added with a non-empty `conceptual_point` and a
 * non-empty string under NODE_SPACE_KEY in its metadata becomes an
 * AddConcept in that space; its removal (NodeRemoved carries the node's last
 * metadata) a RemoveConcept there, refused as NOT_FOUND when no concept was
 * made. Any other event, or a node without a space, sends nothing. Imported
 * nodes arrive as NodeAdded events of the import's commit and are read the
 * same way. The label is left out: it is personal data of the graph. Pure:
 * one event in, commands out.
 */
export const graphNodeConceptsReaction: Reaction<ConceptualspacesCommand> = {
  name: 'graph-node-concepts',
  source: { domain: 'graph', event: GraphEventSchema },
  events: ['NodeAdded', 'NodeRemoved'],
  react(event: Message, meta: ForeignEventMeta): CommandBody[] {
    const { body } = event as GraphEvent;
    if (body.case === 'nodeRemoved') {
      const spaceId = nodeSpace(body.value.metadata);
      if (spaceId === undefined) return [];
      return [
        {
          case: 'removeConcept',
          value: create(RemoveConceptSchema, {
            conceptualspacesId: spaceId,
            conceptId: graphNodeConceptId(meta.aggregateId, body.value.nodeId),
          }),
        },
      ];
    }
    if (body.case !== 'nodeAdded') return [];
    const { nodeId, metadata, conceptualPoint } = body.value;
    const spaceId = nodeSpace(metadata);
    if (conceptualPoint.length === 0 || spaceId === undefined) return [];
    return [
      {
        case: 'addConcept',
        value: create(AddConceptSchema, {
          conceptualspacesId: spaceId,
          conceptId: graphNodeConceptId(meta.aggregateId, nodeId),
          coordinates: conceptualPoint,
          sourceRef: `graph:${meta.aggregateId}/node:${nodeId}`,
          sourceVersion: meta.version,
        }),
      },
    ];
  },
};

/** The well-known space every document with extracted entities is placed in. */
export const DOCUMENT_ENTITY_SPACE_ID = 'document-entities';

/** The dimensions of the document entity space: one per entity kind, in this order. */
export const ENTITY_DIMENSIONS = [
  { kind: EntityKind.EMAIL, id: 'email', name: 'E-mail addresses' },
  { kind: EntityKind.URL, id: 'url', name: 'URLs' },
  { kind: EntityKind.DATE, id: 'date', name: 'Dates' },
  { kind: EntityKind.PHONE, id: 'phone', name: 'Phone numbers' },
  { kind: EntityKind.NAME, id: 'name', name: 'Names' },
] as const;

/** Occurrences at which an entity dimension reaches 0.5. */
export const ENTITY_HALF_OCCURRENCES = 16;

/**
 * The value of `n` occurrences on an entity dimension:
 * `ln(1+n) / (ln(1+n) + ln(1+16))`, 0 at none, 0.5 at 16, below 1 for every
 * finite `n`, so it always lies in the dimension's range `[0, 1)`.
 */
export function entityScore(occurrences: number): number {
  const scaled = Math.log1p(occurrences);
  return scaled / (scaled + Math.log1p(ENTITY_HALF_OCCURRENCES));
}

/** A document's point in the entity space: per kind, the score of its occurrences (the sum of its entities' counts). */
export function entityProfile(entities: readonly Entity[]): number[] {
  return ENTITY_DIMENSIONS.map(({ kind }) =>
    entityScore(
      entities.reduce(
        (sum, entity) => (entity.kind === kind ? sum + entity.count : sum),
        0,
      ),
    ),
  );
}

/** The command that creates the well-known document entity space. */
export const createDocumentEntitySpace = (): CommandBody =>
  createWellKnownSpace(
    DOCUMENT_ENTITY_SPACE_ID,
    'Document entities',
    ENTITY_DIMENSIONS,
  );

/**
 * Document EntitiesExtracted → document concepts (README, "Documents as
 * concepts"): each analysed document is a point of the well-known space
 * `document-entities`, its profile over entity kinds; the entity text,
 * sealed personal data, is not read. Every such event asks for the space,
 * adds the document's concept and moves it, each carrying the document
 * version: the first extraction adds (the move is then a no-op), a later
 * one moves (the add is refused as ALREADY_EXISTS), and a redelivered one
 * changes nothing. Pure: one event in, commands out.
 */
export const documentEntityConceptsReaction: Reaction<ConceptualspacesCommand> =
  {
    name: 'document-entity-concepts',
    source: { domain: 'document', event: DocumentEventSchema },
    events: ['EntitiesExtracted'],
    react(event: Message, meta: ForeignEventMeta): CommandBody[] {
      const { body } = event as DocumentEvent;
      if (body.case !== 'entitiesExtracted') return [];
      const documentId = meta.aggregateId;
      const coordinates = entityProfile(body.value.entities);
      return [
        createDocumentEntitySpace(),
        {
          case: 'addConcept',
          value: create(AddConceptSchema, {
            conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
            conceptId: documentId,
            coordinates,
            sourceRef: `document:${documentId}`,
            sourceVersion: meta.version,
          }),
        },
        {
          case: 'moveConcept',
          value: create(MoveConceptSchema, {
            conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
            conceptId: documentId,
            coordinates,
            sourceVersion: meta.version,
          }),
        },
      ];
    },
  };

/** The command message a reaction body becomes, for tests that decide it directly. */
export function reactionCommand(
  body: CommandBody,
  commandId: string,
): ConceptualspacesCommand {
  return create(ConceptualspacesCommandSchema, { meta: { commandId }, body });
}
