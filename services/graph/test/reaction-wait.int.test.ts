import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentService } from '@cim/document';
import type { RunningService } from '@cim/service';
import {
  eventually,
  recordingLogger,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { graphService } from '../src/service.js';

const WAITING = 'reaction waiting for its source stream';

describe('a reaction whose source domain is not running', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const running: RunningService[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    for (const service of running.reverse()) await service.stop();
    await nc.close();
    await server.stop();
  });

  it('says so once while it retries, and says when it attaches', async () => {
    const { log, lines } = recordingLogger();
    running.push(await graphService.start({ nc, log }));
    const waiting = () =>
      lines.filter(
        (l) => l['msg'] === WAITING && l['reaction'] === 'document-nodes',
      );
    await eventually(() => waiting()[0], 'the first waiting line');
    // The reaction tries to attach every second; three more tries log nothing.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(waiting()).toHaveLength(1);
    expect(waiting()[0]).toMatchObject({
      stream: 'CIM_DOCUMENT',
      reason: expect.stringContaining('stream not found'),
    });
    expect(waiting()[0]).not.toHaveProperty('err'); // an expected wait carries no stack

    running.push(await documentService.start({ nc, log: testLogger() }));
    const attached = await eventually(
      () =>
        lines.find(
          (l) =>
            l['msg'] === 'reaction consuming' &&
            l['reaction'] === 'document-nodes',
        ),
      'the reaction attached',
    );
    expect(attached['waitedMs']).toBeGreaterThanOrEqual(3500);
    expect(waiting()).toHaveLength(1);
  });
});
