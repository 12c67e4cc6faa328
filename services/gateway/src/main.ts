import { connectNats } from '@cim/messaging';
import {
  createLogger,
  createMetrics,
  startHttpEndpoint,
  startTracing,
} from '@cim/observability';
import { ConfigError, loadConfig } from '@cim/service';
import { Svcm } from '@nats-io/services';
import { domainFiles, domainServices } from './domains.js';
import { startGateway } from './gateway.js';

// The gateway's composition root: configuration, logging, metrics, NATS, gRPC.
let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`cim-gateway: ${error.message}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'cim-gateway', level: config.logLevel });
try {
  const tracing = await startTracing({
    service: 'cim-gateway',
    exporter: config.traceExporter,
  });
  const metrics = createMetrics('cim-gateway');
  // Bound once per method and outcome: prom-client hashes label objects on every unbound call.
  const bound = new Map<
    string,
    { calls: { inc(): void }; seconds: { observe(value: number): void } }
  >();
  const callMetrics = (method: string, code: number) => {
    const key = `${method} ${code}`;
    let recorded = bound.get(key);
    if (recorded === undefined) {
      const name = method.slice(method.lastIndexOf('/') + 1);
      const outcome = Number(code) === 0 ? 'ok' : String(code);
      recorded = method.includes('CommandService/')
        ? {
            calls: metrics.commands.labels(name, outcome),
            seconds: metrics.commandSeconds.labels(name),
          }
        : {
            calls: metrics.queries.labels(name, outcome),
            seconds: metrics.querySeconds.labels(name),
          };
      bound.set(key, recorded);
    }
    return recorded;
  };
  const nc = await connectNats({ url: config.natsUrl, name: 'cim-gateway' });
  const gateway = await startGateway({
    nc,
    port: config.grpcPort,
    services: domainServices,
    files: domainFiles,
    log,
    onCall: ({ method, code, seconds }) => {
      const recorded = callMetrics(method, code);
      recorded.calls.inc();
      recorded.seconds.observe(seconds);
    },
  });
  // Registered as a micro service so that `cim status` and $SRV pings see it.
  const micro = await new Svcm(nc).add({
    name: 'cim-gateway',
    version: '0.1.0',
    description: 'CIM gRPC gateway',
  });
  const http = await startHttpEndpoint({
    port: config.httpPort,
    registry: metrics.registry,
    readiness: () =>
      nc.isClosed()
        ? { ready: false, reason: 'NATS connection closed' }
        : { ready: true },
  });
  log.info(
    {
      grpcPort: gateway.port,
      httpPort: http.port,
      services: domainServices.length,
    },
    'gateway started',
  );
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    void (async () => {
      await gateway.stop();
      await micro.stop();
      await http.close();
      await nc.drain();
      await tracing.shutdown();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
} catch (err) {
  log.fatal({ err }, 'start-up failed');
  process.exit(1);
}
