// A child process: the bare NATS hop of the gateway latency benchmark. It
// answers requests on one subject with fixed reply bytes (those of a real
// GraphInfo answer), in a process of its own like the graph service, so a
// request from the benchmark crosses nats-server twice, as the gateway's does,
// with no service work in between.
// Environment: CIM_NATS_URL, CIM_HTTP_PORT (/readyz), CIM_BENCH_SUBJECT,
// CIM_BENCH_REPLY (base64).
import { connect } from '@nats-io/transport-node';
import { serveReadiness } from './readiness.js';

const httpPort = Number(process.env['CIM_HTTP_PORT']);
const subject = process.env['CIM_BENCH_SUBJECT'] ?? 'cim.bench.echo';
const reply = Buffer.from(process.env['CIM_BENCH_REPLY'] ?? '', 'base64');

const nc = await connect({ servers: process.env['CIM_NATS_URL'] ?? '' });
nc.subscribe(subject, {
  callback: (_error, msg) => {
    msg.respond(reply);
  },
});
await nc.flush();

serveReadiness(httpPort, () => nc.close());
