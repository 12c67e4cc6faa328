import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnavailableError } from '@cim/messaging';
import { DocumentCommandService } from '@cim/proto/cim/document/v1/document_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  sendCommand,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { defineDocumentService } from '../src/index.js';

const cmd = DocumentCommandService.method;

describe('a document service whose JetStream storage is used up', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;

  beforeAll(async () => {
    // Room for the service's streams and buckets and a few documents' bytes.
    server = await startNatsServer({ maxFileStore: '2MB' });
    nc = await connect({ servers: server.url });
    running = await defineDocumentService().start({ nc, log: testLogger() });
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  it('answers ingest UNAVAILABLE once the content bytes find no room, not INTERNAL, and stores no commit for it', async () => {
    let refused: Error | undefined;
    let ingested = 0;
    while (refused === undefined && ingested < 40) {
      const before = await countCommits(nc, 'document');
      const content = new Uint8Array(128 * 1024).fill(97 + (ingested % 26));
      content.set(new TextEncoder().encode(`document ${ingested}`));
      refused = await sendCommand(nc, cmd.ingestDocumentContent, {
        content,
        hints: { title: `doc ${ingested}`, mimeType: 'text/plain' },
      }).then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      if (refused === undefined) ingested++;
      else expect(await countCommits(nc, 'document')).toBe(before);
    }
    expect(ingested).toBeGreaterThan(0);
    expect(UnavailableError.is(refused)).toBe(true);
    expect(refused?.message).toBe(
      'cannot store content: insufficient resources',
    );
  });
});
