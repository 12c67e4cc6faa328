import { startNatsShards } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  Cleanup,
  compared,
  informational,
  type Benchmark,
} from './benchmark.js';
import { graphLoad } from './graph-service-load.js';
import { startNatsServer } from './nats-harness.js';
import { startGraphService, type ChildHandle } from './processes.js';

/** Commands in flight, as in the other command benchmarks. */
const WINDOW = 256;

const FULL = { rounds: 3, graphs: 2_000, warmUp: 3_000, commands: 15_000 };
const QUICK = { rounds: 1, graphs: 300, warmUp: 300, commands: 3_000 };

/** Where the load runs: which servers, which URL the service and the client use. */
interface Layout {
  readonly serviceUrl: string;
  readonly clientUrl: string;
  /** The nats-server the service connects to. */
  readonly serverPid: number;
}

type Setting = 'single' | 'single-2' | 'sharded';

/**
 * Issue 4: AddNode throughput, 256 in flight over NATS, in three layouts of
 * the same load: one nats-server with one graph instance; the same with two
 * instances in the graph queue group; and the sharded topology, where the
 * graph service sits on its own leaf node and the client on the hub (as the
 * gateway does), so every command and reply crosses the leaf connection.
 * Fast durability, so the disk does not hide the topology's cost. Rounds
 * alternate the settings; each keeps its best.
 */
export const benchmark: Benchmark = {
  name: 'fleet-topologies',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;
    const best: Record<Setting, number> = {
      single: 0,
      'single-2': 0,
      sharded: 0,
    };
    for (let round = 0; round < counts.rounds; round++) {
      for (const setting of ['single', 'sharded', 'single-2'] as const) {
        const perSecond = await measure(setting, counts, childNodeArgs);
        best[setting] = Math.max(best[setting], perSecond);
        note(`${setting}: ${perSecond.toFixed(0)} cmd/s`);
      }
    }
    return [
      informational('fleet-single-1-instance-add-node', best.single, 'cmd/s'),
      compared(
        'fleet-single-2-instances-vs-1-add-node',
        best['single-2'],
        'cmd/s',
        best.single,
        '',
      ),
      compared(
        'fleet-sharded-vs-single-add-node',
        best.sharded,
        'cmd/s',
        best.single,
        '>=0.8',
      ),
    ];
  },
};

async function measure(
  setting: Setting,
  counts: typeof FULL,
  nodeArgs: readonly string[],
): Promise<number> {
  const cleanup = new Cleanup();
  try {
    const layout = await start(setting, cleanup);
    const nc: NatsConnection = cleanup.add(
      await connect({ servers: layout.clientUrl }),
      (c) => c.close(),
    );
    const services: ChildHandle[] = [];
    for (let i = 0; i < (setting === 'single-2' ? 2 : 1); i++) {
      services.push(
        cleanup.add(
          await startGraphService(nc, {
            natsUrl: layout.serviceUrl,
            durability: 'fast',
            nodeArgs,
          }),
          (child) => child.stop(),
        ),
      );
    }
    const load = await graphLoad(
      nc,
      services,
      layout.serverPid,
      { graphs: counts.graphs, window: WINDOW },
      cleanup,
    );
    const timed = await load.addNodes({
      warmUp: counts.warmUp,
      count: counts.commands,
      window: WINDOW,
    });
    return timed.perSecond;
  } finally {
    await cleanup.run();
  }
}

async function start(setting: Setting, cleanup: Cleanup): Promise<Layout> {
  if (setting === 'sharded') {
    const shards = cleanup.add(await startNatsShards(['graph']), (s) =>
      s.stop(),
    );
    const leaf = shards.leaf('graph');
    return {
      serviceUrl: leaf.url,
      clientUrl: shards.hub.url,
      serverPid: leaf.pid,
    };
  }
  const server = cleanup.add(await startNatsServer(), (s) => s.stop());
  return {
    serviceUrl: server.url,
    clientUrl: server.url,
    serverPid: server.pid,
  };
}
