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
import { measureAppendLimit, type AppendLimit } from './jetstream-append.js';
import { startNatsServer } from './nats-harness.js';
import { measureThin } from './thin-command.js';
import {
  lastCommit,
  withGraphLoad,
  type AddNodeResult,
} from './graph-service-load.js';
import { startGraphService, whileRunning } from './processes.js';
import { medianRound } from './stats.js';

/** Requests in flight, for the raw appends and the commands alike. */
const WINDOW = 256;

const FULL = {
  /** Raw appends and AddNode commands alternate this many times; the medians are compared. */
  rounds: 3,
  /** Per round. */
  appends: 66_000,
  appendWarmUp: 20_000,
  graphs: 10_000,
  /** Per round. */
  commands: 33_000,
  commandWarmUp: 10_000,
};

const QUICK = {
  rounds: 1,
  appends: 20_000,
  appendWarmUp: 2_000,
  graphs: 1_000,
  commands: 10_000,
  commandWarmUp: 1_000,
};

type Counts = typeof FULL;

/**
 * (a) The JetStream append limit: raw pipelined appends with the headers our
 * appends carry, each carrying the bytes of a real AddNode commit (taken from
 * a short run of the service). (b) AddNode commands over NATS to the graph
 * service in its own process, 256 in flight, round-robin over 10,000 graphs
 * created first (untimed). a and b alternate in rounds (a b, b a, a b), each
 * on its own nats-server, so that a shared machine's slow spells and the
 * disk's growing write-back fall on both alike; their median rounds are
 * compared. Reports b's rate against a, b's latency under that load, and the
 * CPU each process spent per operation. For information, the same load
 * on a thin responder that only decodes, appends the same commit bytes and
 * answers: the share of the limit a command path with no domain work gets.
 */
export const benchmark: Benchmark = {
  name: 'graph-add-node',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;

    // 1. One AddNode commit as the service writes it.
    const commit = await sampleCommit();

    // 2 and 3. The limit, with those bytes, and the service under load, in alternating rounds.
    const { limit, service } = await alternatingRounds(
      counts,
      commit,
      childNodeArgs,
      note,
    );

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
      // No target: creating an aggregate reads the stream once and makes its data subject's key.
      informational('graph-create-nats', service.createdPerSecond, 'cmd/s'),
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
  /** CreateGraph commands per second while the graphs were created (256 in flight, each a new data subject). */
  readonly createdPerSecond: number;
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

/**
 * Raw appends of `commit` on a nats-server of their own, and AddNode on the
 * graph service in its own process (the graphs first, untimed), alternating
 * for `counts.rounds` rounds, each warmed up in its first round. The median
 * round of each is kept.
 */
async function alternatingRounds(
  counts: Counts,
  commit: Uint8Array,
  childNodeArgs: readonly string[],
  note: (text: string) => void,
): Promise<{ limit: AppendLimit; service: ServiceResult }> {
  return withNats((nc, serverPid) =>
    withGraphLoad(
      {
        service: { nodeArgs: childNodeArgs },
        graphs: counts.graphs,
        window: WINDOW,
      },
      async (load) => {
        note(
          `created ${counts.graphs} graphs: ${load.createdPerSecond.toFixed(0)} CreateGraph/s`,
        );
        const limits: AppendLimit[] = [];
        const loaded: AddNodeResult[] = [];
        const raw = async (round: number) =>
          limits.push(
            await measureAppendLimit(nc, {
              count: counts.appends,
              warmUp: round === 0 ? counts.appendWarmUp : 0,
              window: WINDOW,
              payload: commit,
              serverPid,
            }),
          );
        const commands = async (round: number) =>
          loaded.push(
            await load.addNodes({
              warmUp: round === 0 ? counts.commandWarmUp : 0,
              count: counts.commands,
              window: WINDOW,
            }),
          );
        for (let round = 0; round < counts.rounds; round++) {
          // a b, b a, …: a drift of the machine during the run falls on both alike.
          if (round % 2 === 0) {
            await raw(round);
            await commands(round);
          } else {
            await commands(round);
            await raw(round);
          }
          note(
            `round ${round + 1}: raw appends of ${commit.length} B ${limits[round]!.perSecond.toFixed(0)} msg/s, AddNode ${loaded[round]!.perSecond.toFixed(0)} cmd/s`,
          );
        }
        const service = medianRound(loaded);
        note(
          `AddNode, median round: ${service.perSecond.toFixed(0)} cmd/s, p50 ${service.latency.p50.toFixed(2)} ms, p99 ${service.latency.p99.toFixed(2)} ms`,
        );
        // Every command left its commit; the last one on a graph is an AddNode commit.
        return {
          limit: medianRound(limits),
          service: {
            ...service,
            commit: await load.lastCommit(),
            createdPerSecond: load.createdPerSecond,
          },
        };
      },
    ),
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
