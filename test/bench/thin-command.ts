import { connect } from '@nats-io/transport-node';
import { Cleanup } from './benchmark.js';
import {
  addNodeRequest,
  checkCommandReply,
  commandHeaders,
  graphId,
} from './graph-fixtures.js';
import { freePort, startNatsServer } from './nats-harness.js';
import {
  PipelinedRequester,
  mustSucceed,
  type PipelinedRequest,
} from './pipelined-requester.js';
import { cpuMeter, startChild } from './processes.js';
import { rate } from './stats.js';

/** The subject the thin responder takes commands on. */
const THIN_SUBJECT = 'cim.bench.cmd.AddNode';

/** An AddNode load on the thin command responder. */
export interface ThinLoad {
  /** Graphs the commands go round-robin over. */
  readonly graphs: number;
  readonly warmUp: number;
  readonly commands: number;
  /** Commands in flight. */
  readonly window: number;
  /** The commit bytes appended for every command. */
  readonly commit: Uint8Array;
  /** strict: a `sync_interval: always` server and atomic batches; default fast. */
  readonly durability?: 'strict' | 'fast';
  readonly childNodeArgs: readonly string[];
}

/** What the thin responder reached. */
export interface ThinResult {
  readonly perSecond: number;
  readonly serviceCpuUs: number | undefined;
  readonly serverCpuUs: number | undefined;
  readonly clientCpuUs: number | undefined;
}

/**
 * AddNode commands, as the graph benchmarks send them, to the thin command
 * responder (test/bench/thin-command-responder.ts) on a server of its own:
 * the floor of the command path, with no domain work in it.
 */
export async function measureThin(load: ThinLoad): Promise<ThinResult> {
  const strict = load.durability === 'strict';
  const cleanup = new Cleanup();
  try {
    const server = cleanup.add(
      await startNatsServer(strict ? { syncAlways: true } : {}),
      (s) => s.stop(),
    );
    const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
      c.close(),
    );
    const httpPort = await freePort();
    const responder = cleanup.add(
      await startChild({
        name: 'thin command responder',
        entry: 'test/dist/bench/thin-command-responder.js',
        env: {
          CIM_NATS_URL: server.url,
          CIM_HTTP_PORT: String(httpPort),
          CIM_DURABILITY: strict ? 'strict' : 'fast',
          CIM_BENCH_SUBJECT: THIN_SUBJECT,
          CIM_BENCH_COMMIT: Buffer.from(load.commit).toString('base64'),
        },
        httpPort,
        nodeArgs: load.childNodeArgs,
      }),
      (child) => child.stop(),
    );
    const requester = cleanup.add(new PipelinedRequester(nc), (r) => r.close());
    let sent = 0;
    const next = (): PipelinedRequest => ({
      subject: THIN_SUBJECT,
      payload: addNodeRequest(graphId(sent++ % load.graphs)),
      headers: commandHeaders(),
    });
    const run = (label: string, count: number) =>
      mustSucceed(
        requester,
        label,
        { count, window: load.window, request: next, check: checkCommandReply },
        [responder],
      );
    await run('thin warm-up', load.warmUp);
    const cpu = cpuMeter([responder.pid, server.pid, process.pid]);
    const timed = await run('thin AddNode', load.commands);
    const [serviceCpuUs, serverCpuUs, clientCpuUs] = cpu(load.commands);
    return {
      perSecond: rate(timed.replies, timed.seconds),
      serviceCpuUs,
      serverCpuUs,
      clientCpuUs,
    };
  } finally {
    await cleanup.run();
  }
}
