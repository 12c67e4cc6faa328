import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import { verifyDomain, type RunningService } from '@cim/service';
import {
  startNatsCluster,
  testLogger,
  type NatsClusterHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  AddNodeLoad,
  createGraphs,
  lostOrDuplicated,
  settled,
  storedNodes,
} from './add-node-load.js';

describe('clustered topology: three nodes, R3 streams', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let graph: RunningService;

  beforeAll(async () => {
    cluster = await startNatsCluster(3, { syncAlways: true });
    nc = await connect({
      servers: [...cluster.urls],
      maxReconnectAttempts: -1,
    });
    // The service has its own connection to every node, as `npm start --topology cluster` runs it.
    graph = await graphService.start({
      natsUrl: cluster.url,
      replicas: 3,
      log: testLogger(),
    });
  });

  afterAll(async () => {
    await graph.stop();
    await nc.close();
    await cluster.stop();
  });

  it('keeps every acknowledged command when the stream leader is killed under load', async () => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_GRAPH');
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.servers.find(
      (server) => server.name === info.cluster?.leader,
    );
    expect(leader).toBeDefined();

    const graphs = await createGraphs(nc, 16);
    const load = new AddNodeLoad(nc, graphs, 3000);
    const ackedBeforeKill = await load.across(() => leader!.kill('SIGKILL'), {
      before: 300,
      after: 300,
      withinMs: 90_000,
    });

    // The two remaining nodes elect a new leader and the fleet keeps accepting commands.
    expect(ackedBeforeKill).toBeGreaterThanOrEqual(300);
    expect(load.acknowledged.size).toBeGreaterThanOrEqual(
      ackedBeforeKill + 300,
    );
    const stored = await storedNodes(nc, graphs, 3);
    expect(lostOrDuplicated(load.acknowledged, stored)).toEqual([]);

    // The killed node catches up when it returns; the history verifies
    // (asked again while the cluster settles after the node's return).
    await leader!.restart();
    const report = await settled(() => verifyDomain(nc, 'graph'));
    expect(report.findings).toEqual([]);
    expect(report.commits).toBeGreaterThanOrEqual(16 + load.acknowledged.size);
  });
});
