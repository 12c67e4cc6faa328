import { HUB_JETSTREAM_DOMAIN, shardDomain } from '@cim/kernel';
import { topologyBlocks } from '@cim/nats-topology';
import {
  freePort,
  natsServerBinary,
  retryOnPortClash,
  startNatsServer,
  type NatsServerHandle,
} from './nats-server.js';

/** The sharded topology on loopback: a hub and one leaf node per domain. */
export interface NatsShardsHandle extends AsyncDisposable {
  /** Where the gateway and tools connect; JetStream domain `hub`. */
  readonly hub: NatsServerHandle;
  /** Each domain's leaf node, whose JetStream domain is the domain's name. */
  readonly leaves: ReadonlyMap<string, NatsServerHandle>;
  /** The leaf node a domain's service connects to. */
  leaf(domain: string): NatsServerHandle;
  /** Resolves once the hub counts every running leaf as connected. */
  waitForLeaves(count?: number, timeoutMs?: number): Promise<void>;
  /** Stops every server; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the sharded topology of deploy/nats with the same config blocks
 * (leaf-node remotes and listener, JetStream domains) on free loopback
 * ports, and resolves once every leaf has joined the hub.
 */
export async function startNatsShards(
  domains: readonly string[],
  options: { readonly syncAlways?: boolean } = {},
): Promise<NatsShardsHandle> {
  const binary = natsServerBinary();
  const sync =
    options.syncAlways === undefined ? {} : { syncAlways: options.syncAlways };
  const { hub, leafPort } = await retryOnPortClash(async () => {
    const port = await freePort();
    const server = await startNatsServer({
      binary,
      ...sync,
      name: 'cim-hub',
      jetstreamDomain: HUB_JETSTREAM_DOMAIN,
      config: topologyBlocks({ leafListenPort: port }).join('\n'),
    });
    return { hub: server, leafPort: port };
  });
  const leaves = new Map<string, NatsServerHandle>();
  const stop = async () => {
    await Promise.all([...leaves.values()].map((leaf) => leaf.stop()));
    await hub.stop();
  };
  try {
    for (const domain of domains) {
      leaves.set(
        domain,
        await startNatsServer({
          binary,
          ...sync,
          name: `cim-${domain}`,
          jetstreamDomain: shardDomain(domain),
          config: topologyBlocks({ hubLeafPort: leafPort }).join('\n'),
        }),
      );
    }
    const handle: NatsShardsHandle = {
      hub,
      leaves,
      leaf: (domain) => {
        const leaf = leaves.get(domain);
        if (leaf === undefined) throw new Error(`no leaf node for ${domain}`);
        return leaf;
      },
      waitForLeaves: (count = leaves.size, timeoutMs = 20_000) =>
        waitForLeafCount(hub, count, timeoutMs),
      stop,
      [Symbol.asyncDispose]: stop,
    };
    await handle.waitForLeaves();
    return handle;
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForLeafCount(
  hub: NatsServerHandle,
  count: number,
  timeoutMs: number,
): Promise<void> {
  if (hub.monitorUrl === undefined)
    throw new Error('the hub needs monitoring to count its leaf nodes');
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${hub.monitorUrl}/leafz`);
      const body = (await response.json()) as { leafnodes?: number };
      seen = body.leafnodes ?? 0;
      if (seen === count) return;
    } catch {
      // The hub is still starting.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `the hub has ${seen} leaf nodes connected, expected ${count}:\n${hub.output()}`,
  );
}
