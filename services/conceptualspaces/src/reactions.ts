import {
  create,
  type Message,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  ConceptualspacesCommandSchema,
  CreateConceptualSpaceSchema,
  DimensionKind,
  PlaceGraphConceptSchema,
  type ConceptualspacesCommand,
  type GraphChangeSchema,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
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

/** The command that creates the well-known graph space (refused as ALREADY_EXISTS once it exists). */
export function createGraphSpace(): CommandBody {
  return {
    case: 'create',
    value: create(CreateConceptualSpaceSchema, {
      conceptualspacesId: GRAPH_SPACE_ID,
      name: 'Graphs',
      dimensions: GRAPH_FEATURES.map(({ id, name }) => ({
        dimensionId: id,
        name,
        kind: DimensionKind.CONTINUOUS,
        min: 0,
        max: 1,
      })),
      metric: { minkowskiP: 2 },
    }),
  };
}

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

/** The command message a reaction body becomes, for tests that decide it directly. */
export function reactionCommand(
  body: CommandBody,
  commandId: string,
): ConceptualspacesCommand {
  return create(ConceptualspacesCommandSchema, { meta: { commandId }, body });
}
