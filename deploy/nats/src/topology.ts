import { HUB_JETSTREAM_DOMAIN, shardDomain } from '@cim/kernel';

/** The three ways the fleet's NATS can be laid out; the service code is the same in each. */
export const TOPOLOGY_KINDS = ['single', 'sharded', 'cluster'] as const;
export type TopologyKind = (typeof TOPOLOGY_KINDS)[number];

/** The nodes of the clustered topology: three, so that one may fail. */
export const CLUSTER_SIZE = 3;

/** One nats-server of a topology. */
export interface ServerSpec {
  /** `server_name`, unique in the topology and stable across restarts. */
  readonly name: string;
  readonly role: 'single' | 'hub' | 'leaf' | 'node';
  /** Client port on the loopback interface. */
  readonly port: number;
  /** The JetStream `store_dir`. */
  readonly storeDir: string;
  /** The CIM domain whose stream a leaf stores (sharded). */
  readonly serves?: string;
  /** The JetStream domain (sharded: `hub`, and one per leaf named after its CIM domain). */
  readonly jetStreamDomain?: string;
  /** The hub's port for leaf-node connections. */
  readonly leafListenPort?: number;
  /** The hub port a leaf connects to. */
  readonly hubLeafPort?: number;
  /** Cluster membership (clustered topology). */
  readonly cluster?: ClusterSpec;
}

export interface ClusterSpec {
  readonly name: string;
  /** This node's route port. */
  readonly port: number;
  /** Every node's route port, this one included. */
  readonly routes: readonly number[];
}

/** What runs where in one topology. */
export interface TopologyPlan {
  readonly kind: TopologyKind;
  readonly servers: readonly ServerSpec[];
  /** Where the gateway and the tools connect (comma-separated for a cluster). */
  readonly clientUrl: string;
  /** Stream and KV replicas the services must ask for. */
  readonly replicas: number;
  /** Where the instances of a domain's service connect. */
  urlFor(domain: string): string;
}

export interface PlanOptions {
  readonly kind: TopologyKind;
  /** The domains whose services run (sharded: one leaf each). */
  readonly domains: readonly string[];
  /** Each server keeps its store in `<storeRoot>/<server name>`. */
  readonly storeRoot: string;
  /**
   * A port for a named listener (`nats`, `hub`, `hub-leafnodes`,
   * `leaf-<domain>`, `node-<n>`, `node-<n>-routes`): callers reuse recorded
   * ports so that clients find a restarted server where it was.
   */
  readonly port: (listener: string) => Promise<number>;
}

/** Decides the servers of a topology and who connects where. */
export async function planTopology(
  options: PlanOptions,
): Promise<TopologyPlan> {
  const { kind, storeRoot } = options;
  const store = (name: string) => `${storeRoot}/${name}`;
  if (kind === 'single') {
    const server: ServerSpec = {
      name: 'cim',
      role: 'single',
      port: await options.port('nats'),
      storeDir: store('cim'),
    };
    const url = urlOf(server.port);
    return {
      kind,
      servers: [server],
      clientUrl: url,
      replicas: 1,
      urlFor: () => url,
    };
  }
  if (kind === 'cluster') {
    const routes: number[] = [];
    for (let n = 1; n <= CLUSTER_SIZE; n++)
      routes.push(await options.port(`node-${n}-routes`));
    const servers: ServerSpec[] = [];
    for (let n = 1; n <= CLUSTER_SIZE; n++) {
      servers.push({
        name: `cim-${n}`,
        role: 'node',
        port: await options.port(`node-${n}`),
        storeDir: store(`cim-${n}`),
        cluster: { name: 'cim', port: routes[n - 1]!, routes },
      });
    }
    const url = servers.map((s) => urlOf(s.port)).join(',');
    return {
      kind,
      servers,
      clientUrl: url,
      replicas: CLUSTER_SIZE,
      urlFor: () => url,
    };
  }
  const hubLeafPort = await options.port('hub-leafnodes');
  const hub: ServerSpec = {
    name: 'cim-hub',
    role: 'hub',
    port: await options.port('hub'),
    storeDir: store('cim-hub'),
    jetStreamDomain: HUB_JETSTREAM_DOMAIN,
    leafListenPort: hubLeafPort,
  };
  const leaves = new Map<string, ServerSpec>();
  for (const domain of options.domains) {
    leaves.set(domain, {
      name: `cim-${domain}`,
      role: 'leaf',
      port: await options.port(`leaf-${domain}`),
      storeDir: store(`cim-${domain}`),
      serves: domain,
      jetStreamDomain: shardDomain(domain),
      hubLeafPort,
    });
  }
  return {
    kind,
    servers: [hub, ...leaves.values()],
    clientUrl: urlOf(hub.port),
    replicas: 1,
    urlFor: (domain) => {
      const leaf = leaves.get(domain);
      // The gateway and tools sit on the hub.
      return urlOf(leaf === undefined ? hub.port : leaf.port);
    },
  };
}

