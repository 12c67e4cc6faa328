import { performance } from 'node:perf_hooks';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createRawClient, type RawGrpcClient } from '@cim/grpc';
import { methodSubject } from '@cim/kernel';
import { request } from '@cim/messaging';
import {
  GraphCommandService,
  GraphInfoRequestSchema,
  GraphInfoResponseSchema,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
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
import { freePort, startNatsServer } from './nats-harness.js';
import {
  CpuTotals,
  startChild,
  startGatewayProcess,
  startGraphService,
  whileRunning,
} from './processes.js';
import { summarize } from './stats.js';

const FULL = { calls: 5_000, warmUp: 1_000, rounds: 5 };
const QUICK = { calls: 1_000, warmUp: 300, rounds: 2 };

/** Nodes in the graph that GraphInfo describes, so its counts are not all zero. */
const NODES = 10;

const graphInfo = GraphQueryService.method.graphInfo;

/** The subject the bare NATS responder answers on. */
const ECHO_SUBJECT = 'cim.bench.echo';

/**
 * (c) vs (d) at concurrency 1, with the client in this process and every
 * server in a process of its own: (c) a bare grpc-js server answering
 * GraphInfo with the bytes of a real GraphInfo reply; (d) GraphInfo through
 * the gateway → NATS → graph service. Both use the same raw grpc-js client and
 * the same request bytes; they alternate in rounds so that drift on the
 * machine hits both alike. Reports d's p50 against c's. For the floor of that
 * ratio, also a bare NATS request/reply of the same bytes between this process
 * and another (the hop the gateway adds to c, without gRPC or service work).
 */
export const benchmark: Benchmark = {
  name: 'graph-info',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;
    const cleanup = new Cleanup();
    try {
      // 1. NATS, the graph service and the gateway, each in its own process.
      const server = cleanup.add(await startNatsServer(), (s) => s.stop());
      const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
        c.close(),
      );
      const service = cleanup.add(
        await startGraphService(nc, {
          natsUrl: server.url,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );
      const gateway = cleanup.add(
        await startGatewayProcess({
          natsUrl: server.url,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );

      // 2. One graph with a few nodes, committed over NATS.
      const graph = graphId(0);
      await request(
        nc,
        methodSubject(GraphCommandService.method.createGraph),
        createGraphRequest(graph),
        { headers: commandHeaders() },
      );
      for (let i = 0; i < NODES; i++) {
        await request(
          nc,
          methodSubject(GraphCommandService.method.addNode),
          addNodeRequest(graph),
          { headers: commandHeaders() },
        );
      }

      // 3. A real GraphInfo reply through the gateway: its bytes are what the baseline answers.
      const viaGateway = cleanup.add(
        createRawClient(`127.0.0.1:${gateway.grpcPort}`),
        (c) => c.close(),
      );
      // The first call waits for the read model to hold every commit; timed calls are plain reads.
      const reply = await viaGateway.unary(
        graphInfo,
        graphInfoRequest(graph, BigInt(NODES + 1)),
      );
      const requestBytes = graphInfoRequest(graph, 0n);
      const info = fromBinary(GraphInfoResponseSchema, reply);
      if (info.graph?.nodeCount !== BigInt(NODES))
        throw new Error(`GraphInfo reports ${info.graph?.nodeCount} nodes`);

      // 4. The bare grpc-js server, answering with those bytes.
      const grpcPort = await freePort();
      const httpPort = await freePort();
      const echoServer = cleanup.add(
        await startChild({
          name: 'grpc echo server',
          entry: 'test/dist/bench/grpc-echo-server.js',
          env: {
            CIM_GRPC_PORT: String(grpcPort),
            CIM_HTTP_PORT: String(httpPort),
            CIM_BENCH_REPLY: Buffer.from(reply).toString('base64'),
          },
          httpPort,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );
      const bare = cleanup.add(createRawClient(`127.0.0.1:${grpcPort}`), (c) =>
        c.close(),
      );
      const echoed = await bare.unary(graphInfo, requestBytes);
      if (echoed.length !== reply.length)
        throw new Error('the echo server answers with other bytes');

      // 5. The bare NATS hop: a responder in its own process answering with those bytes.
      const echoHttpPort = await freePort();
      const natsEcho = cleanup.add(
        await startChild({
          name: 'nats echo responder',
          entry: 'test/dist/bench/nats-echo-responder.js',
          env: {
            CIM_NATS_URL: server.url,
            CIM_HTTP_PORT: String(echoHttpPort),
            CIM_BENCH_SUBJECT: ECHO_SUBJECT,
            CIM_BENCH_REPLY: Buffer.from(reply).toString('base64'),
          },
          httpPort: echoHttpPort,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );

      // 6. Warm every path, then alternate timed rounds; a child that dies fails the run at once.
      const children = [service, gateway, echoServer, natsEcho];
      await whileRunning(
        children,
        sequential(bare, requestBytes, counts.warmUp),
      );
      await whileRunning(
        children,
        sequential(viaGateway, requestBytes, counts.warmUp),
      );
      await whileRunning(
        children,
        natsRequests(nc, requestBytes, counts.warmUp),
      );
      const perRound = Math.ceil(counts.calls / counts.rounds);
      const bareMs: Float64Array[] = [];
      const gatewayMs: Float64Array[] = [];
      const natsMs: Float64Array[] = [];
      // CPU time of every process on each path, summed over the rounds.
      const bareCpu = new CpuTotals([echoServer.pid, process.pid]);
      const gatewayCpu = new CpuTotals([
        gateway.pid,
        service.pid,
        server.pid,
        process.pid,
      ]);
      for (let round = 0; round < counts.rounds; round++) {
        bareMs.push(
          await whileRunning(
            children,
            bareCpu.during(() => sequential(bare, requestBytes, perRound)),
          ),
        );
        gatewayMs.push(
          await whileRunning(
            children,
            gatewayCpu.during(() =>
              sequential(viaGateway, requestBytes, perRound),
            ),
          ),
        );
        natsMs.push(
          await whileRunning(
            children,
            natsRequests(nc, requestBytes, perRound),
          ),
        );
      }
      const c = summarize(concat(bareMs));
      const d = summarize(concat(gatewayMs));
      const n = summarize(concat(natsMs));
      note(
        `GraphInfo (${reply.length} B reply): bare grpc-js p50 ${c.p50.toFixed(3)} ms, via gateway p50 ${d.p50.toFixed(3)} ms; ` +
          `a bare NATS request to another process p50 ${n.p50.toFixed(3)} ms, so a gateway that added only its NATS hop would be at ${((c.p50 + n.p50) / c.p50).toFixed(2)}× the bare call`,
      );
      const [echoUs, bareClientUs] = bareCpu.perOperation(c.count);
      const [gatewayUs, serviceUs, serverUs, clientUs] =
        gatewayCpu.perOperation(d.count);
      return [
        informational('grpc-echo-p50', c.p50, 'ms'),
        informational('grpc-echo-p99', c.p99, 'ms'),
        ...cpuLines('grpc-echo', 'call', {
          'server-cpu': echoUs,
          'client-cpu': bareClientUs,
        }),
        compared('gateway-graph-info-p50', d.p50, 'ms', c.p50, '<=1.5'),
        informational('gateway-graph-info-p99', d.p99, 'ms'),
        // The floor of the ratio above: the bare call plus one bare NATS request/reply between processes.
        informational('nats-echo-p50', n.p50, 'ms'),
        informational('gateway-graph-info-floor', (c.p50 + n.p50) / c.p50, 'x'),
        ...cpuLines('gateway-graph-info', 'call', {
          'gateway-cpu': gatewayUs,
          'service-cpu': serviceUs,
          'nats-cpu': serverUs,
          'client-cpu': clientUs,
        }),
      ];
    } finally {
      await cleanup.run();
    }
  },
};

function graphInfoRequest(graph: string, minVersion: bigint): Uint8Array {
  return toBinary(
    GraphInfoRequestSchema,
    create(GraphInfoRequestSchema, { graphId: graph, minVersion }),
  );
}

/** GraphInfo through `client`, one call at a time. */
const sequential = (
  client: RawGrpcClient,
  requestBytes: Uint8Array,
  count: number,
) => oneAtATime(count, () => client.unary(graphInfo, requestBytes));

/** The request bytes to the NATS echo responder, one request at a time. */
const natsRequests = (
  nc: NatsConnection,
  requestBytes: Uint8Array,
  count: number,
) =>
  oneAtATime(count, () =>
    nc.request(ECHO_SUBJECT, requestBytes, { timeout: 5_000 }),
  );

/** Runs `call` `count` times, each after the last one answered; returns each call's milliseconds. */
async function oneAtATime(
  count: number,
  call: () => Promise<unknown>,
): Promise<Float64Array> {
  const ms = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call();
    ms[i] = performance.now() - started;
  }
  return ms;
}

function concat(parts: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}
