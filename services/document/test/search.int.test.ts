import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode, uuidv7 } from '@cim/kernel';
import {
  DocumentCommandService,
  DocumentQueryService,
} from '@cim/proto/cim/document/v1/document_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  rejection,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { contentCid } from '../src/content-store.js';
import { defineDocumentService } from '../src/service.js';

const cmd = DocumentCommandService.method;
const qry = DocumentQueryService.method;
const OWNER = 'user:owner';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('SearchDocuments over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  // A word no other test uses, so each run searches its own documents.
  const unique = `zq${uuidv7().replaceAll('-', '').slice(-12)}`;

  async function ingest(text: string, title: string, mimeType = 'text/plain') {
    const result = await sendCommand(
      nc,
      cmd.ingestDocumentContent,
      { content: utf8(text), hints: { title, mimeType } },
      { actor: OWNER },
    );
    await caughtUp(result.aggregateId, result.version);
    return result;
  }

  /** Waits until the read model holds the document at `version`. */
  async function caughtUp(documentId: string, version: bigint) {
    await sendQuery(nc, qry.getDocument, { documentId, minVersion: version });
  }

  async function search(
    query: string,
    extra: { includeArchived?: boolean } = {},
  ) {
    const answer = await sendQuery(nc, qry.searchDocuments, {
      query,
      ...extra,
    });
    return answer.hits.map((h) => h.documentId);
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await defineDocumentService({ maxContentBytes: 64 * 1024 }).start(
      { nc, log: testLogger() },
    );
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  it('finds ingested text, follows a new version, drops archived documents, and refuses bad input', async () => {
    const telescope = await ingest(
      `The nebula seen through a telescope in orbit. ${unique}`,
      'Observatory notes',
    );
    const garden = await ingest(
      `A nebula-shaped garden; ${unique} ${unique} again`,
      'Garden plan',
    );
    const binary = await ingest(
      `nebula ${unique}`,
      'Opaque',
      'application/octet-stream',
    );

    // Every term must match; the binary document is not indexed.
    const both = await search(`Nebula ${unique.toUpperCase()}`);
    expect(both.sort()).toEqual(
      [telescope.aggregateId, garden.aggregateId].sort(),
    );
    expect(both).not.toContain(binary.aggregateId);
    expect(await search(`telescope ${unique}`)).toEqual([
      telescope.aggregateId,
    ]);
    // Ranked: two occurrences of the rarer word in a shorter text score higher.
    const ranked = await sendQuery(nc, qry.searchDocuments, {
      query: unique,
    });
    expect(ranked.hits.map((h) => h.documentId)).toEqual([
      garden.aggregateId,
      telescope.aggregateId,
    ]);
    expect(ranked.hits[0]?.title).toBe('Garden plan');
    expect(ranked.hits[0]!.score).toBeGreaterThan(ranked.hits[1]!.score);
    expect(ranked.page?.totalSize).toBe(2n);

    // Comments are personal data and never indexed.
    const commented = await sendCommand(
      nc,
      cmd.addComment,
      {
        documentId: telescope.aggregateId,
        content: `comment${unique} words`,
      },
      { actor: OWNER },
    );
    await caughtUp(telescope.aggregateId, commented.version);
    expect(await search(`comment${unique}`)).toEqual([]);

    // A new version: the successor is stored as opaque bytes (so its own
    // document is not indexed), and the terms follow the edited document's
    // text/plain type.
    const next = utf8(`A comet replaced everything. ${unique}`);
    const successor = await sendCommand(
      nc,
      cmd.ingestDocumentContent,
      {
        content: next,
        hints: { title: 'successor', mimeType: 'application/octet-stream' },
      },
      { actor: OWNER },
    );
    await caughtUp(successor.aggregateId, successor.version);
    const edited = await sendCommand(
      nc,
      cmd.editDocument,
      {
        documentId: telescope.aggregateId,
        expectedHeadCid: contentCid(
          utf8(`The nebula seen through a telescope in orbit. ${unique}`),
        ),
        successorCid: contentCid(next),
        edit: { case: 'direct', value: {} },
      },
      { actor: OWNER },
    );
    await caughtUp(telescope.aggregateId, edited.version);
    expect(await search(`telescope ${unique}`)).toEqual([]);
    expect(await search(`comet ${unique}`)).toEqual([telescope.aggregateId]);
    expect(await search(`nebula ${unique}`)).toEqual([garden.aggregateId]);

    // Archived documents leave the results unless asked for.
    const archived = await sendCommand(
      nc,
      cmd.archiveDocument,
      { documentId: garden.aggregateId },
      { actor: OWNER },
    );
    await caughtUp(garden.aggregateId, archived.version);
    expect(await search(`nebula ${unique}`)).toEqual([]);
    expect(await search(`nebula ${unique}`, { includeArchived: true })).toEqual(
      [garden.aggregateId],
    );

    // Bad input is refused and changes nothing.
    const before = await countCommits(nc, 'document');
    for (const query of [
      '',
      '   ',
      '!!! ...',
      Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '),
    ]) {
      expect(
        await rejection(sendQuery(nc, qry.searchDocuments, { query })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
    }
    expect(
      await rejection(
        sendQuery(nc, qry.searchDocuments, {
          query: unique,
          page: { pageToken: 'not-a-token' },
        }),
      ),
    ).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await countCommits(nc, 'document')).toBe(before);
    expect(await search(`comet ${unique}`)).toEqual([telescope.aggregateId]);
  });

  it('pages through ranked hits', async () => {
    const word = `pg${unique}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await ingest(`${word} ${'filler '.repeat(i)}`, `p${i}`)).aggregateId,
      );
    }
    const first = await sendQuery(nc, qry.searchDocuments, {
      query: word,
      page: { pageSize: 2 },
    });
    const second = await sendQuery(nc, qry.searchDocuments, {
      query: word,
      page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? '' },
    });
    expect([...first.hits, ...second.hits].map((h) => h.documentId)).toEqual(
      ids,
    );
    expect(second.page?.nextPageToken).toBe('');
  });
});
