import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '@cim/proto/grpc/health/v1/health_pb';
import { type Metadata, Server, status } from '@grpc/grpc-js';
import type { DescMethod } from '@bufbuild/protobuf';
import {
  ERROR_CODE_METADATA_KEY,
  addService,
  createClient,
  createRawClient,
  serviceDefinition,
  type GrpcClient,
} from '../src/index.js';
import { failureOf, startServer, type TestServer } from './fixtures.js';

class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
}

// Health's Check serves as the test RPC: the requested service name picks the outcome.
const failures: ReadonlyArray<readonly [string, unknown, status, string]> = [
  [
    'VALIDATION_FAILED',
    new DomainError(ErrorCode.VALIDATION_FAILED, 'bad input'),
    status.INVALID_ARGUMENT,
    'bad input',
  ],
  [
    'NOT_FOUND',
    new DomainError(ErrorCode.NOT_FOUND, 'no such node'),
    status.NOT_FOUND,
    'no such node',
  ],
  [
    'ALREADY_EXISTS',
    new DomainError(ErrorCode.ALREADY_EXISTS, 'exists'),
    status.ALREADY_EXISTS,
    'exists',
  ],
  [
    'INVALID_TRANSITION',
    new DomainError(ErrorCode.INVALID_TRANSITION, 'archived'),
    status.FAILED_PRECONDITION,
    'archived',
  ],
  [
    'BUSINESS_RULE_VIOLATION',
    new DomainError(ErrorCode.BUSINESS_RULE_VIOLATION, 'cycle'),
    status.FAILED_PRECONDITION,
    'cycle',
  ],
  [
    'CONCURRENCY_CONFLICT',
    new DomainError(ErrorCode.CONCURRENCY_CONFLICT, 'stale'),
    status.ABORTED,
    'stale',
  ],
  [
    'UNAUTHORIZED',
    new DomainError(ErrorCode.UNAUTHORIZED, 'denied'),
    status.PERMISSION_DENIED,
    'denied',
  ],
  [
    'UNAUTHENTICATED',
    new DomainError(ErrorCode.UNAUTHORIZED, 'no token', {
      details: { reason: 'unauthenticated' },
    }),
    status.UNAUTHENTICATED,
    'no token',
  ],
  ['UNAVAILABLE', new UnavailableError('down'), status.UNAVAILABLE, 'down'],
  ['INTERNAL', new Error('secret cause'), status.INTERNAL, 'internal error'],
];

