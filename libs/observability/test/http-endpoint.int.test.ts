import { once } from 'node:events';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createMetrics,
  startHttpEndpoint,
  type HttpEndpoint,
  type Metrics,
  type Readiness,
} from '@cim/observability';

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** One HTTP request to the endpoint on loopback. */
function call(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('startHttpEndpoint', () => {
  let metrics: Metrics;
  let endpoint: HttpEndpoint;
  let readiness: Readiness = { ready: true };

  beforeAll(async () => {
    metrics = createMetrics('cim-httptest');
    endpoint = await startHttpEndpoint({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      readiness: () => readiness,
    });
  });

  afterAll(async () => {
    await endpoint.close();
  });

  describe('when started on port 0', () => {
    it('reports the port it bound', () => {
      expect(endpoint.port).toBeGreaterThan(0);
    });
  });

  describe('when /metrics is scraped', () => {
    it('returns Prometheus text with the CIM counters after they count', async () => {
      metrics.commands.inc({ command: 'CreateGraph', outcome: 'accepted' });
      metrics.commands.inc({ command: 'CreateGraph', outcome: 'accepted' });
      const answer = await call(endpoint.port, '/metrics');
      expect(answer.status).toBe(200);
      expect(answer.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(answer.body).toContain('# TYPE cim_commands_total counter');
      const line = answer.body
        .split('\n')
        .find(
          (l) =>
            l.startsWith('cim_commands_total{') &&
            l.includes('command="CreateGraph"'),
        );
      expect(line).toBeDefined();
      expect(line).toContain('outcome="accepted"');
      expect(line).toContain('service="cim-httptest"');
      expect(line).toMatch(/ 2$/);
    });

    it('includes Node default metrics', async () => {
      const answer = await call(endpoint.port, '/metrics');
      expect(answer.body).toMatch(/^process_cpu_user_seconds_total\{/m);
      expect(answer.body).toMatch(/^nodejs_heap_size_used_bytes\{/m);
    });

    it('ignores a query string', async () => {
      expect((await call(endpoint.port, '/metrics?x=1')).status).toBe(200);
    });
  });

  describe('when /healthz is asked', () => {
    it('answers 200', async () => {
      const answer = await call(endpoint.port, '/healthz');
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('ok\n');
    });

    it('answers 200 to HEAD', async () => {
      expect((await call(endpoint.port, '/healthz', 'HEAD')).status).toBe(200);
    });
  });

  describe('when /readyz is asked', () => {
    it('answers 200 while the readiness callback says ready', async () => {
      readiness = { ready: true };
      const answer = await call(endpoint.port, '/readyz');
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('ready\n');
    });

    it('answers 503 with the reason while the callback says not ready', async () => {
      readiness = { ready: false, reason: 'projection catching up' };
      const answer = await call(endpoint.port, '/readyz');
      expect(answer.status).toBe(503);
      expect(answer.body).toBe('not ready: projection catching up\n');
    });

    it('asks the callback on every request', async () => {
      readiness = { ready: false, reason: 'NATS connection closed' };
      expect((await call(endpoint.port, '/readyz')).status).toBe(503);
      readiness = { ready: true };
      expect((await call(endpoint.port, '/readyz')).status).toBe(200);
    });
  });

  describe('when the path is unknown', () => {
    it.each(['/', '/metric', '/healthz/x', '/favicon.ico'])(
      'answers 404 for %s',
      async (path) => {
        expect((await call(endpoint.port, path)).status).toBe(404);
      },
    );
  });

  describe('when the method is not GET or HEAD', () => {
    it.each(['POST', 'PUT', 'DELETE'])(
      'answers %s with 405',
      async (method) => {
        expect((await call(endpoint.port, '/metrics', method)).status).toBe(
          405,
        );
      },
    );
  });
});

describe('HttpEndpoint.close', () => {
  describe('when the endpoint is closed', () => {
    it('frees the port', async () => {
      const { registry } = createMetrics('cim-closetest');
      // The default host: every interface, loopback included.
      const endpoint = await startHttpEndpoint({
        port: 0,
        registry,
        readiness: () => ({ ready: true }),
      });
      const { port } = endpoint;
      expect((await call(port, '/healthz')).status).toBe(200);
      await endpoint.close();

      await expect(call(port, '/healthz')).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });
      const rebound = createServer();
      rebound.listen(port, '0.0.0.0');
      await once(rebound, 'listening');
      rebound.close();
      await once(rebound, 'close');
    });
  });

  describe('when the port is taken', () => {
    it('rejects with EADDRINUSE', async () => {
      const { registry } = createMetrics('cim-busytest');
      const first = await startHttpEndpoint({
        port: 0,
        host: '127.0.0.1',
        registry,
        readiness: () => ({ ready: true }),
      });
      try {
        await expect(
          startHttpEndpoint({
            port: first.port,
            host: '127.0.0.1',
            registry,
            readiness: () => ({ ready: true }),
          }),
        ).rejects.toMatchObject({ code: 'EADDRINUSE' });
      } finally {
        await first.close();
      }
    });
  });
});

describe('createMetrics', () => {
  describe('when called twice in one process', () => {
    it('gives each call its own registry without a name clash', async () => {
      const a = createMetrics('cim-a');
      const b = createMetrics('cim-b');
      expect(a.registry).not.toBe(b.registry);
      a.commands.inc({ command: 'AddNode', outcome: 'accepted' });
      const textA = await a.registry.metrics();
      const textB = await b.registry.metrics();
      expect(textA).toMatch(/^cim_commands_total\{.*command="AddNode".*\} 1$/m);
      expect(textB).not.toContain('command="AddNode"');
      expect(textB).toContain('service="cim-b"');
    });
  });
});
