import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Health } from '@cim/proto/grpc/health/v1/health_pb';
import { status } from '@grpc/grpc-js';
import {
  ServingStatus,
  addService,
  createClient,
  healthService,
  type GrpcClient,
  type HealthService,
} from '../src/index.js';
import { failureOf, startServer, type TestServer } from './fixtures.js';

/** Pulls the next value of a stream, failing the test instead of hanging when nothing comes. */
async function next<T>(iterator: AsyncIterator<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no message within 2 s')), 2000);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done === true) throw new Error('the stream ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

describe('healthService', () => {
  let served: TestServer;
  let health: HealthService;
  let client: GrpcClient<typeof Health>;

  beforeAll(async () => {
    health = healthService({
      '': ServingStatus.SERVING,
      'cim.graph.v1.GraphQueryService': ServingStatus.SERVING,
    });
    served = await startServer((server) =>
      addService(server, Health, health.handlers),
    );
    client = createClient(Health, served.address);
  });

  afterAll(async () => {
    health.close();
    client.close();
    await served.stop();
  });

  describe('Check', () => {
    it('answers the status of the whole server', async () => {
      expect((await client.check({ service: '' })).status).toBe(
        ServingStatus.SERVING,
      );
    });

    it('answers a status set later', async () => {
      health.setStatus(
        'cim.graph.v1.GraphCommandService',
        ServingStatus.NOT_SERVING,
      );
      expect(
        (await client.check({ service: 'cim.graph.v1.GraphCommandService' }))
          .status,
      ).toBe(ServingStatus.NOT_SERVING);
      expect(health.getStatus('cim.graph.v1.GraphCommandService')).toBe(
        ServingStatus.NOT_SERVING,
      );
    });

    it('rejects an unknown service with NOT_FOUND', async () => {
      const failure = await failureOf(
        client.check({ service: 'no.such.Service' }),
      );
      expect(failure.code).toBe(status.NOT_FOUND);
    });
  });

  describe('List', () => {
    it('answers every known status', async () => {
      const { statuses } = await client.list({});
      expect(statuses['']?.status).toBe(ServingStatus.SERVING);
      expect(statuses['cim.graph.v1.GraphQueryService']?.status).toBe(
        ServingStatus.SERVING,
      );
    });
  });

  describe('Watch', () => {
    it('sends the current status and then each change', async () => {
      const controller = new AbortController();
      const watch = client.watch(
        { service: 'watched' },
        { signal: controller.signal },
      );
      const stream = watch[Symbol.asyncIterator]();
      expect((await next(stream)).status).toBe(ServingStatus.SERVICE_UNKNOWN);
      health.setStatus('watched', ServingStatus.SERVING);
      expect((await next(stream)).status).toBe(ServingStatus.SERVING);
      health.setStatus('watched', ServingStatus.SERVING);
      health.setStatus('watched', ServingStatus.NOT_SERVING);
      expect((await next(stream)).status).toBe(ServingStatus.NOT_SERVING);
      controller.abort();
      await expect(stream.next()).rejects.toMatchObject({
        code: status.CANCELLED,
      });
    });

    it('does not send changes of other services', async () => {
      const controller = new AbortController();
      const watch = client.watch(
        { service: 'quiet' },
        { signal: controller.signal },
      );
      const stream = watch[Symbol.asyncIterator]();
      health.setStatus('quiet', ServingStatus.SERVING);
      expect((await next(stream)).status).toBe(ServingStatus.SERVING);
      health.setStatus('other', ServingStatus.NOT_SERVING);
      health.setStatus('quiet', ServingStatus.NOT_SERVING);
      expect((await next(stream)).status).toBe(ServingStatus.NOT_SERVING);
      controller.abort();
    });

    it('ends open watches with OK on close', async () => {
      const own = healthService({ '': ServingStatus.SERVING });
      const server = await startServer((s) =>
        addService(s, Health, own.handlers),
      );
      const ownClient = createClient(Health, server.address);
      const stream = ownClient.watch({ service: '' })[Symbol.asyncIterator]();
      expect((await next(stream)).status).toBe(ServingStatus.SERVING);
      own.close();
      expect((await stream.next()).done).toBe(true);
      ownClient.close();
      await server.stop();
    });
  });
});