describe('addService and createClient', () => {
  let served: TestServer;
  let client: GrpcClient<typeof Health>;
  const internal: Array<{ error: unknown; method: string }> = [];

  beforeAll(async () => {
    served = await startServer((server) =>
      addService(
        server,
        Health,
        {
          async check({ service }, { metadata }) {
            const failure = failures.find(([name]) => name === service);
            if (failure !== undefined) throw failure[1];
            if (service === 'slow')
              await new Promise((resolve) => setTimeout(resolve, 2000));
            const echoed = metadata.get('x-status')[0];
            return {
              status:
                echoed === 'not-serving'
                  ? ServingStatus.NOT_SERVING
                  : ServingStatus.SERVING,
            };
          },
          list: () => ({ statuses: { '': { status: ServingStatus.SERVING } } }),
          async *watch({ service }) {
            if (service === 'broken')
              throw new DomainError(ErrorCode.NOT_FOUND, 'no such service');
            yield { status: ServingStatus.SERVING };
            yield { status: ServingStatus.NOT_SERVING };
          },
        },
        {
          onInternalError: (error, method) =>
            internal.push({ error, method: method.name }),
        },
      ),
    );
    client = createClient(Health, served.address);
  });

  afterAll(async () => {
    client.close();
    await served.stop();
  });

  describe('when a unary handler answers', () => {
    it('round-trips the request and response', async () => {
      const response = await client.check({
        service: 'cim.graph.v1.GraphQueryService',
      });
      expect(response.$typeName).toBe('grpc.health.v1.HealthCheckResponse');
      expect(response.status).toBe(ServingStatus.SERVING);
    });

    it('passes request metadata to the handler', async () => {
      const response = await client.check(
        { service: 'x' },
        { metadata: { 'x-status': 'not-serving' } },
      );
      expect(response.status).toBe(ServingStatus.NOT_SERVING);
    });
  });

  describe('when a unary handler throws', () => {
    it.each(failures)('answers %s', async (name, _error, code, details) => {
      const failure = await failureOf(client.check({ service: name }));
      expect(failure.code).toBe(code);
      expect(failure.details).toBe(details);
    });

    it.each(failures)(
      'sends the CIM code of %s in trailing metadata',
      async (name) => {
        const failure = await failureOf(client.check({ service: name }));
        const expected = name === 'UNAUTHENTICATED' ? 'UNAUTHORIZED' : name;
        expect(failure.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([
          expected,
        ]);
      },
    );

    it('gives the cause of an INTERNAL answer to onInternalError only', async () => {
      internal.length = 0;
      const failure = await failureOf(client.check({ service: 'INTERNAL' }));
      expect(failure.details).not.toContain('secret');
      expect(internal).toHaveLength(1);
      expect(internal[0]?.method).toBe('Check');
      expect((internal[0]?.error as Error).message).toBe('secret cause');
    });
  });

  describe('when the deadline passes', () => {
    it('rejects with DEADLINE_EXCEEDED', async () => {
      const failure = await failureOf(
        client.check({ service: 'slow' }, { deadlineMs: 50 }),
      );
      expect(failure.code).toBe(status.DEADLINE_EXCEEDED);
    });
  });

  describe('when the call is aborted', () => {
    it('rejects with CANCELLED', async () => {
      const controller = new AbortController();
      const call = client.check(
        { service: 'slow' },
        { signal: controller.signal },
      );
      controller.abort();
      expect((await failureOf(call)).code).toBe(status.CANCELLED);
    });
  });

  describe('when a server-streaming handler yields', () => {
    it('streams every response to the client', async () => {
      const statuses: ServingStatus[] = [];
      for await (const response of client.watch({ service: '' }))
        statuses.push(response.status);
      expect(statuses).toEqual([
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
      ]);
    });

    it('ends the stream with the mapped status when the handler throws', async () => {
      const iterate = async (): Promise<void> => {
        for await (const _ of client.watch({ service: 'broken' })) {
          // Nothing arrives before the failure.
        }
      };
      const failure = await failureOf(iterate());
      expect(failure.code).toBe(status.NOT_FOUND);
      expect(failure.details).toBe('no such service');
    });
  });
});

describe('addService', () => {
  describe('when a handler is missing', () => {
    it('throws naming the method', () => {
      const server = new Server();
      const incomplete = {
        check: () => ({}),
        list: () => ({}),
      } as unknown as Parameters<typeof addService<typeof Health>>[2];
      expect(() => addService(server, Health, incomplete)).toThrow(
        /grpc\.health\.v1\.Health\.Watch/,
      );
    });
  });
});

describe('serviceDefinition', () => {
  it('derives paths and streaming flags from the descriptor', () => {
    const definition = serviceDefinition(Health);
    expect(Object.keys(definition)).toEqual(['check', 'list', 'watch']);
    expect(definition['check']).toMatchObject({
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
    });
    expect(definition['watch']).toMatchObject({
      path: '/grpc.health.v1.Health/Watch',
      requestStream: false,
      responseStream: true,
    });
  });

  describe('when raw', () => {
    let served: TestServer;
    const received: Uint8Array[] = [];

    beforeAll(async () => {
      served = await startServer((server) =>
        server.addService(serviceDefinition(Health, { raw: true }), {
          check: (
            call: { request: Buffer; metadata: Metadata },
            callback: (error: null, response: Uint8Array) => void,
          ) => {
            received.push(call.request);
            const { service } = fromBinary(
              HealthCheckRequestSchema,
              call.request,
            );
            const status =
              service === 'up'
                ? ServingStatus.SERVING
                : ServingStatus.NOT_SERVING;
            callback(
              null,
              toBinary(
                HealthCheckResponseSchema,
                create(HealthCheckResponseSchema, { status }),
              ),
            );
          },
          list: () => undefined,
          watch: () => undefined,
        }),
      );
    });

    afterAll(() => served.stop());

    it('passes request and response bytes through undecoded', async () => {
      const client = createRawClient(served.address);
      const check = Health.method.check as DescMethod;
      const request = toBinary(
        HealthCheckRequestSchema,
        create(HealthCheckRequestSchema, { service: 'up' }),
      );
      const response = await client.unary(check, request);
      client.close();
      expect(Buffer.isBuffer(received[0])).toBe(true);
      expect(Buffer.from(received[0]!).equals(Buffer.from(request))).toBe(true);
      expect(fromBinary(HealthCheckResponseSchema, response).status).toBe(
        ServingStatus.SERVING,
      );
    });

    it('answers a typed client as the same RPC', async () => {
      const client = createClient(Health, served.address);
      const response = await client.check({ service: 'down' });
      client.close();
      expect(response.status).toBe(ServingStatus.NOT_SERVING);
    });
  });
});
