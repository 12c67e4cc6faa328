import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentService } from '@cim/document';
import { conceptualspacesService, GRAPH_SPACE_ID } from '@cim/conceptualspaces';
import {
  domainFiles,
  domainServices,
  startGateway,
  type Gateway,
} from '@cim/gateway';
import { graphService } from '@cim/graph';
import { createClient, type GrpcClient } from '@cim/grpc';
import { locationService } from '@cim/location';
import { connectNats } from '@cim/messaging';
import { ConceptualspacesQueryService } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  LocationCommandService,
  LocationQueryService,
  LocationType,
} from '@cim/proto/cim/location/v1/location_pb';
import { ERASED, verifyDomain, type RunningService } from '@cim/service';
import { DocumentCommandService } from '@cim/proto/cim/document/v1/document_pb';
import {
  countCommits,
  startNatsShards,
  testLogger,
  type NatsShardsHandle,
} from '@cim/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const DOMAINS = ['graph', 'conceptualspaces', 'location', 'document'] as const;

/** Retries `attempt` every 100 ms until it succeeds, for at most `ms`. */
async function eventually<T>(
  attempt: () => Promise<T>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (error === undefined) throw new Error('expected the call to fail');
  return error;
}

describe('sharded topology: a hub and one leaf node per domain', () => {
  const masterKey = randomBytes(32);
  let shards: NatsShardsHandle;
  let hub: NatsConnection;
  let gateway: Gateway;
  const services: RunningService[] = [];
  let graphs: GrpcClient<typeof GraphCommandService>;
  let graphQueries: GrpcClient<typeof GraphQueryService>;
  let locations: GrpcClient<typeof LocationCommandService>;
  let locationQueries: GrpcClient<typeof LocationQueryService>;
  let spaces: GrpcClient<typeof ConceptualspacesQueryService>;
  let documents: GrpcClient<typeof DocumentCommandService>;

  beforeAll(async () => {
    shards = await startNatsShards(DOMAINS, { syncAlways: true });
    // Each service on its own shard, with its own connection, as `npm start --topology sharded` runs it.
    for (const [domain, definition] of [
      ['graph', graphService],
      ['conceptualspaces', conceptualspacesService],
      ['location', locationService],
      ['document', documentService],
    ] as const) {
      services.push(
        await definition.start({
          natsUrl: shards.leaf(domain).url,
          topology: 'sharded',
          log: testLogger(),
          masterKey,
        }),
      );
    }
    hub = await connectNats({ url: shards.hub.url, name: 'cim-gateway' });
    // Each service's interest crosses its leaf connection to the hub.
    for (const domain of DOMAINS)
      await eventually(() =>
        hub.request(`$SRV.PING.cim-${domain}`, '', { timeout: 1000 }),
      );
    gateway = await startGateway({
      nc: hub,
      host: '127.0.0.1',
      port: 0,
      services: domainServices,
      files: domainFiles,
      log: testLogger(),
      requestTimeoutMs: 3000,
    });
    const address = `127.0.0.1:${gateway.port}`;
    graphs = createClient(GraphCommandService, address);
    graphQueries = createClient(GraphQueryService, address);
    locations = createClient(LocationCommandService, address);
    locationQueries = createClient(LocationQueryService, address);
    spaces = createClient(ConceptualspacesQueryService, address);
    documents = createClient(DocumentCommandService, address);
  });

  afterAll(async () => {
    for (const client of [
      graphs,
      graphQueries,
      locations,
      locationQueries,
      spaces,
      documents,
    ])
      client.close();
    await gateway.stop();
    await Promise.all(services.map((s) => s.stop()));
    await hub.close();
    await shards.stop();
  });

  /** Waits until the conceptualspaces shard has applied `version` of a graph from the graph shard. */
  const placed = (graphId: string, version: bigint) =>
    eventually(async () => {
      const features = await spaces.graphFeatures({
        conceptualspacesId: GRAPH_SPACE_ID,
        graphId,
      });
      if (features.appliedGraphVersion !== version)
        throw new Error(`applied ${features.appliedGraphVersion}`);
      return features;
    });

  it('connects every shard to the hub without compression', async () => {
    const response = await fetch(`${shards.hub.monitorUrl}/leafz`);
    const { leafs } = (await response.json()) as {
      leafs: { compression: string }[];
    };
    expect(leafs.map((leaf) => leaf.compression)).toEqual(
      DOMAINS.map(() => 'off'),
    );
  });

  it('stores each domain only on its own shard, and reacts across shards', async () => {
    const { aggregateId: graphId } = await graphs.createGraph({ name: 'g' });
    const added = await graphs.addNode({ graphId, nodeId: 'a', nodeType: 't' });
    await locations.defineLocation({
      name: 'Depot',
      locationType: LocationType.LOGICAL,
    });

    const leafOf = (domain: string) =>
      connect({ servers: shards.leaf(domain).url });
    const graphLeaf = await leafOf('graph');
    const locationLeaf = await leafOf('location');
    try {
      expect(await countCommits(graphLeaf, 'graph')).toBe(2);
      expect(await countCommits(locationLeaf, 'location')).toBe(1);
      // The graph shard holds no location stream, and the other way round.
      await expect(countCommits(graphLeaf, 'location')).rejects.toThrow();
      await expect(countCommits(locationLeaf, 'graph')).rejects.toThrow();
    } finally {
      await graphLeaf.close();
      await locationLeaf.close();
    }
    // The conceptualspaces service consumes the graph stream on another shard.
    expect((await placed(graphId, added.version)).nodeCount).toBe(1n);
  });

  it('losing one shard stops that domain only, and restarting it loses nothing', async () => {
    const { aggregateId: graphId } = await graphs.createGraph({ name: 'kept' });
    let last = 1n;
    for (let i = 0; i < 20; i++) {
      last = (await graphs.addNode({ graphId, nodeId: `n${i}`, nodeType: 't' }))
        .version;
    }
    // The space has the graph before its shard goes: the reaction cannot read it while it is down.
    await placed(graphId, last);

    await shards.leaf('graph').kill('SIGTERM');
    await shards.waitForLeaves(DOMAINS.length - 1);

    const down = await failure(graphQueries.graphInfo({ graphId }));
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(down.details).toBe(
      'graph service unavailable: no service is answering',
    );
    const refused = await failure(
      graphs.addNode({ graphId, nodeId: 'during', nodeType: 't' }),
    );
    expect(refused.code).toBe(status.UNAVAILABLE);
    // The other domains keep serving, reads and writes.
    const depot = await locations.defineLocation({
      name: 'Still here',
      locationType: LocationType.LOGICAL,
    });
    const got = await locationQueries.getLocation({
      locationId: depot.aggregateId,
      minVersion: depot.version,
    });
    expect(got.location?.name).toBe('Still here');
    expect(
      (
        await spaces.graphFeatures({
          conceptualspacesId: GRAPH_SPACE_ID,
          graphId,
        })
      ).nodeCount,
    ).toBeGreaterThan(0n);

    await shards.leaf('graph').restart();
    await shards.waitForLeaves(DOMAINS.length);
    // The service reconnects by itself; the gateway finds it again.
    const after = await eventually(() =>
      graphs.addNode({ graphId, nodeId: 'after', nodeType: 't' }),
    );
    expect(after.version).toBe(last + 1n);
    const info = await graphQueries.graphInfo({
      graphId,
      minVersion: after.version,
    });
    expect(info.graph?.nodeCount).toBe(21n);
    // The reaction on the other shard resumes where it stopped.
    await placed(graphId, after.version);
    // Nothing acknowledged was lost, and the history verifies, read through the hub.
    const report = await eventually(async () => {
      const r = await verifyDomain(hub, 'graph', { jetStreamDomain: 'graph' });
      if (r.unsealed.commits > 0) throw new Error('not sealed yet');
      return r;
    });
    expect(report.findings).toEqual([]);
    expect(report.clean).toBe(true);
  });

  it('the gateway and the shards reconnect after the hub is killed and restarted', async () => {
    const { aggregateId: graphId } = await graphs.createGraph({ name: 'hub' });
    await shards.hub.kill('SIGKILL');
    const cut = await failure(graphQueries.graphInfo({ graphId }));
    expect(cut.code).toBe(status.UNAVAILABLE);

    await shards.hub.restart();
    await shards.waitForLeaves(DOMAINS.length);
    // Same gateway process, same connection object: it reconnected by itself.
    const added = await eventually(() =>
      graphs.addNode({ graphId, nodeId: 'back', nodeType: 't' }),
    );
    expect(added.version).toBe(2n);
    const depot = await eventually(() =>
      locations.defineLocation({
        name: 'After the hub',
        locationType: LocationType.LOGICAL,
      }),
    );
    expect(depot.version).toBe(1n);
    await placed(graphId, added.version);
  });

  it('keeps one vault for the fleet: a subject forgotten through one shard is forgotten on all', async () => {
    const { aggregateId: graphId } = await graphs.createGraph({ name: 'p' });
    const added = await graphs.addNode({
      graphId,
      nodeId: 'n',
      nodeType: 't',
      label: 'Alice Example',
    });
    const label = async () =>
      (await graphQueries.listNodes({ graphId, minVersion: added.version }))
        .nodes[0]?.label;
    expect(await label()).toBe('Alice Example');
    // Asked of the document service, on another shard: the graph's labels are that subject's too.
    await documents.forgetSubject({ subjectId: graphId, reason: 'test' });
    await eventually(async () => {
      if ((await label()) !== ERASED) throw new Error('not erased yet');
    });
  });
});
