import { describe, expect, it } from '@jest/globals';
import { planTopology, renderConfig } from '../src/topology.js';

const DOMAINS = ['graph', 'location'];

/** Ports handed out in order from 5000, each listener once. */
function ports(): (listener: string) => Promise<number> {
  const given = new Map<string, number>();
  return (listener) => {
    if (given.has(listener)) throw new Error(`${listener} asked twice`);
    given.set(listener, 5000 + given.size);
    return Promise.resolve(given.get(listener)!);
  };
}

const plan = (kind: 'single' | 'sharded' | 'cluster') =>
  planTopology({
    kind,
    domains: DOMAINS,
    storeRoot: '/srv/nats',
    port: ports(),
  });

describe('planTopology', () => {
  it('single: one server that everyone connects to', async () => {
    const p = await plan('single');
    expect(p.servers.map((s) => s.name)).toEqual(['cim']);
    expect(p.clientUrl).toBe('nats://127.0.0.1:5000');
    expect(p.urlFor('graph')).toBe(p.clientUrl);
    expect(p.replicas).toBe(1);
  });

  it('sharded: a hub for the gateway and a leaf per domain in its own JetStream domain', async () => {
    const p = await plan('sharded');
    expect(p.servers.map((s) => [s.name, s.role, s.jetStreamDomain])).toEqual([
      ['cim-hub', 'hub', 'hub'],
      ['cim-graph', 'leaf', 'graph'],
      ['cim-location', 'leaf', 'location'],
    ]);
    const [hub, graph, location] = p.servers;
    expect(p.clientUrl).toBe(`nats://127.0.0.1:${hub!.port}`);
    expect(p.urlFor('graph')).toBe(`nats://127.0.0.1:${graph!.port}`);
    expect(p.urlFor('location')).toBe(`nats://127.0.0.1:${location!.port}`);
    expect(graph!.hubLeafPort).toBe(hub!.leafListenPort);
    expect(new Set(p.servers.map((s) => s.storeDir)).size).toBe(3);
    expect(p.replicas).toBe(1);
  });

  it('cluster: three routed nodes, R3, every URL for every client', async () => {
    const p = await plan('cluster');
    expect(p.servers.map((s) => s.name)).toEqual(['cim-1', 'cim-2', 'cim-3']);
    expect(p.replicas).toBe(3);
    expect(p.clientUrl.split(',')).toHaveLength(3);
    expect(p.urlFor('graph')).toBe(p.clientUrl);
    const routes = p.servers[0]!.cluster!.routes;
    expect(p.servers.map((s) => s.cluster!.port)).toEqual(routes);
  });
});

describe('renderConfig', () => {
  it('fsyncs before every ack in strict durability, not in fast', async () => {
    const [server] = (await plan('single')).servers;
    expect(renderConfig(server!, { syncAlways: true })).toMatch(
      /^\s*sync_interval: always$/m,
    );
    expect(renderConfig(server!, { syncAlways: false })).not.toMatch(
      /sync_interval/,
    );
  });

  it('points a leaf at the hub and the hub at its leaf listener, uncompressed', async () => {
    const [hub, graph] = (await plan('sharded')).servers;
    expect(renderConfig(hub!, { syncAlways: true })).toContain(
      `leafnodes {\n  listen: "127.0.0.1:${hub!.leafListenPort}"\n  compression: off\n}`,
    );
    const leaf = renderConfig(graph!, { syncAlways: true });
    expect(leaf).toContain(
      `{ url: "nats-leaf://127.0.0.1:${hub!.leafListenPort}", compression: off }`,
    );
    expect(leaf).toMatch(/^\s*domain: graph$/m);
  });

  it('routes a cluster node to the two others, not to itself', async () => {
    const [node] = (await plan('cluster')).servers;
    const text = renderConfig(node!, { syncAlways: true });
    const [self, ...others] = node!.cluster!.routes;
    expect(text).toContain(`listen: "127.0.0.1:${self}"`);
    for (const port of others)
      expect(text).toContain(`nats-route://127.0.0.1:${port}`);
    expect(text).not.toContain(`nats-route://127.0.0.1:${self}`);
  });
});
