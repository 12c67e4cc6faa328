import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ErrorCode } from '@cim/kernel';
import {
  GraphEventSchema,
  GraphType,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { ForeignEventMeta } from '@cim/service';
import { conceptualspacesDecider } from '../src/domain/index.js';
import { isAbstractNodeType } from '../src/domain/graph-features.js';
import {
  GRAPH_SPACE_ID,
  graphChangeOf,
  graphConceptsReaction,
  reactionCommand,
  typeAbstraction,
} from '../src/reactions.js';
import { stateOf } from './fixtures.js';

type Body = NonNullable<MessageInitShape<typeof GraphEventSchema>['body']>;
const graphEvent = (body: Body): GraphEvent =>
  create(GraphEventSchema, { body });

function meta(version: number, graphId = 'g1'): ForeignEventMeta {
  return {
    domain: 'graph',
    eventType: 'X',
    aggregateId: graphId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `e${version}`,
    commandId: 'c',
    correlationId: 'c',
    actor: 'user:test',
    occurredAtMs: 0,
  };
}

const created = graphEvent({
  case: 'created',
  value: {
    graphId: 'g1',
    name: 'Ideas',
    description: 'notes',
    graphType: GraphType.KNOWLEDGE,
    tags: ['a', 'b'],
    metadata: { owner: 'x' },
  },
});

describe('graph concepts reaction', () => {
  it('creates the graph space and places the graph on its first event', () => {
    const bodies = graphConceptsReaction.react(created, meta(1));
    expect(bodies.map((b) => b.case)).toEqual(['create', 'placeGraphConcept']);
    const [space, place] = bodies;
    expect(space?.case === 'create' && space.value.conceptualspacesId).toBe(
      GRAPH_SPACE_ID,
    );
    expect(
      place?.case === 'placeGraphConcept' && [
        place.value.graphId,
        place.value.graphVersion,
      ],
    ).toEqual(['g1', 1n]);
    expect(
      place?.case === 'placeGraphConcept' && place.value.change?.kind,
    ).toEqual({
      case: 'created',
      value: expect.objectContaining({
        name: 'Ideas',
        typeAbstraction: 1,
        tagCount: 2,
        metadataKeys: 1,
        described: true,
      }),
    });
  });

  it('places the graph again for every later event, with that event’s version', () => {
    const bodies = graphConceptsReaction.react(
      graphEvent({
        case: 'nodeAdded',
        value: {
          graphId: 'g1',
          nodeId: 'n1',
          nodeType: 'Concept',
          label: 'x',
          metadata: { a: 1, b: 2 },
        },
      }),
      meta(7),
    );
    expect(bodies).toHaveLength(1);
    const [place] = bodies;
    expect(
      place?.case === 'placeGraphConcept' && place.value.graphVersion,
    ).toBe(7n);
    expect(
      place?.case === 'placeGraphConcept' && place.value.change?.kind,
    ).toEqual({
      case: 'nodeAdded',
      value: expect.objectContaining({
        nodeId: 'n1',
        abstract: true,
        labelled: true,
        metadataKeys: 2,
      }),
    });
  });

  it('ignores an event from a newer graph schema', () => {
    expect(
      graphConceptsReaction.react(create(GraphEventSchema, {}), meta(2)),
    ).toEqual([]);
  });

  it.each([
    [
      'updated',
      'updated',
      {
        case: 'updated',
        value: { graphId: 'g1', tags: { values: ['x'] }, description: ' ' },
      },
    ],
    [
      'statusChanged',
      'touched',
      { case: 'statusChanged', value: { graphId: 'g1' } },
    ],
    ['archived', 'touched', { case: 'archived', value: { graphId: 'g1' } }],
    ['imported', 'imported', { case: 'imported', value: { graphId: 'g1' } }],
    [
      'nodeUpdated',
      'nodeUpdated',
      { case: 'nodeUpdated', value: { graphId: 'g1', nodeId: 'n1' } },
    ],
    [
      'nodeRemoved',
      'nodeRemoved',
      { case: 'nodeRemoved', value: { graphId: 'g1', nodeId: 'n1' } },
    ],
    [
      'edgeAdded',
      'edgeAdded',
      {
        case: 'edgeAdded',
        value: {
          graphId: 'g1',
          edgeId: 'e1',
          source: 'a',
          target: 'b',
          edgeType: 't',
        },
      },
    ],
    [
      'edgeUpdated',
      'edgeUpdated',
      {
        case: 'edgeUpdated',
        value: { graphId: 'g1', edgeId: 'e1', weight: 2 },
      },
    ],
    [
      'edgeRemoved',
      'edgeRemoved',
      { case: 'edgeRemoved', value: { graphId: 'g1', edgeId: 'e1' } },
    ],
  ] as const)('reads %s as the change %s', (_, kind, body) => {
    expect(graphChangeOf(graphEvent(body as Body))?.kind?.case).toBe(kind);
  });

  it('reads only the parts of an update that changed', () => {
    expect(
      graphChangeOf(
        graphEvent({
          case: 'updated',
          value: { graphId: 'g1', tags: { values: ['x'] }, description: ' ' },
        }),
      )?.kind,
    ).toEqual({
      case: 'updated',
      value: { tagCount: 1, described: false },
    });
    expect(
      graphChangeOf(
        graphEvent({
          case: 'edgeUpdated',
          value: { graphId: 'g1', edgeId: 'e1', weight: 2 },
        }),
      )?.kind,
    ).toEqual({
      case: 'edgeUpdated',
      value: { edgeId: 'e1', related: false },
    });
  });

  it('rates graph types and node types for abstractness', () => {
    expect(
      [
        GraphType.KNOWLEDGE,
        GraphType.DOMAIN_MODEL,
        GraphType.GENERIC,
        GraphType.EVENT_FLOW,
        GraphType.WORKFLOW,
        GraphType.DEVELOPMENT,
      ].map(typeAbstraction),
    ).toEqual([1, 1, 0.5, 0.25, 0, 0]);
    expect(
      ['Concept', ' topic ', 'task', 'service'].map(isAbstractNodeType),
    ).toEqual([true, true, false, false]);
  });

  it('turns a graph history into exact counters, redelivered events included', () => {
    const history: GraphEvent[] = [
      created,
      graphEvent({
        case: 'nodeAdded',
        value: { graphId: 'g1', nodeId: 'a', nodeType: 'concept' },
      }),
      graphEvent({
        case: 'nodeAdded',
        value: { graphId: 'g1', nodeId: 'b', nodeType: 'task', label: 'B' },
      }),
      graphEvent({
        case: 'edgeAdded',
        value: {
          graphId: 'g1',
          edgeId: 'ab',
          source: 'a',
          target: 'b',
          edgeType: 't',
        },
      }),
      graphEvent({
        case: 'edgeRemoved',
        value: { graphId: 'g1', edgeId: 'ab', source: 'a', target: 'b' },
      }),
      graphEvent({
        case: 'nodeRemoved',
        value: { graphId: 'g1', nodeId: 'a' },
      }),
    ];
    const deliveries = [...history.keys(), 2, 4, 0];
    let events = [] as ReturnType<typeof conceptualspacesDecider.decide>;
    let state = conceptualspacesDecider.initialState();
    deliveries.forEach((i, n) => {
      for (const body of graphConceptsReaction.react(
        history[i]!,
        meta(i + 1),
      )) {
        try {
          const decided = conceptualspacesDecider.decide(
            reactionCommand(
              body,
              `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
            ),
            state,
          );
          events = [...events, ...decided];
          state = decided.reduce(conceptualspacesDecider.evolve, state);
        } catch (error) {
          // The space exists after the first delivery: a second create is refused.
          expect((error as { code: ErrorCode }).code).toBe(
            ErrorCode.ALREADY_EXISTS,
          );
        }
      }
    });
    const graph = stateOf(events);
    const tracking =
      graph.status === 'active' ? graph.graphs.get('g1') : undefined;
    expect(tracking?.applied).toBe(6n);
    expect([
      tracking?.nodes.size,
      tracking?.edges.size,
      tracking?.abstractNodes,
      tracking?.events,
      tracking?.changes,
    ]).toEqual([1, 0, 0, 6, 2]);
    expect(graph.status === 'active' && graph.concepts.get('g1')?.label).toBe(
      'Ideas',
    );
  });
});
