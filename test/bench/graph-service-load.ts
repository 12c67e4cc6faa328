import { eventSubject, methodSubject, streamName } from '@cim/kernel';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import type { NatsServerOptions } from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Cleanup } from './benchmark.js';
import {
  addNodeRequest,
  checkCommandReply,
  commandHeaders,
  createGraphRequest,
  graphId,
} from './graph-fixtures.js';
import { startNatsServer } from './nats-harness.js';
import {
  PipelinedRequester,
  mustSucceed,
  type PipelinedRequest,
} from './pipelined-requester.js';
import {
  cpuMeter,
  startGraphService,
  type ChildHandle,
  type GraphServiceOptions,
} from './processes.js';
import { rate, summarize, type Summary } from './stats.js';

/** One fresh nats-server with the graph service on it, and the graphs that AddNode commands name. */
export interface GraphLoadSetup {
  /** How the nats-server runs, e.g. `{ syncAlways: true }`; default: as the harness starts it. */
  readonly server?: NatsServerOptions;
  /** How the graph service runs. */
  readonly service: Omit<GraphServiceOptions, 'natsUrl'>;
  /** Graphs created first, untimed. */
  readonly graphs: number;
  /** CreateGraph commands in flight while they are created. */
  readonly window: number;
}

/** One timed stretch of AddNode commands. */
export interface AddNodeRun {
  /** Commands sent first, untimed. */
  readonly warmUp: number;
  /** Commands timed. */
  readonly count: number;
  /** Commands in flight; 1 sends one at a time. */
  readonly window: number;
}

/** What a timed stretch of AddNode commands measured. */
export interface AddNodeResult {
  readonly perSecond: number;
  /** Round-trip milliseconds per command. */
  readonly latency: Summary;
  /** CPU microseconds per command in the service, the nats-server and this (the requesting) process. */
  readonly serviceCpuUs: number | undefined;
  readonly serverCpuUs: number | undefined;
  readonly clientCpuUs: number | undefined;
}

/** The graph service under load, handed to the caller of {@link withGraphLoad}. */
export interface GraphLoad {
  /** This process's connection to the service's nats-server. */
  readonly nc: NatsConnection;
  /** CreateGraph commands per second while the graphs were created. */
  readonly createdPerSecond: number;
  /** Runs AddNode commands round-robin over the graphs, each with a fresh node id and command id. */
  addNodes(run: AddNodeRun): Promise<AddNodeResult>;
  /** The last commit stored for the first graph, byte for byte: an AddNode commit once any ran. */
  lastCommit(): Promise<Uint8Array>;
}

/**
 * Starts a fresh nats-server and the graph service as a child process,
 * creates the graphs (explicit ids, so AddNode can name them), runs `use`,
 * and stops everything whether `use` finished or threw.
 */
export async function withGraphLoad<T>(
  setup: GraphLoadSetup,
  use: (load: GraphLoad) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  try {
    const server = cleanup.add(await startNatsServer(setup.server), (s) =>
      s.stop(),
    );
    const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
      c.close(),
    );
    const service = cleanup.add(
      await startGraphService(nc, { ...setup.service, natsUrl: server.url }),
      (child) => child.stop(),
    );
    const load = await graphLoad(nc, [service], server.pid, setup, cleanup);
    return await use(load);
  } finally {
    await cleanup.run();
  }
}

/**
 * Creates the graphs through `nc` (explicit ids, so AddNode can name them)
 * and answers the AddNode load on them, served by `services` (any number of
 * instances, on any topology). CPU per command is measured for the first
 * service, the nats-server `serverPid` and this process.
 */
export async function graphLoad(
  nc: NatsConnection,
  services: readonly ChildHandle[],
  serverPid: number,
  setup: Pick<GraphLoadSetup, 'graphs' | 'window'>,
  cleanup: Cleanup,
): Promise<GraphLoad> {
  const requester = cleanup.add(new PipelinedRequester(nc), (r) => r.close());
  const createGraph = methodSubject(GraphCommandService.method.createGraph);
  const created = await mustSucceed(
    requester,
    'CreateGraph',
    {
      count: setup.graphs,
      window: setup.window,
      request: (i) => ({
        subject: createGraph,
        payload: createGraphRequest(graphId(i)),
        headers: commandHeaders(),
      }),
      check: checkCommandReply,
    },
    services,
  );

  const addNode = methodSubject(GraphCommandService.method.addNode);
  let sent = 0;
  const nextAddNode = (): PipelinedRequest => ({
    subject: addNode,
    payload: addNodeRequest(graphId(sent++ % setup.graphs)),
    headers: commandHeaders(),
  });
  return {
    nc,
    createdPerSecond: rate(created.replies, created.seconds),
    async addNodes({ warmUp, count, window }) {
      if (warmUp > 0) {
        await mustSucceed(
          requester,
          'AddNode warm-up',
          {
            count: warmUp,
            window,
            request: nextAddNode,
            check: checkCommandReply,
          },
          services,
        );
      }
      const cpu = cpuMeter([services[0]!.pid, serverPid, process.pid]);
      const timed = await mustSucceed(
        requester,
        'AddNode',
        {
          count,
          window,
          request: nextAddNode,
          check: checkCommandReply,
          latencies: true,
        },
        services,
      );
      const [serviceCpuUs, serverCpuUs, clientCpuUs] = cpu(count);
      return {
        perSecond: rate(timed.replies, timed.seconds),
        latency: summarize(timed.latenciesMs),
        serviceCpuUs,
        serverCpuUs,
        clientCpuUs,
      };
    },
    lastCommit: () => lastCommit(nc, setup.graphs + sent),
  };
}

/** Checks that the stream holds at least `commits` messages and returns the last commit of the first graph. */
export async function lastCommit(
  nc: NatsConnection,
  commits: number,
): Promise<Uint8Array> {
  const jsm = await jetstreamManager(nc);
  const stream = streamName('graph');
  const { messages } = (await jsm.streams.info(stream)).state;
  // Checkpoints (integrity on) only add to the count.
  if (messages < commits)
    throw new Error(
      `${stream} holds ${messages} messages, expected ${commits}`,
    );
  const last = await jsm.streams.getMessage(stream, {
    last_by_subj: eventSubject('graph', graphId(0)),
  });
  if (last === null) throw new Error(`${graphId(0)} has no commit`);
  // A copy: the message's bytes are a view into a larger read buffer.
  return last.data.slice();
}
