import { methodSubject } from '@cim/kernel';
import { request } from '@cim/messaging';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  Cleanup,
  compared,
  cpuLines,
  informational,
  type Benchmark,
} from './benchmark.js';
import {
  addNodeRequest,
  commandHeaders,
  createGraphRequest,
  graphId,
} from './graph-fixtures.js';
import { measureAppendLimit } from './jetstream-append.js';
import { startNatsServer } from './nats-harness.js';
import { measureThin } from './thin-command.js';
import {
  lastCommit,
  withGraphLoad,
  type AddNodeResult,
} from './graph-service-load.js';
import { startGraphService, whileRunning } from './processes.js';

/** Requests in flight, for the raw appends and the commands alike. */
const WINDOW = 256;

const FULL = {
  appends: 200_000,
  appendWarmUp: 20_000,
  graphs: 10_000,
  commands: 100_000,
  commandWarmUp: 10_000,
};

const QUICK = {
  appends: 20_000,
  appendWarmUp: 2_000,
  graphs: 1_000,
  commands: 10_000,
  commandWarmUp: 1_000,
};

/**
 * (a) The JetStream append limit: raw pipelined appends with the headers our
 * appends carry, each carrying the bytes of a real AddNode commit (taken from
 * a short run of the service). (b) AddNode commands over NATS to the graph
 * service in its own process, 256 in flight, round-robin over 10,000 graphs
 * created first (untimed). Reports b's rate against a, b's latency under that
 * load, and the CPU each process spent per operation. Every part has its own
 * nats-server; a runs first, before b's hundreds of megabytes of writes
 * reach the disk and slow every process down. For information, the same load
 * on a thin responder that only decodes, appends the same commit bytes and
 * answers: the share of the limit a command path with no domain work gets.
 */
export const benchmark: Benchmark = {
  name: 'graph-add-node',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;

    // 1. One AddNode commit as the service writes it.
    const commit = await sampleCommit();

    // 2. The limit, with those bytes.
    const limit = await withNats(async (nc, serverPid) =>
      measureAppendLimit(nc, {
        count: counts.appends,
        warmUp: counts.appendWarmUp,
        window: WINDOW,
        payload: commit,
        serverPid,
      }),
    );
    note(
      `raw appends of ${commit.length} B: ${limit.perSecond.toFixed(0)} msg/s`,
    );

    // 3. The service under load.
    const service = await measureService(counts, childNodeArgs, note);

    // 4. The floor: the same load on a responder that only decodes, appends and answers.
    const thin = await measureThin({
      graphs: counts.graphs,
      warmUp: counts.commandWarmUp,
      commands: counts.commands,
      window: WINDOW,
      commit,
      childNodeArgs,
    });
    note(
      `a responder that only appends: ${thin.perSecond.toFixed(0)} cmd/s = ${(thin.perSecond / limit.perSecond).toFixed(2)} of the limit`,
    );
    // Ids are fixed-width; the varint version and timestamp move the size by a few bytes at most.
    if (Math.abs(service.commit.length - commit.length) > 8) {
      note(
        `stored AddNode commits are ${service.commit.length} B; the limit used ${commit.length} B`,
      );
    }

    return [
      informational('jetstream-append-limit', limit.perSecond, 'msg/s'),
      ...cpuLines('jetstream-append', 'msg', {
        'server-cpu': limit.serverCpuUs,
        'client-cpu': limit.clientCpuUs,
      }),
      informational('add-node-commit-bytes', commit.length, 'B'),
      compared(
        'graph-add-node-nats',
        service.perSecond,
        'cmd/s',
        limit.perSecond,
        '>=0.3',
      ),
      // No target: what a command path with no domain work reaches on the same machine.
      compared(
        'thin-command-nats',
        thin.perSecond,
        'cmd/s',
        limit.perSecond,
        '',
      ),
      ...cpuLines('thin-command', 'cmd', {
        'service-cpu': thin.serviceCpuUs,
        'server-cpu': thin.serverCpuUs,
        'client-cpu': thin.clientCpuUs,
      }),
      informational('graph-add-node-nats-p50', service.latency.p50, 'ms'),
      informational('graph-add-node-nats-p99', service.latency.p99, 'ms'),
      ...cpuLines('graph-add-node', 'cmd', {
        'service-cpu': service.serviceCpuUs,
        'server-cpu': service.serverCpuUs,
        'client-cpu': service.clientCpuUs,
      }),
    ];
  },
};

/** What the AddNode run measured. */
interface ServiceResult extends AddNodeResult {
  /** A stored AddNode commit, byte for byte. */
  readonly commit: Uint8Array;
}

/** Creates one graph, adds one node, and returns the commit the service stored for it. */
async function sampleCommit(): Promise<Uint8Array> {
  const cleanup = new Cleanup();
  try {
    const server = cleanup.add(await startNatsServer(), (s) => s.stop());
    const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
      c.close(),
    );
    const service = cleanup.add(
      await startGraphService(nc, { natsUrl: server.url }),
      (child) => child.stop(),
    );
    const graph = graphId(0);
    await whileRunning(
      [service],
      request(
        nc,
        methodSubject(GraphCommandService.method.createGraph),
        createGraphRequest(graph),
        { headers: commandHeaders() },
      ),
    );
    await whileRunning(
      [service],
      request(
        nc,
        methodSubject(GraphCommandService.method.addNode),
        addNodeRequest(graph),
        { headers: commandHeaders() },
      ),
    );
    return await lastCommit(nc, 2);
  } finally {
    await cleanup.run();
  }
}

/** AddNode on the graph service in its own process: the graphs first (untimed), a warm-up, then the timed commands. */
async function measureService(
  counts: typeof FULL,
  childNodeArgs: readonly string[],
  note: (text: string) => void,
): Promise<ServiceResult> {
  return withGraphLoad(
    {
      service: { nodeArgs: childNodeArgs },
      graphs: counts.graphs,
      window: WINDOW,
    },
    async (load) => {
      note(`created ${counts.graphs} graphs`);
      const result = await load.addNodes({
        warmUp: counts.commandWarmUp,
        count: counts.commands,
        window: WINDOW,
      });
      note(
        `AddNode: ${result.perSecond.toFixed(0)} cmd/s, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms`,
      );
      // Every command left its commit; the last one on a graph is an AddNode commit.
      return { ...result, commit: await load.lastCommit() };
    },
  );
}

async function withNats<T>(
  use: (nc: NatsConnection, serverPid: number) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  try {
    const server = cleanup.add(await startNatsServer(), (s) => s.stop());
    const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
      c.close(),
    );
    return await use(nc, server.pid);
  } finally {
    await cleanup.run();
  }
}
