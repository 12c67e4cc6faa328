// A child process: the bare grpc-js baseline for the gateway latency benchmark.
// It serves GraphInfo with fixed reply bytes (those of a real GraphInfo answer),
// so requests and replies have the gateway path's sizes without its NATS hop.
// Environment: CIM_GRPC_PORT, CIM_HTTP_PORT (/readyz), CIM_BENCH_REPLY (base64).
import { serviceDefinition } from '@cim/grpc';
import { GraphQueryService } from '@cim/proto/cim/graph/v1/graph_pb';
import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { serveReadiness } from './readiness.js';

const grpcPort = Number(process.env['CIM_GRPC_PORT']);
const httpPort = Number(process.env['CIM_HTTP_PORT']);
const reply = Buffer.from(process.env['CIM_BENCH_REPLY'] ?? '', 'base64');

// The raw definition, as the gateway registers it: bytes in, bytes out, no decoding.
const { graphInfo } = serviceDefinition(GraphQueryService, { raw: true });
const server = new Server();
server.addService(
  { graphInfo: graphInfo! },
  {
    graphInfo: (
      _call: ServerUnaryCall<Uint8Array, Uint8Array>,
      callback: sendUnaryData<Uint8Array>,
    ) => callback(null, reply),
  },
);
await new Promise<number>((resolve, reject) =>
  // Bound like the gateway, on every interface.
  server.bindAsync(
    `0.0.0.0:${grpcPort}`,
    ServerCredentials.createInsecure(),
    (error, port) => (error === null ? resolve(port) : reject(error)),
  ),
);

serveReadiness(httpPort, () => server.forceShutdown());
