import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startGateway, type Gateway } from '@cim/gateway';
import { createClient, createRawClient, type GrpcClient } from '@cim/grpc';
import { uuidv7 } from '@cim/kernel';
import {
  DocumentCommandService,
  DocumentQueryService,
  DocumentStatus,
  file_cim_document_v1_document,
} from '@cim/proto/cim/document/v1/document_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { CONTENT_BUCKET, contentCid } from '../src/content-store.js';
import { defineDocumentService } from '../src/service.js';

const LIMIT = 64 * 1024;

async function grpcCode(promise: Promise<unknown>): Promise<status> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error.code;
}

describe('document through the gRPC gateway', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let documents: RunningService;
  let gateway: Gateway;
  let objects: ObjectStore;
  let commands: GrpcClient<typeof DocumentCommandService>;
  let queries: GrpcClient<typeof DocumentQueryService>;
  let address: string;

  const storedCommits = () => countCommits(nc, 'document');

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    documents = await defineDocumentService({ maxContentBytes: LIMIT }).start({
      nc,
      log: testLogger(),
    });
    objects = await new Objm(nc).create(CONTENT_BUCKET);
    gateway = await startGateway({
      nc,
      host: '127.0.0.1',
      port: 0,
      services: file_cim_document_v1_document.services,
      files: [file_cim_document_v1_document],
      log: testLogger(),
    });
    address = `127.0.0.1:${gateway.port}`;
    commands = createClient(DocumentCommandService, address);
    queries = createClient(DocumentQueryService, address);
  });

  afterAll(async () => {
    commands.close();
    queries.close();
    await gateway.stop();
    await documents.stop();
    await nc.close();
    await server.stop();
  });

  it('ingests content, reads it back, and moves the document through review', async () => {
    const content = randomBytes(40_000);
    const ingested = await commands.ingestDocumentContent({
      content,
      hints: { title: 'Over gRPC', mimeType: 'application/octet-stream' },
    });
    const documentId = ingested.aggregateId;
    const { document } = await queries.getDocument({
      documentId,
      minVersion: ingested.version,
    });
    expect(document).toMatchObject({
      title: 'Over gRPC',
      headCid: contentCid(content),
      sizeBytes: 40_000n,
      owner: 'external:grpc',
    });
    const read = await queries.getContent({ contentCid: contentCid(content) });
    expect(Buffer.compare(read.data, content)).toBe(0);

    await commands.changeDocumentState({
      documentId,
      to: DocumentStatus.UNDER_REVIEW,
    });
    const published = await commands.changeDocumentState({
      documentId,
      to: DocumentStatus.PUBLISHED,
    });
    const after = await queries.getDocument({
      documentId,
      minVersion: published.version,
    });
    expect(after.document?.status).toBe(DocumentStatus.PUBLISHED);
  });

  it('answers a retried ingest with the first result and stores the bytes once', async () => {
    const content = randomBytes(1000);
    const metadata = { 'cim-command-id': uuidv7() };
    const first = await commands.ingestDocumentContent(
      { content },
      { metadata },
    );
    const again = await commands.ingestDocumentContent(
      { content },
      { metadata },
    );
    expect(again).toEqual(first);
    const cid = contentCid(content);
    expect((await objects.list()).filter((o) => o.name === cid)).toHaveLength(
      1,
    );
  });

  describe('when the input is bad', () => {
    const direct = { case: 'direct' as const, value: {} };
    it.each([
      [
        'garbage bytes',
        () =>
          createRawClient(address).unary(
            DocumentCommandService.method.ingestDocumentContent,
            Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
          ),
        status.INVALID_ARGUMENT,
      ],
      [
        'empty content',
        () => commands.ingestDocumentContent({ content: new Uint8Array(0) }),
        status.INVALID_ARGUMENT,
      ],
      [
        'content over the service limit',
        () =>
          commands.ingestDocumentContent({ content: randomBytes(LIMIT + 1) }),
        status.INVALID_ARGUMENT,
      ],
      [
        'a request over the message size limit',
        () =>
          commands.ingestDocumentContent({
            content: randomBytes(2 * 1024 * 1024),
          }),
        status.RESOURCE_EXHAUSTED,
      ],
      [
        'a CID that is not stored',
        () =>
          commands.createDocumentFromCid({
            contentCid: contentCid(randomBytes(8)),
            title: 'x',
          }),
        status.NOT_FOUND,
      ],
      [
        'a malformed CID',
        () => commands.createDocumentFromCid({ contentCid: 'Qm1', title: 'x' }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an analysis of an unknown document',
        () =>
          commands.generateSummary({
            documentId: uuidv7(),
            contentCid: contentCid(randomBytes(8)),
          }),
        status.NOT_FOUND,
      ],
      [
        'a summary of more than 10 sentences',
        () =>
          commands.generateSummary({
            documentId: uuidv7(),
            contentCid: contentCid(randomBytes(8)),
            maxSentences: 11,
          }),
        status.INVALID_ARGUMENT,
      ],
      [
        'an unknown document',
        () =>
          commands.editDocument({
            documentId: uuidv7(),
            expectedHeadCid: contentCid(randomBytes(8)),
            successorCid: contentCid(randomBytes(8)),
            edit: direct,
          }),
        status.NOT_FOUND,
      ],
    ])(
      'answers %s with the mapped status and appends nothing',
      async (_case, call, expected) => {
        const before = await storedCommits();
        expect(await grpcCode(call())).toBe(expected);
        expect(await storedCommits()).toBe(before);
      },
    );

    it('answers a stale head with ABORTED and a skipped lifecycle step with FAILED_PRECONDITION', async () => {
      const first = randomBytes(100);
      const second = randomBytes(100);
      const { aggregateId: documentId } = await commands.ingestDocumentContent({
        content: first,
      });
      await commands.ingestDocumentContent({ content: second });
      const before = await storedCommits();
      expect(
        await grpcCode(
          commands.editDocument({
            documentId,
            expectedHeadCid: contentCid(second),
            successorCid: contentCid(first),
            edit: direct,
          }),
        ),
      ).toBe(status.ABORTED);
      expect(
        await grpcCode(
          commands.changeDocumentState({
            documentId,
            to: DocumentStatus.PUBLISHED,
          }),
        ),
      ).toBe(status.FAILED_PRECONDITION);
      expect(await storedCommits()).toBe(before);
    });

    it('answers an analysis of content not yet promoted with FAILED_PRECONDITION', async () => {
      const content = Buffer.from(`plain text ${uuidv7()}`);
      const { aggregateId: documentId } = await commands.ingestDocumentContent({
        content,
        hints: { mimeType: 'text/plain' },
      });
      const before = await storedCommits();
      expect(
        await grpcCode(
          commands.extractEntities({
            documentId,
            contentCid: contentCid(content),
          }),
        ),
      ).toBe(status.FAILED_PRECONDITION);
      expect(await storedCommits()).toBe(before);
    });

    it('answers an unknown document on a query with NOT_FOUND', async () => {
      expect(
        await grpcCode(queries.getDocument({ documentId: uuidv7() })),
      ).toBe(status.NOT_FOUND);
    });
  });
});
