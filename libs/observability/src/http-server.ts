import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** The answer of a readiness check: ready, or why not. */
export type Readiness =
  { readonly ready: true } | { readonly ready: false; readonly reason: string };

/** A running HTTP endpoint for probes and scraping. */
export interface HttpEndpoint {
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text), `/healthz` (the process is alive) and
 * `/readyz` (200 when `readiness()` says ready, else 503 with the reason).
 */
export async function startHttpEndpoint(options: {
  port: number;
  host?: string;
  registry: Registry;
  readiness: () => Readiness;
}): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) =>
          res
            .writeHead(200, { 'content-type': options.registry.contentType })
            .end(text),
        () => res.writeHead(500).end('metrics unavailable\n'),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const state = options.readiness();
      res
        .writeHead(state.ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(state.ready ? 'ready\n' : `not ready: ${state.reason}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
