import { describe, expect, it } from '@jest/globals';
import {
  create,
  type JsonObject,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { DomainError, ErrorCode, isSubjectToken } from '@cim/kernel';
import type { ConceptualspacesCommand } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  DocumentEventSchema,
  EntityKind,
  EntitySchema,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  GraphEventSchema,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { ForeignEventMeta } from '@cim/service';
import { conceptualspacesDecider } from '../src/domain/index.js';
import type { SpaceState } from '../src/domain/state.js';
import {
  DOCUMENT_ENTITY_SPACE_ID,
  ENTITY_DIMENSIONS,
  NODE_SPACE_KEY,
  documentEntityConceptsReaction,
  entityProfile,
  entityScore,
  graphNodeConceptId,
  graphNodeConceptsReaction,
  reactionCommand,
} from '../src/reactions.js';
import { dim, evt, stateOf } from './fixtures.js';

type GraphBody = NonNullable<MessageInitShape<typeof GraphEventSchema>['body']>;
type DocumentBody = NonNullable<
  MessageInitShape<typeof DocumentEventSchema>['body']
>;
type Body = ConceptualspacesCommand['body'];

const graphEvent = (body: GraphBody): GraphEvent =>
  create(GraphEventSchema, { body });
const documentEvent = (body: DocumentBody): DocumentEvent =>
  create(DocumentEventSchema, { body });

function meta(
  domain: string,
  aggregateId: string,
  version: number,
): ForeignEventMeta {
  return {
    domain,
    eventType: 'X',
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `e${version}`,
    commandId: 'c',
    correlationId: 'c',
    actor: 'user:test',
    occurredAtMs: 0,
  };
}

/** What deciding one body answers: its events' cases, or the refusal's code. */
type Outcome = string[] | ErrorCode;

/**
 * Decides `bodies` one after another, as the runtime runs a reaction's
 * commands for one aggregate, folding the events of each into the state.
 */
function run(
  state: SpaceState,
  bodies: readonly Body[],
): { state: SpaceState; outcomes: Outcome[] } {
  const outcomes: Outcome[] = [];
  for (const [i, body] of bodies.entries()) {
    try {
      const events = conceptualspacesDecider.decide(
        reactionCommand(body, `cmd-${i}`),
        state,
      );
      outcomes.push(events.map((e) => e.body.case ?? ''));
      state = events.reduce(conceptualspacesDecider.evolve, state);
    } catch (error) {
      if (!DomainError.is(error)) throw error;
      outcomes.push(error.code);
    }
  }
  return { state, outcomes };
}

const conceptOf = (state: SpaceState, conceptId: string) =>
  state.status === 'absent' ? undefined : state.concepts.get(conceptId);

type NodeFields = Omit<
  Extract<GraphBody, { case: 'nodeAdded' }>['value'],
  '$typeName'
>;

describe('graph node concepts reaction', () => {
  const nodeAdded = (fields: NodeFields = {}) =>
    graphEvent({
      case: 'nodeAdded',
      value: {
        graphId: 'g1',
        nodeId: 'n1',
        nodeType: 'idea',
        label: 'Ada',
        metadata: { [NODE_SPACE_KEY]: 'embeddings', page: 3 },
        conceptualPoint: [0.1, 0.2, 0.3],
        ...fields,
      },
    });
  const react = (event: GraphEvent, version = 4) =>
    graphNodeConceptsReaction.react(event, meta('graph', 'g1', version));
  const embeddings = [
    evt.created({
      conceptualspacesId: 'embeddings',
      dimensions: [
        dim.continuous('a', 0, 1),
        dim.continuous('b', 0, 1),
        dim.continuous('c', 0, 1),
      ],
    }),
  ];

  describe('when a node is added with a point and a space', () => {
    it('adds it as a concept of that space, without its label', () => {
      const [add, ...rest] = react(nodeAdded());
      expect(rest).toEqual([]);
      expect(add?.case).toBe('addConcept');
      expect(add?.value).toMatchObject({
        conceptualspacesId: 'embeddings',
        conceptId: graphNodeConceptId('g1', 'n1'),
        coordinates: [0.1, 0.2, 0.3],
        sourceRef: 'graph:g1/node:n1',
        sourceVersion: 4n,
      });
      expect(add?.case === 'addConcept' && add.value.label).toBeUndefined();
    });
    it('is accepted once, then refused with ALREADY_EXISTS', () => {
      const bodies = react(nodeAdded());
      const first = run(stateOf(embeddings), bodies);
      expect(first.outcomes).toEqual([['conceptAdded']]);
      expect(
        conceptOf(first.state, graphNodeConceptId('g1', 'n1'))?.coordinates,
      ).toEqual([0.1, 0.2, 0.3]);
      expect(run(first.state, bodies).outcomes).toEqual([
        ErrorCode.ALREADY_EXISTS,
      ]);
    });
    it('is refused with VALIDATION_FAILED when the arity does not match the space', () => {
      const bodies = react(nodeAdded({ conceptualPoint: [0.1, 0.2] }));
      expect(run(stateOf(embeddings), bodies).outcomes).toEqual([
        ErrorCode.VALIDATION_FAILED,
      ]);
    });
    it('is refused with NOT_FOUND when the space does not exist', () => {
      expect(run(stateOf([]), react(nodeAdded())).outcomes).toEqual([
        ErrorCode.NOT_FOUND,
      ]);
    });
  });

  describe('when the node does not qualify', () => {
    it.each<[string, NodeFields]>([
      ['no conceptual point', { conceptualPoint: [] }],
      ['no metadata', { metadata: undefined }],
      ['no space key', { metadata: { page: 3 } }],
      ['an empty space id', { metadata: { [NODE_SPACE_KEY]: '' } }],
      [
        'a space id that is not a string',
        { metadata: { [NODE_SPACE_KEY]: 7 } },
      ],
    ])('sends nothing for %s', (_, fields) => {
      expect(react(nodeAdded(fields))).toEqual([]);
    });
    it("removes a removed node's concept from the space its last metadata names", () => {
      const removed = (metadata?: JsonObject) =>
        react(
          graphEvent({
            case: 'nodeRemoved',
            value: { graphId: 'g1', nodeId: 'n1', metadata },
          }),
        );
      expect(removed({ [NODE_SPACE_KEY]: 'colours' })).toEqual([
        {
          case: 'removeConcept',
          value: expect.objectContaining({
            conceptualspacesId: 'colours',
            conceptId: graphNodeConceptId('g1', 'n1'),
          }),
        },
      ]);
      expect(removed()).toEqual([]);
      expect(removed({ [NODE_SPACE_KEY]: '' })).toEqual([]);
    });
    it('sends nothing for other graph events', () => {
      expect(
        react(
          graphEvent({
            case: 'imported',
            value: { graphId: 'g1', nodeCount: 3 },
          }),
        ),
      ).toEqual([]);
      expect(react(graphEvent({ case: 'created', value: {} }))).toEqual([]);
      expect(react(create(GraphEventSchema, {}))).toEqual([]);
    });
    it('receives only NodeAdded and NodeRemoved events', () => {
      expect(graphNodeConceptsReaction.events).toEqual([
        'NodeAdded',
        'NodeRemoved',
      ]);
    });
  });

  describe('graphNodeConceptId', () => {
    it('is deterministic, distinct per graph and node, and a valid id for the longest ids', () => {
      const long = 'x'.repeat(128);
      const id = graphNodeConceptId(long, long);
      expect(isSubjectToken(id)).toBe(true);
      expect(graphNodeConceptId('g1', 'n1')).toBe(
        graphNodeConceptId('g1', 'n1'),
      );
      expect(
        new Set([
          graphNodeConceptId('g1', 'n1'),
          graphNodeConceptId('g1', 'n2'),
          graphNodeConceptId('g2', 'n1'),
          graphNodeConceptId('g1-n', '1'),
        ]).size,
      ).toBe(4);
    });
  });
});

describe('document entity concepts reaction', () => {
  const entity = (kind: EntityKind, count: number) =>
    create(EntitySchema, { kind, text: `secret ${kind}`, count });
  const extracted = (...entities: ReturnType<typeof entity>[]) =>
    documentEvent({
      case: 'entitiesExtracted',
      value: { documentId: 'd1', contentCid: 'b1', entities },
    });
  const react = (event: DocumentEvent, version: number) =>
    documentEntityConceptsReaction.react(
      event,
      meta('document', 'd1', version),
    );
  const first = extracted(
    entity(EntityKind.EMAIL, 2),
    entity(EntityKind.EMAIL, 1),
    entity(EntityKind.NAME, 16),
  );
  const second = extracted(entity(EntityKind.URL, 5));

  describe('entityScore', () => {
    it('is 0 at none, 0.5 at 16 and rises with the occurrences', () => {
      expect(entityScore(0)).toBe(0);
      expect(entityScore(16)).toBeCloseTo(0.5, 12);
      const scores = [0, 1, 2, 5, 16, 100, 10_000].map(entityScore);
      scores.slice(1).forEach((s, i) => expect(s).toBeGreaterThan(scores[i]!));
    });
    it('stays below 1 for every count a document can hold', () => {
      for (const n of [2 ** 32 - 1, 2 ** 32 * 10_000, Number.MAX_VALUE]) {
        expect(entityScore(n)).toBeGreaterThanOrEqual(0);
        expect(entityScore(n)).toBeLessThan(1);
      }
    });
  });

  describe('entityProfile', () => {
    it('scores the occurrences of each kind, in dimension order', () => {
      expect(ENTITY_DIMENSIONS.map((d) => d.id)).toEqual([
        'email',
        'url',
        'date',
        'phone',
        'name',
      ]);
      expect(
        entityProfile([
          entity(EntityKind.EMAIL, 2),
          entity(EntityKind.EMAIL, 1),
          entity(EntityKind.PHONE, 4),
          entity(EntityKind.UNSPECIFIED, 9),
        ]),
      ).toEqual([entityScore(3), 0, 0, entityScore(4), 0]);
      expect(entityProfile([])).toEqual([0, 0, 0, 0, 0]);
    });
  });

  describe('when entities are extracted', () => {
    it('asks for the space, then adds and moves the document with its version', () => {
      const bodies = react(first, 6);
      expect(bodies.map((b) => b.case)).toEqual([
        'create',
        'addConcept',
        'moveConcept',
      ]);
      const point = [entityScore(3), 0, 0, 0, 0.5];
      expect(bodies[0]?.value).toMatchObject({
        conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
      });
      expect(bodies[1]?.value).toMatchObject({
        conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
        conceptId: 'd1',
        sourceRef: 'document:d1',
        sourceVersion: 6n,
      });
      expect(bodies[2]?.value).toMatchObject({
        conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
        conceptId: 'd1',
        sourceVersion: 6n,
      });
      for (const body of bodies.slice(1)) {
        const value = body.value as { coordinates: number[] };
        value.coordinates.forEach((x, i) => expect(x).toBeCloseTo(point[i]!));
      }
    });
    it('never reads the entity text', () => {
      expect(
        JSON.stringify(react(first, 6), (_, v: unknown) =>
          typeof v === 'bigint' ? String(v) : v,
        ),
      ).not.toContain('secret');
    });
    it('sends nothing for other document events', () => {
      expect(
        react(
          documentEvent({
            case: 'summaryGenerated',
            value: { documentId: 'd1' },
          }),
          6,
        ),
      ).toEqual([]);
      expect(react(create(DocumentEventSchema, {}), 6)).toEqual([]);
      expect(documentEntityConceptsReaction.events).toEqual([
        'EntitiesExtracted',
      ]);
    });
  });

  describe('when the decider applies them', () => {
    const added = run(stateOf([]), react(first, 6));

    it('creates the space and adds the document on the first extraction', () => {
      expect(added.outcomes).toEqual([['created'], ['conceptAdded'], []]);
      expect(conceptOf(added.state, 'd1')?.coordinates).toEqual(
        entityProfile(
          first.body.case === 'entitiesExtracted'
            ? first.body.value.entities
            : [],
        ),
      );
    });
    it('moves the document on a later extraction', () => {
      const moved = run(added.state, react(second, 9));
      expect(moved.outcomes).toEqual([
        ErrorCode.ALREADY_EXISTS,
        ErrorCode.ALREADY_EXISTS,
        ['conceptMoved'],
      ]);
      expect(conceptOf(moved.state, 'd1')?.coordinates).toEqual([
        0,
        entityScore(5),
        0,
        0,
        0,
      ]);
      expect(moved.state.status === 'active' && moved.state.concepts.size).toBe(
        1,
      );
    });
    it('changes nothing when an extraction is delivered again, even an older one', () => {
      const moved = run(added.state, react(second, 9)).state;
      for (const [event, version] of [
        [first, 6],
        [second, 9],
      ] as const) {
        const again = run(moved, react(event, version));
        expect(again.outcomes).toEqual([
          ErrorCode.ALREADY_EXISTS,
          ErrorCode.ALREADY_EXISTS,
          [],
        ]);
        expect(again.state).toBe(moved);
      }
    });
    it('refuses a later extraction with the same profile with INVALID_TRANSITION', () => {
      expect(run(added.state, react(first, 8)).outcomes[2]).toBe(
        ErrorCode.INVALID_TRANSITION,
      );
    });
    it('is refused with VALIDATION_FAILED when the space has another arity', () => {
      const other = stateOf([
        evt.created({
          conceptualspacesId: DOCUMENT_ENTITY_SPACE_ID,
          dimensions: [dim.continuous('a', 0, 1), dim.continuous('b', 0, 1)],
        }),
      ]);
      expect(run(other, react(first, 6)).outcomes).toEqual([
        ErrorCode.ALREADY_EXISTS,
        ErrorCode.VALIDATION_FAILED,
        ErrorCode.NOT_FOUND,
      ]);
    });
  });
});
