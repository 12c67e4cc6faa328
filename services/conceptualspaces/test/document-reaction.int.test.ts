import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { contentCid, defineDocumentService } from '@cim/document';
import { uuidv7 } from '@cim/kernel';
import {
  ConceptualspacesCommandService,
  ConceptualspacesQueryService,
  DimensionKind,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { DocumentCommandService } from '@cim/proto/cim/document/v1/document_pb';
import type { RunningService } from '@cim/service';
import {
  eventually,
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { DOCUMENT_ENTITY_SPACE_ID, entityScore } from '../src/reactions.js';
import { conceptualspacesService } from '../src/service.js';
import { spaceState } from './space-state.js';

const docCmd = DocumentCommandService.method;
const cmd = ConceptualspacesCommandService.method;
const qry = ConceptualspacesQueryService.method;
const CONSUMER = 'cim-conceptualspaces-document-entity-concepts';
const OWNER = 'user:owner';
const SPACE = DOCUMENT_ENTITY_SPACE_ID;

const text = (s: string) => new TextEncoder().encode(s);

/** Two services over one NATS server: documents and conceptual spaces. */
function fleet() {
  const handles = {} as {
    server: NatsServerHandle;
    nc: NatsConnection;
    jsm: JetStreamManager;
    documents: RunningService;
    spaces: RunningService;
  };
  const startSpaces = (options: { resultCacheSize?: number } = {}) =>
    conceptualspacesService.start({
      nc: handles.nc,
      log: testLogger(),
      ...options,
    });
  beforeAll(async () => {
    handles.server = await startNatsServer();
    handles.nc = await connect({ servers: handles.server.url });
    handles.jsm = await jetstreamManager(handles.nc);
    handles.spaces = await startSpaces();
    handles.documents = await defineDocumentService({}).start({
      nc: handles.nc,
      log: testLogger(),
    });
  });
  afterAll(async () => {
    await handles.spaces.stop();
    await handles.documents.stop();
    await handles.nc.close();
    await handles.server.stop();
  });

  /** Ingests `content` as a new promoted text document; answers its id and head. */
  async function promoted(content: string) {
    const bytes = text(content);
    const result = await sendCommand(
      handles.nc,
      docCmd.ingestDocumentContent,
      {
        content: bytes,
        hints: { title: 'doc', mimeType: 'text/plain' },
        processing: { autoPromote: true },
      },
      { actor: OWNER },
    );
    return { documentId: result.aggregateId, cid: contentCid(bytes) };
  }
  const extract = (documentId: string, cid: string) =>
    sendCommand(handles.nc, docCmd.extractEntities, {
      documentId,
      contentCid: cid,
    });
  const concepts = () =>
    sendQuery(handles.nc, qry.listConcepts, { conceptualspacesId: SPACE });
  return { handles, startSpaces, promoted, extract, concepts };
}

/**
 * Makes content unique without adding an entity to it: letters only, since
 * a uuid's hex groups are now and then all digits and read as a phone number.
 */
const unique = () =>
  uuidv7()
    .replace(/-/g, '')
    .replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!);

const mails =
  'Write to ada@example.com or bob@example.com, or to ada@example.com.';
const links =
  'See https://example.com/a and https://example.com/b on 2024-02-29.';

describe('documents with extracted entities become concepts', () => {
  const { handles, startSpaces, promoted, extract, concepts } = fleet();
  let a: string;
  let b: string;
  let c: string;
  let aHead: string;

  /** Waits until every document named has its concept at the expected point. */
  const placedAt = (expected: Record<string, number[]>) => {
    // What the last poll saw, for the message if it gives up.
    let seen = 'nothing yet';
    return eventually(
      async () => {
        const { concepts: listed } = await concepts().catch(
          (error: unknown) => {
            seen = `an error: ${String(error)}`;
            return { concepts: [] };
          },
        );
        if (listed.length > 0)
          seen = JSON.stringify(
            listed.map((x) => [x.conceptId, x.coordinates]),
          );
        const at = new Map(listed.map((x) => [x.conceptId, x.coordinates]));
        return Object.entries(expected).every(
          ([id, point]) =>
            at.get(id)?.every((v, i) => Math.abs(v - point[i]!) < 1e-12) ===
            true,
        )
          ? listed
          : undefined;
      },
      () => `the documents to be placed (last seen: ${seen})`,
    );
  };

  const mailProfile = [entityScore(3), 0, 0, 0, 0];

  beforeAll(async () => {
    const first = await promoted(`${mails} ${unique()}`);
    const second = await promoted(`${mails} ${unique()}`);
    const third = await promoted(`${links} ${unique()}`);
    [a, b, c] = [first.documentId, second.documentId, third.documentId];
    aHead = first.cid;
    for (const { documentId, cid } of [first, second, third]) {
      await extract(documentId, cid);
    }
  });

  it('places every analysed document at its entity profile', async () => {
    const listed = await placedAt({
      [a]: mailProfile,
      [b]: mailProfile,
      [c]: [0, entityScore(2), entityScore(1), 0, 0],
    });
    expect(listed).toHaveLength(3);
    expect(listed.find((x) => x.conceptId === a)?.sourceRef).toBe(
      `document:${a}`,
    );
    const info = await sendQuery(handles.nc, qry.spaceInfo, {
      conceptualspacesId: SPACE,
    });
    expect(info.space?.dimensions.map((d) => d.dimensionId)).toEqual([
      'email',
      'url',
      'date',
      'phone',
      'name',
    ]);
    const similar = await sendQuery(handles.nc, qry.findSimilar, {
      conceptualspacesId: SPACE,
      target: { kind: { case: 'conceptId', value: a } },
      k: 2,
    });
    expect(similar.matches.map((m) => m.conceptId)).toEqual([b, c]);
  });

  it('moves a document when a new head is analysed', async () => {
    await placedAt({ [a]: mailProfile });
    // Stored by ingesting it as another document; then a's head moves to it.
    const stored = await promoted(`${links} ${unique()}`);
    await sendCommand(
      handles.nc,
      docCmd.editDocument,
      {
        documentId: a,
        expectedHeadCid: aHead,
        successorCid: stored.cid,
        edit: { case: 'direct', value: {} },
      },
      { actor: OWNER },
    );
    await sendCommand(handles.nc, docCmd.promoteDocumentContent, {
      documentId: a,
      reason: 'edited',
    });
    await extract(a, stored.cid);
    const listed = await placedAt({
      [a]: [0, entityScore(2), entityScore(1), 0, 0],
    });
    expect(listed.filter((x) => x.conceptId === a)).toHaveLength(1);
  });

  it('changes nothing when every document event is delivered again', async () => {
    const { jsm, nc } = handles;
    await consumerSettled(nc, 'document', CONSUMER);
    const snapshot = () => spaceState(nc, SPACE);
    const before = await snapshot();

    // A fresh durable consumer starts from the first document event again;
    // with a results cache of one entry the space itself must recognise the
    // repeats, the older extraction of a moved document included.
    await handles.spaces.stop();
    await jsm.consumers.delete('CIM_DOCUMENT', CONSUMER);
    handles.spaces = await startSpaces({ resultCacheSize: 1 });
    const consumer = await consumerSettled(nc, 'document', CONSUMER);
    expect(consumer.num_redelivered).toBe(0);

    expect(await snapshot()).toEqual(before);
  });
});

describe('a document entity space of another arity', () => {
  const { handles, promoted, extract, concepts } = fleet();

  it('refuses the documents and acknowledges their events without retrying', async () => {
    // The well-known space already exists with two dimensions, not five.
    await sendCommand(handles.nc, cmd.createConceptualSpace, {
      conceptualspacesId: SPACE,
      name: 'Too few',
      dimensions: ['email', 'url'].map((id) => ({
        dimensionId: id,
        name: id,
        kind: DimensionKind.CONTINUOUS,
        min: 0,
        max: 1,
      })),
    });
    const { documentId, cid } = await promoted(`${mails} ${unique()}`);
    await extract(documentId, cid);
    const consumer = await consumerSettled(handles.nc, 'document', CONSUMER);
    expect(consumer.num_redelivered).toBe(0);
    // The space's read model at its creation, so an empty list means nothing was placed.
    const info = await sendQuery(handles.nc, qry.spaceInfo, {
      conceptualspacesId: SPACE,
      minVersion: 1n,
    });
    expect(info.space?.version).toBe(1n);
    expect((await concepts()).concepts).toEqual([]);
  });
});