/** How every server of a topology stores and limits. */
export interface RenderOptions {
  /** `sync_interval: always`: fsync before every acknowledgement (strict durability; nats-server 2.10+). */
  readonly syncAlways: boolean;
  /** Extra lines for the server's block, e.g. `http: 127.0.0.1:8222` or `ports_file_dir`. */
  readonly extra?: readonly string[];
}

/** The largest message the fleet sends: document content chunks and large imports. */
export const MAX_PAYLOAD = '8MB';

/** A server's complete nats-server configuration file. */
export function renderConfig(
  server: ServerSpec,
  options: RenderOptions,
): string {
  return [
    `# ${describe(server)}`,
    `server_name: ${quote(server.name)}`,
    `listen: ${quote(`127.0.0.1:${server.port}`)}`,
    `max_payload: ${MAX_PAYLOAD}`,
    ...(options.extra ?? []),
    jetStreamBlock(server, options.syncAlways),
    ...topologyBlocks(server),
    '',
  ].join('\n');
}

/** The `jetstream {}` block: store, domain, sync. */
export function jetStreamBlock(
  server: ServerSpec,
  syncAlways: boolean,
): string {
  return [
    'jetstream {',
    `  store_dir: ${quote(server.storeDir)}`,
    ...(server.jetStreamDomain === undefined
      ? []
      : [`  domain: ${server.jetStreamDomain}`]),
    ...(syncAlways ? ['  sync_interval: always'] : []),
    '}',
  ].join('\n');
}

/** The `leafnodes {}` and `cluster {}` blocks a server needs, if any. */
export function topologyBlocks(
  server: Pick<ServerSpec, 'leafListenPort' | 'hubLeafPort' | 'cluster'>,
): string[] {
  const blocks: string[] = [];
  // Leaf connections run uncompressed: left to itself, nats-server frames
  // every message on them in S2 (uncompressed below 10 ms RTT), which on
  // loopback or a LAN saves nothing. Measured on one 2-core machine, request/
  // reply across the leaf: hub and leaf CPU 23 against 24 µs per request,
  // 47.6k against 45.9k req/s (medians of six alternating pairs), a small
  // gain. Routes keep their default: `compression: off` there cost an R3
  // stream's appends more server CPU (75 against 65 µs per message).
  if (server.leafListenPort !== undefined) {
    blocks.push(
      `leafnodes {\n  listen: ${quote(`127.0.0.1:${server.leafListenPort}`)}\n  compression: off\n}`,
    );
  }
  if (server.hubLeafPort !== undefined) {
    // A leaf retries the hub every second (the server's default), so a restarted hub has its shards back at once.
    blocks.push(
      [
        'leafnodes {',
        `  remotes: [ { url: ${quote(`nats-leaf://127.0.0.1:${server.hubLeafPort}`)}, compression: off } ]`,
        '}',
      ].join('\n'),
    );
  }
  if (server.cluster !== undefined) {
    const { name, port, routes } = server.cluster;
    const others = routes
      .filter((route) => route !== port)
      .map((route) => quote(`nats-route://127.0.0.1:${route}`));
    blocks.push(
      [
        'cluster {',
        `  name: ${quote(name)}`,
        `  listen: ${quote(`127.0.0.1:${port}`)}`,
        `  routes: [${others.join(', ')}]`,
        '}',
      ].join('\n'),
    );
  }
  return blocks;
}

function describe(server: ServerSpec): string {
  switch (server.role) {
    case 'single':
      return 'the one server of the embedded default topology';
    case 'hub':
      return 'sharded topology: the hub, where the gateway and the tools connect';
    case 'leaf':
      return `sharded topology: the leaf node that stores the ${server.serves ?? ''} domain's stream`;
    case 'node':
      return 'clustered topology: one of three nodes; streams are replicated three times';
  }
}

function urlOf(port: number): string {
  return `nats://127.0.0.1:${port}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}
