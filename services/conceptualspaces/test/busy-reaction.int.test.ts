import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import { uuidv7 } from '@cim/kernel';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  recordingLogger,
  sendCommand,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { conceptualspacesService } from '../src/service.js';
import { graphPlacedAt } from './graph-placed.js';

const GRAPHS = 20;

describe('a reaction whose commands find their aggregate busy', () => {
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

  it('gets the refused events again until every graph is placed, and logs the failures once', async () => {
    running.push(await graphService.start({ nc, log: testLogger() }));
    const ids = Array.from({ length: GRAPHS }, () => uuidv7());
    await Promise.all(
      ids.map((graphId) =>
        sendCommand(nc, GraphCommandService.method.createGraph, {
          graphId,
          name: graphId,
        }),
      ),
    );
    // Started after the graphs exist, the reaction takes all their events at once; every
    // one commands the single graph space, where at most eight commands may wait.
    const { log, lines } = recordingLogger();
    running.push(
      await conceptualspacesService.start({
        nc,
        log,
        maxQueuedPerAggregate: 8,
      }),
    );
    for (const graphId of ids) await graphPlacedAt(nc, graphId, 1n);

    const said = (msg: string) => lines.filter((l) => l['msg'] === msg);
    expect(
      said(
        'commands to one aggregate refused with UNAVAILABLE: too many waiting',
      ),
    ).toHaveLength(1);
    const retried = said('reaction command failed; will retry');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ reaction: 'graph-concepts', failed: 1 });
  });
});
