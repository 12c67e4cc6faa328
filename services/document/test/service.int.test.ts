import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { DomainError, ErrorCode, decodeCommit, uuidv7 } from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import {
  ChangeKind,
  ContentState,
  DocumentCommandService,
  DocumentEventSchema,
  DocumentQueryService,
  DocumentStatus,
  DocumentType,
  EntityKind,
  LinkType,
  type IngestDocumentContentSchema,
  Partition,
  Permission,
  ProcessingStage,
} from '@cim/proto/cim/document/v1/document_pb';
import { ERASED, type RunningService } from '@cim/service';
import { AggregateLoader } from '@cim/service/internal';
import {
  consumerSettled,
  countCommits,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
  rejection,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { CONTENT_BUCKET, contentCid } from '../src/content-store.js';
import { documentDecider } from '../src/domain/index.js';
import { defineDocumentService } from '../src/service.js';

const cmd = DocumentCommandService.method;
const qry = DocumentQueryService.method;

/** The content limit the service runs with here; a request this size fits the test server's 1 MiB max_payload. */
const LIMIT = 256 * 1024;
const STREAM = 'CIM_DOCUMENT';
const OWNER = 'user:owner';

const text = (s: string) => new TextEncoder().encode(s);

describe('document service over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  let objects: ObjectStore;
  const service = defineDocumentService({ maxContentBytes: LIMIT });
  const start = () => service.start({ nc, log: testLogger() });

  const commitsOf = (documentId: string) =>
    countCommits(nc, 'document', documentId);
  const totalCommits = () => countCommits(nc, 'document');

  async function objectMessages(): Promise<number> {
    return (await objects.status()).streamInfo.state.messages;
  }

  async function ingest(
    content: Uint8Array,
    fields: Exclude<
      MessageInitShape<typeof IngestDocumentContentSchema>,
      { $typeName: string }
    > = {},
    actor = OWNER,
  ) {
    return sendCommand(
      nc,
      cmd.ingestDocumentContent,
      { content, hints: { title: 'doc', mimeType: 'text/plain' }, ...fields },
      { actor },
    );
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await start();
    // The service creates the bucket at start-up; create() opens it, or creates it the same way first.
    objects = await new Objm(nc).create(CONTENT_BUCKET);
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  describe('IngestDocumentContent', () => {
    it('stores the bytes under their CID and commits a draft document that names it', async () => {
      const bytes = text(`report ${uuidv7()}`);
      const result = await ingest(bytes);
      const cid = contentCid(bytes);
      expect(await commitsOf(result.aggregateId)).toBe(1);
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId: result.aggregateId,
        minVersion: result.version,
      });
      expect(document).toMatchObject({
        headCid: cid,
        sizeBytes: BigInt(bytes.length),
        status: DocumentStatus.DRAFT,
        contentState: ContentState.STAGED,
        partition: Partition.STAGING,
        owner: OWNER,
        mimeType: 'text/plain',
      });
      const content = await sendQuery(nc, qry.getContent, { contentCid: cid });
      expect(content.data).toEqual(bytes);
      expect(content.totalSize).toBe(BigInt(bytes.length));
    });

    it('stores the same bytes once: same CID, one object', async () => {
      const bytes = text(`shared ${uuidv7()}`);
      const cid = contentCid(bytes);
      const first = await ingest(bytes);
      const stored = await objects.info(cid);
      const second = await ingest(bytes);
      expect(second.aggregateId).not.toBe(first.aggregateId);
      expect((await objects.info(cid))?.revision).toBe(stored?.revision);
      const names = (await objects.list()).filter((o) => o.name === cid);
      expect(names).toHaveLength(1);
      const heads = await Promise.all(
        [first, second].map((r) =>
          sendQuery(nc, qry.getDocument, {
            documentId: r.aggregateId,
            minVersion: r.version,
          }),
        ),
      );
      expect(heads.map((h) => h.document?.headCid)).toEqual([cid, cid]);
      const holders = await sendQuery(nc, qry.documentsByContentCid, {
        contentCid: cid,
      });
      expect(
        holders.documents.map((d) => d.document?.documentId).sort(),
      ).toEqual([first.aggregateId, second.aggregateId].sort());
      expect(holders.documents.every((d) => d.isHead)).toBe(true);
    });

    it('stores bytes ingested concurrently by several requests once', async () => {
      const bytes = randomBytes(200 * 1024);
      const cid = contentCid(bytes);
      const results = await Promise.all(
        Array.from({ length: 4 }, () => ingest(bytes)),
      );
      expect(new Set(results.map((r) => r.aggregateId)).size).toBe(4);
      expect((await objects.list()).filter((o) => o.name === cid)).toHaveLength(
        1,
      );
      const content = await sendQuery(nc, qry.getContent, { contentCid: cid });
      expect(Buffer.compare(content.data, bytes)).toBe(0);
    });

    it('keeps content bytes out of every event', async () => {
      const marker = `MARKER-${uuidv7()}`;
      const result = await ingest(text(marker.repeat(50)));
      const jsm = await jetstreamManager(nc);
      const needle = Buffer.from(marker);
      const { first_seq, last_seq } = (await jsm.streams.info(STREAM)).state;
      let scanned = 0;
      for (let seq = first_seq; seq <= last_seq; seq++) {
        const msg = await jsm.streams.getMessage(STREAM, { seq });
        if (msg === null) continue;
        scanned++;
        expect(Buffer.from(msg.data).includes(needle)).toBe(false);
      }
      expect(scanned).toBeGreaterThan(0);
      expect(await commitsOf(result.aggregateId)).toBe(1);
      // The marker is findable where the bytes do belong: the object store's stream.
      const objectStream = (await objects.status()).streamInfo;
      let found = false;
      for (
        let seq = objectStream.state.first_seq;
        seq <= objectStream.state.last_seq && !found;
        seq++
      ) {
        const msg = await jsm.streams.getMessage(objectStream.config.name, {
          seq,
        });
        found = msg !== null && Buffer.from(msg.data).includes(needle);
      }
      expect(found).toBe(true);
    });

    it('refuses content over the limit with VALIDATION_FAILED, appending and storing nothing', async () => {
      const bytes = randomBytes(LIMIT + 1);
      const before = await totalCommits();
      const storedBefore = await objectMessages();
      const error = await ingest(bytes).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect((error as Error).message).toMatch(/limit is 262144/);
      expect(await totalCommits()).toBe(before);
      expect(await objectMessages()).toBe(storedBefore);
      expect(await objects.info(contentCid(bytes))).toBeNull();
    });

    it('accepts content of exactly the limit', async () => {
      const bytes = randomBytes(LIMIT);
      const result = await ingest(bytes);
      expect(result.version).toBe(1n);
      expect((await objects.info(contentCid(bytes)))?.size).toBe(LIMIT);
    });

    it('refuses empty content with VALIDATION_FAILED and appends nothing', async () => {
      const before = await totalCommits();
      expect(await rejection(ingest(new Uint8Array(0)))).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await totalCommits()).toBe(before);
    });

    it('refuses an existing document id with ALREADY_EXISTS and keeps its content', async () => {
      const first = await ingest(text(`a ${uuidv7()}`));
      expect(
        await rejection(
          ingest(text(`b ${uuidv7()}`), { documentId: first.aggregateId }),
        ),
      ).toBe(ErrorCode.ALREADY_EXISTS);
      expect(await commitsOf(first.aggregateId)).toBe(1);
    });
  });

  describe('CreateDocumentFromCid', () => {
    it('creates a document from stored content', async () => {
      const bytes = text(`source ${uuidv7()}`);
      await ingest(bytes);
      const result = await sendCommand(nc, cmd.createDocumentFromCid, {
        contentCid: contentCid(bytes),
        title: 'From CID',
        documentType: DocumentType.NOTE,
      });
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId: result.aggregateId,
        minVersion: 1n,
      });
      expect(document).toMatchObject({
        title: 'From CID',
        headCid: contentCid(bytes),
        sizeBytes: BigInt(bytes.length),
        documentType: DocumentType.NOTE,
      });
    });

    it('refuses a CID that is not stored with NOT_FOUND, whatever the client claims', async () => {
      const missing = contentCid(text(`never stored ${uuidv7()}`));
      const documentId = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.createDocumentFromCid, {
            documentId,
            contentCid: missing,
            title: 't',
            stored: [{ contentCid: missing, present: true, sizeBytes: 5n }],
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(documentId)).toBe(0);
    });

    it('does not take other bytes stored under a CID for its content', async () => {
      const claimed = contentCid(text(`claimed ${uuidv7()}`));
      await objects.putBlob({ name: claimed }, text('something else'));
      const documentId = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.createDocumentFromCid, {
            documentId,
            contentCid: claimed,
            title: 't',
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(sendQuery(nc, qry.getContent, { contentCid: claimed })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(documentId)).toBe(0);
    });
  });

  describe('versions', () => {
    it('edits, tags, compares and rolls back along the CID chain', async () => {
      const v1 = text(`v1 ${uuidv7()}`);
      const v2 = text(`v2 is longer ${uuidv7()}`);
      const { aggregateId: documentId } = await ingest(v1);
      await ingest(v2);
      const [c1, c2] = [contentCid(v1), contentCid(v2)];
      await sendCommand(
        nc,
        cmd.tagVersion,
        { documentId, tag: 'draft-1' },
        { actor: OWNER },
      );
      await sendCommand(
        nc,
        cmd.editDocument,
        {
          documentId,
          expectedHeadCid: c1,
          successorCid: c2,
          edit: { case: 'direct', value: {} },
        },
        { actor: OWNER },
      );
      expect(
        await rejection(
          sendCommand(
            nc,
            cmd.editDocument,
            {
              documentId,
              expectedHeadCid: c1,
              successorCid: c2,
              edit: { case: 'direct', value: {} },
            },
            { actor: OWNER },
          ),
        ),
      ).toBe(ErrorCode.CONCURRENCY_CONFLICT);
      const rolled = await sendCommand(
        nc,
        cmd.rollbackDocument,
        { documentId, targetCid: c1 },
        { actor: OWNER },
      );
      const history = await sendQuery(nc, qry.getHistory, {
        documentId,
        minVersion: rolled.version,
      });
      expect(history.headCid).toBe(c1);
      expect(history.entries.map((e) => [e.contentCid, e.kind])).toEqual([
        [c1, ChangeKind.INITIAL],
        [c2, ChangeKind.DIRECT_EDIT],
        [c1, ChangeKind.ROLLBACK],
      ]);
      expect(history.entries[2]?.semanticVersion).toMatchObject({ patch: 2 });
      expect(history.tags).toEqual([
        expect.objectContaining({ tag: 'draft-1', contentCid: c1 }),
      ]);
      const compared = await sendQuery(nc, qry.compareVersions, {
        documentId,
        fromCid: c2,
        toCid: c1,
      });
      expect(compared).toMatchObject({
        sameContent: false,
        sizeDelta: BigInt(v1.length - v2.length),
        distance: 1n,
        changes: [ChangeKind.ROLLBACK],
      });
      expect(compared.to).toMatchObject({ isHead: true, tags: ['draft-1'] });
      // The runtime's built-in History is the commit log, beside the CID chain.
      const commits = await sendQuery(nc, qry.history, {
        aggregateId: documentId,
      });
      expect(
        commits.entries.map((e) => e.events.map((v) => v.eventType)),
      ).toEqual([
        ['DocumentContentIngested'],
        ['VersionTagged'],
        ['DocumentSuccessorCreated', 'DocumentEdited'],
        ['DocumentRolledBack'],
      ]);
      const paged = await sendQuery(nc, qry.getHistory, {
        documentId,
        page: { pageSize: 2 },
      });
      expect(paged.entries).toHaveLength(2);
      const rest = await sendQuery(nc, qry.getHistory, {
        documentId,
        page: { pageSize: 2, pageToken: paged.page?.nextPageToken ?? '' },
      });
      expect(rest.entries.map((e) => e.position)).toEqual([2n]);
      expect(rest.page?.nextPageToken).toBe('');
    });

    it('refuses an edit without write access with UNAUTHORIZED until an admin shares', async () => {
      const v1 = text(`w1 ${uuidv7()}`);
      const v2 = text(`w2 ${uuidv7()}`);
      const { aggregateId: documentId } = await ingest(v1);
      await ingest(v2);
      const edit = {
        documentId,
        expectedHeadCid: contentCid(v1),
        successorCid: contentCid(v2),
        edit: { case: 'direct' as const, value: {} },
      };
      const bob = 'user:bob';
      expect(
        await rejection(
          sendCommand(nc, cmd.editDocument, edit, { actor: bob }),
        ),
      ).toBe(ErrorCode.UNAUTHORIZED);
      expect(
        await rejection(
          sendCommand(
            nc,
            cmd.shareDocument,
            { documentId, principals: [bob], permission: Permission.WRITE },
            { actor: bob },
          ),
        ),
      ).toBe(ErrorCode.UNAUTHORIZED);
      expect(await commitsOf(documentId)).toBe(1);
      await sendCommand(
        nc,
        cmd.shareDocument,
        { documentId, principals: [bob], permission: Permission.WRITE },
        { actor: OWNER },
      );
      const edited = await sendCommand(nc, cmd.editDocument, edit, {
        actor: bob,
      });
      expect(edited.version).toBe(4n);
      // SharedWith reads across documents and takes no minVersion: wait for the edit first.
      await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: edited.version,
      });
      const shared = await sendQuery(nc, qry.sharedWith, { principal: bob });
      expect(shared.documents).toEqual([
        expect.objectContaining({
          document: expect.objectContaining({ documentId }),
          permission: Permission.WRITE,
        }),
      ]);
    });
  });

  describe('lifecycle and processing', () => {
    it('moves through review to publication and refuses a skipped step', async () => {
      const { aggregateId: documentId } = await ingest(
        text(`life ${uuidv7()}`),
      );
      expect(
        await rejection(
          sendCommand(nc, cmd.changeDocumentState, {
            documentId,
            to: DocumentStatus.PUBLISHED,
          }),
        ),
      ).toBe(ErrorCode.INVALID_TRANSITION);
      expect(await commitsOf(documentId)).toBe(1);
      for (const to of [DocumentStatus.UNDER_REVIEW, DocumentStatus.PUBLISHED])
        await sendCommand(nc, cmd.changeDocumentState, { documentId, to });
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: 3n,
      });
      expect(document?.status).toBe(DocumentStatus.PUBLISHED);
    });

    it('promotes content once the required stages passed', async () => {
      const { aggregateId: documentId } = await ingest(
        text(`scan ${uuidv7()}`),
        {
          processing: { scan: true, validate: true, autoPromote: true },
        },
      );
      await sendCommand(nc, cmd.recordProcessingStage, {
        documentId,
        stage: ProcessingStage.VIRUS_SCAN,
        passed: true,
      });
      const last = await sendCommand(nc, cmd.recordProcessingStage, {
        documentId,
        stage: ProcessingStage.FORMAT_VALIDATION,
        passed: true,
        details: 'UTF-8 text',
      });
      expect(last.eventIds).toHaveLength(3);
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: last.version,
      });
      expect(document).toMatchObject({
        contentState: ContentState.PROMOTED,
        partition: Partition.AGGREGATE,
      });
      expect(document?.stageResults).toHaveLength(2);
    });
  });

  describe('queries across documents', () => {
    it('lists documents by tag, type and owner, and comments in order', async () => {
      const tag = `t-${uuidv7()}`;
      const owner = `user:${uuidv7()}`;
      const ids: string[] = [];
      for (const [i, documentType] of [
        DocumentType.NOTE,
        DocumentType.REPORT,
        DocumentType.NOTE,
      ].entries()) {
        const r = await ingest(
          text(`listed ${i} ${uuidv7()}`),
          { hints: { title: `Doc ${i}`, tags: [tag], documentType } },
          owner,
        );
        ids.push(r.aggregateId);
      }
      // Lists read across documents and take no minVersion: wait for the
      // last document, and the read model holds the ones before it too.
      await sendQuery(nc, qry.getDocument, {
        documentId: ids[2]!,
        minVersion: 1n,
      });
      const byTag = await sendQuery(nc, qry.listDocuments, { tag });
      expect(byTag.documents.map((d) => d.documentId)).toEqual(ids);
      const notes = await sendQuery(nc, qry.listDocuments, {
        owner,
        documentType: DocumentType.NOTE,
      });
      expect(notes.documents.map((d) => d.documentId)).toEqual([
        ids[0],
        ids[2],
      ]);
      expect(notes.page?.totalSize).toBe(2n);
      const titled = await sendQuery(nc, qry.listDocuments, {
        tag,
        titleContains: 'DOC 1',
      });
      expect(titled.documents.map((d) => d.documentId)).toEqual([ids[1]]);
      const firstPage = await sendQuery(nc, qry.listDocuments, {
        tag,
        page: { pageSize: 2 },
      });
      const secondPage = await sendQuery(nc, qry.listDocuments, {
        tag,
        page: { pageSize: 2, pageToken: firstPage.page?.nextPageToken ?? '' },
      });
      expect(
        [...firstPage.documents, ...secondPage.documents].map(
          (d) => d.documentId,
        ),
      ).toEqual(ids);

      const documentId = ids[0]!;
      await sendCommand(nc, cmd.addComment, {
        documentId,
        commentId: 'c1',
        content: 'first',
      });
      const reply = await sendCommand(nc, cmd.addComment, {
        documentId,
        commentId: 'c2',
        content: 'second',
        parentId: 'c1',
      });
      const comments = await sendQuery(nc, qry.listComments, {
        documentId,
        minVersion: reply.version,
      });
      expect(comments.comments.map((c) => [c.commentId, c.parentId])).toEqual([
        ['c1', ''],
        ['c2', 'c1'],
      ]);
      await sendCommand(nc, cmd.linkDocuments, {
        documentId,
        targetId: ids[1]!,
        linkType: LinkType.REFERENCES,
      });
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: reply.version + 1n,
      });
      expect(document?.links).toEqual([
        expect.objectContaining({
          targetId: ids[1],
          linkType: LinkType.REFERENCES,
        }),
      ]);
      expect(document?.commentCount).toBe(2n);
    });

    it('reads content in ranges', async () => {
      const bytes = randomBytes(200_000);
      await ingest(bytes);
      const cid = contentCid(bytes);
      const parts: Uint8Array[] = [];
      for (let offset = 0; offset < bytes.length; offset += 70_000) {
        const part = await sendQuery(nc, qry.getContent, {
          contentCid: cid,
          offset: BigInt(offset),
          length: 70_000n,
        });
        expect(part.totalSize).toBe(200_000n);
        parts.push(part.data);
      }
      expect(Buffer.compare(Buffer.concat(parts), bytes)).toBe(0);
      const end = await sendQuery(nc, qry.getContent, {
        contentCid: cid,
        offset: 200_000n,
      });
      expect(end.data).toHaveLength(0);
      expect(
        await rejection(
          sendQuery(nc, qry.getContent, { contentCid: cid, offset: 200_001n }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });

    it('answers an unknown or malformed CID on GetContent with NOT_FOUND or VALIDATION_FAILED', async () => {
      expect(
        await rejection(
          sendQuery(nc, qry.getContent, {
            contentCid: contentCid(text(uuidv7())),
          }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(sendQuery(nc, qry.getContent, { contentCid: 'Qm123' })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('content analysis', () => {
    const report = [
      'Quarterly Report',
      '',
      'Revenue rose in the third quarter, and revenue from new markets rose most.',
      'Ada Lovelace (ada@example.com) signed the results on 2024-02-29.',
      'The weather was mild.',
    ].join('\n');

    /** A promoted text document and its head. */
    async function promotedText(content = report, mimeType = 'text/plain') {
      const bytes = text(content);
      const result = await ingest(bytes, {
        hints: { title: 'Q3', mimeType },
        processing: { autoPromote: true },
      });
      return { documentId: result.aggregateId, contentCid: contentCid(bytes) };
    }

    it('records entities, a summary and a classification that GetDocument shows', async () => {
      const { documentId, contentCid: cid } = await promotedText();
      await sendCommand(nc, cmd.extractEntities, {
        documentId,
        contentCid: cid,
        // Whatever a client claims is replaced by what the service computes.
        analysis: { contentCid: cid, present: true, text: true, entities: [] },
      });
      await sendCommand(nc, cmd.generateSummary, {
        documentId,
        contentCid: cid,
        maxSentences: 1,
      });
      const last = await sendCommand(nc, cmd.classifyDocument, {
        documentId,
        contentCid: cid,
      });
      const { document } = await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: last.version,
      });
      const analysis = document?.analysis;
      expect(analysis).toMatchObject({
        contentCid: cid,
        entitiesExtracted: true,
        contentTruncated: false,
      });
      expect(
        analysis?.entities.map((e) => [EntityKind[e.kind], e.text, e.count]),
      ).toEqual([
        ['NAME', 'Quarterly Report', 1],
        ['NAME', 'Ada Lovelace', 1],
        ['EMAIL', 'ada@example.com', 1],
        ['DATE', '2024-02-29', 1],
      ]);
      expect(analysis?.entities[2]?.firstOffset).toBe(
        BigInt(Buffer.byteLength(report.slice(0, report.indexOf('ada@')))),
      );
      expect(analysis?.summary?.sentences.map((s) => s.text)).toEqual([
        'Revenue rose in the third quarter, and revenue from new markets rose most.',
      ]);
      expect(analysis?.summary?.sentenceCount).toBe(4);
      expect(analysis?.classification).toMatchObject({
        documentType: DocumentType.REPORT,
        rule: 'lexicon:report',
        confidence: 0.7,
      });
    });

    it('keeps entity and summary text sealed in the stream, and forgetting the document erases it', async () => {
      const email = `someone-${uuidv7()}@example.com`;
      const { documentId, contentCid: cid } = await promotedText(
        `${report}\nWrite to ${email} for the figures.`,
      );
      await sendCommand(nc, cmd.extractEntities, {
        documentId,
        contentCid: cid,
      });
      const last = await sendCommand(nc, cmd.generateSummary, {
        documentId,
        contentCid: cid,
        maxSentences: 2,
      });
      const shown = async () => {
        const { document } = await sendQuery(nc, qry.getDocument, {
          documentId,
          minVersion: last.version,
        });
        return {
          entities: document?.analysis?.entities.map((e) => e.text),
          sentences: document?.analysis?.summary?.sentences.map((t) => t.text),
        };
      };
      expect((await shown()).entities).toContain(email);
      // The stream holds the commits of the analysis, but never the address in the clear.
      const store = await EventStore.open(nc, { domain: 'document' });
      const stored = await store.read(documentId);
      expect(stored.length).toBeGreaterThan(0);
      expect(
        stored.some((c) =>
          Buffer.from(c.data).toString('latin1').includes(email),
        ),
      ).toBe(false);

      await sendCommand(nc, cmd.forgetSubject, {
        subjectId: documentId,
        reason: 'erasure request',
      });
      const erased = await shown();
      expect(new Set(erased.entities)).toEqual(new Set([ERASED]));
      expect(new Set(erased.sentences)).toEqual(new Set([ERASED]));
    });

    it('refuses a second identical analysis with ALREADY_EXISTS and appends nothing', async () => {
      const { documentId, contentCid: cid } = await promotedText(
        `${report} ${uuidv7()}`,
      );
      await sendCommand(nc, cmd.classifyDocument, {
        documentId,
        contentCid: cid,
      });
      const before = await commitsOf(documentId);
      expect(
        await rejection(
          sendCommand(nc, cmd.classifyDocument, {
            documentId,
            contentCid: cid,
          }),
        ),
      ).toBe(ErrorCode.ALREADY_EXISTS);
      expect(await commitsOf(documentId)).toBe(before);
    });

    it('refuses bad analysis requests with a clear code and appends nothing', async () => {
      const staged = await ingest(text(`staged ${uuidv7()}`));
      const stagedCid = contentCid(text(`staged ${uuidv7()}`));
      const image = await promotedText(`not an image ${uuidv7()}`, 'image/png');
      const binary = await promotedText(
        String.fromCharCode(0, 1, 2) + uuidv7(),
      );
      const current = await promotedText(`current ${uuidv7()}`);
      const before = await totalCommits();
      const cases: Array<[Promise<unknown>, ErrorCode]> = [
        [
          sendCommand(nc, cmd.extractEntities, {
            documentId: uuidv7(),
            contentCid: stagedCid,
          }),
          ErrorCode.NOT_FOUND,
        ],
        [
          sendCommand(nc, cmd.generateSummary, {
            documentId: staged.aggregateId,
            contentCid: stagedCid,
          }),
          ErrorCode.INVALID_TRANSITION,
        ],
        [
          sendCommand(nc, cmd.classifyDocument, image),
          ErrorCode.BUSINESS_RULE_VIOLATION,
        ],
        [
          sendCommand(nc, cmd.extractEntities, binary),
          ErrorCode.BUSINESS_RULE_VIOLATION,
        ],
        [
          sendCommand(nc, cmd.extractEntities, {
            documentId: current.documentId,
            contentCid: stagedCid,
          }),
          ErrorCode.CONCURRENCY_CONFLICT,
        ],
        [
          sendCommand(nc, cmd.generateSummary, {
            ...current,
            maxSentences: 11,
          }),
          ErrorCode.VALIDATION_FAILED,
        ],
        [
          sendCommand(nc, cmd.extractEntities, {
            documentId: current.documentId,
            contentCid: 'Qm123',
          }),
          ErrorCode.VALIDATION_FAILED,
        ],
      ];
      for (const [call, code] of cases) {
        expect(await rejection(call)).toBe(code);
      }
      expect(await totalCommits()).toBe(before);
    });
  });

  describe('the fork reaction', () => {
    async function forkDone(forkId: string) {
      return sendQuery(nc, qry.getDocument, {
        documentId: forkId,
        minVersion: 1n,
      });
    }

    it('creates the fork from the source head, owned by whoever forked', async () => {
      const bytes = text(`fork me ${uuidv7()}`);
      const { aggregateId: documentId } = await ingest(bytes, {
        hints: { title: 'Original', tags: ['x'] },
      });
      const forked = await sendCommand(
        nc,
        cmd.forkDocument,
        { documentId },
        { actor: 'user:forker' },
      );
      const forkId = forked.commandId;
      const { document } = await forkDone(forkId);
      expect(document).toMatchObject({
        title: 'Original',
        headCid: contentCid(bytes),
        owner: 'user:forker',
        tags: ['x'],
        status: DocumentStatus.DRAFT,
        forkedFrom: {
          documentId,
          contentCid: contentCid(bytes),
          forkedBy: 'user:forker',
        },
      });
      expect(document?.links).toEqual([
        expect.objectContaining({
          targetId: documentId,
          linkType: LinkType.DERIVED_FROM,
        }),
      ]);
    });

    it('applies a redelivered DocumentForked once', async () => {
      const { aggregateId: documentId } = await ingest(
        text(`redeliver ${uuidv7()}`),
      );
      const forkId = `fork-${uuidv7()}`;
      await sendCommand(nc, cmd.forkDocument, { documentId, forkId });
      await forkDone(forkId);
      const before = await totalCommits();
      const document = (await forkDone(forkId)).document;

      // Restart with a fresh durable consumer: every DocumentForked so far is delivered again.
      await running.stop();
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.delete(STREAM, 'cim-document-fork');
      running = await start();
      await consumerSettled(nc, 'document', 'cim-document-fork');
      expect(await totalCommits()).toBe(before);
      expect(await commitsOf(forkId)).toBe(1);
      expect((await forkDone(forkId)).document).toEqual(document);
    });
  });

  describe('when the input is bad', () => {
    it('answers garbage bytes with VALIDATION_FAILED and appends nothing', async () => {
      const before = await totalCommits();
      const error = await request(
        nc,
        'cim.document.cmd.IngestDocumentContent',
        Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0x01),
        { headers: { [Header.commandId]: uuidv7() } },
      ).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await totalCommits()).toBe(before);
    });

    it('answers a missing field with VALIDATION_FAILED and appends nothing', async () => {
      const { aggregateId: documentId } = await ingest(text(`m ${uuidv7()}`));
      expect(
        await rejection(
          sendCommand(nc, cmd.changeDocumentState, { documentId }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(
        await rejection(sendCommand(nc, cmd.tagVersion, { documentId })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await commitsOf(documentId)).toBe(1);
    });

    it('answers an unknown document with NOT_FOUND and appends nothing', async () => {
      const documentId = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.addComment, { documentId, content: 'hi' }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(
        await rejection(sendQuery(nc, qry.getDocument, { documentId })),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await commitsOf(documentId)).toBe(0);
    });
  });

  describe('when the service restarts', () => {
    it('rebuilds the same read model and continues where it was', async () => {
      const tag = `r-${uuidv7()}`;
      const { aggregateId: documentId } = await ingest(
        text(`restart ${uuidv7()}`),
        {
          hints: { title: 'R', tags: [tag] },
        },
      );
      const commented = await sendCommand(nc, cmd.addComment, {
        documentId,
        content: 'kept',
      });
      const before = await sendQuery(nc, qry.getDocument, {
        documentId,
        minVersion: commented.version,
      });
      const listed = await sendQuery(nc, qry.listDocuments, { tag });
      await running.stop();
      running = await start();
      expect(await sendQuery(nc, qry.getDocument, { documentId })).toEqual(
        before,
      );
      expect(await sendQuery(nc, qry.listDocuments, { tag })).toEqual(listed);
      const next = await sendCommand(nc, cmd.archiveDocument, { documentId });
      expect(next.version).toBe(3n);
    });
  });

  it('keeps every commit of every document on its hash chain', async () => {
    const store = await EventStore.open(nc, { domain: 'document' });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(STREAM, {
      subjects_filter: 'cim.document.evt.>',
    });
    const loader = new AggregateLoader(
      store,
      documentDecider,
      DocumentEventSchema,
      -1,
    );
    let commits = 0;
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const aggregateId = subject.slice('cim.document.evt.'.length);
      // The stream also holds the audit records of forgotten data subjects.
      const [first] = await store.read(aggregateId);
      if (decodeCommit(first!.data).aggregateType !== 'Document') continue;
      // load() verifies every link and throws IntegrityError on a broken one.
      const loaded = await loader.load(aggregateId, () => commits++);
      expect(loaded.version).toBeGreaterThan(0n);
    }
    expect(commits).toBeGreaterThan(10);
    store.close();
  });
});
