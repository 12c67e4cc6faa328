import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  ERROR_CODE_METADATA_KEY,
  createClient,
  type GrpcClient,
} from '@cim/grpc';
import { ErrorCode, isUuid, uuidv7, uuidv7Time } from '@cim/kernel';
import { Header, errorReply } from '@cim/messaging';
import { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  CreateGraphSchema,
  GraphCommandService,
  GraphInfoRequestSchema,
  GraphInfoResponseSchema,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '@cim/proto/grpc/health/v1/health_pb';
import { ServerReflection } from '@cim/proto/grpc/reflection/v1/reflection_pb';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import { status } from '@grpc/grpc-js';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  domainFiles,
  domainServices,
  startGateway,
  type CallInfo,
  type Gateway,
} from '../src/index.js';

/** The error a failed call rejects with. */
async function failureOf(call: Promise<unknown>): Promise<{
  code: number;
  details: string;
  metadata: { get(key: string): unknown[] };
}> {
  try {
    await call;
  } catch (error) {
    return error as {
      code: number;
      details: string;
      metadata: { get(key: string): unknown[] };
    };
  }
  throw new Error('the call succeeded');
}

async function waitFor(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A query's graph_id picks the error reply its responder sends: [name, code, message sent, status, details seen].
const errorCases: ReadonlyArray<
  readonly [string, ErrorCode, string, status, string]
> = [
  [
    'VALIDATION_FAILED',
    ErrorCode.VALIDATION_FAILED,
    'graph_id is empty',
    status.INVALID_ARGUMENT,
    'graph_id is empty',
  ],
  [
    'NOT_FOUND',
    ErrorCode.NOT_FOUND,
    'graph g1 not found',
    status.NOT_FOUND,
    'graph g1 not found',
  ],
  [
    'ALREADY_EXISTS',
    ErrorCode.ALREADY_EXISTS,
    'graph g1 exists',
    status.ALREADY_EXISTS,
    'graph g1 exists',
  ],
  [
    'INVALID_TRANSITION',
    ErrorCode.INVALID_TRANSITION,
    'g1 is archived',
    status.FAILED_PRECONDITION,
    'g1 is archived',
  ],
  [
    'BUSINESS_RULE_VIOLATION',
    ErrorCode.BUSINESS_RULE_VIOLATION,
    'a cycle',
    status.FAILED_PRECONDITION,
    'a cycle',
  ],
  [
    'CONCURRENCY_CONFLICT',
    ErrorCode.CONCURRENCY_CONFLICT,
    'g1 changed',
    status.ABORTED,
    'g1 changed',
  ],
  [
    'UNAUTHORIZED',
    ErrorCode.UNAUTHORIZED,
    'not allowed',
    status.PERMISSION_DENIED,
    'not allowed',
  ],
  [
    'UNAVAILABLE',
    ErrorCode.UNAVAILABLE,
    'store down',
    status.UNAVAILABLE,
    'graph service unavailable: store down',
  ],
  [
    'INTERNAL',
    ErrorCode.INTERNAL,
    'secret cause',
    status.INTERNAL,
    'internal error',
  ],
];

describe('gateway', () => {
  let nats: NatsServerHandle;
  let gatewayNc: NatsConnection;
  let serviceNc: NatsConnection;
  let gateway: Gateway;
  let queries: GrpcClient<typeof GraphQueryService>;
  let commands: GrpcClient<typeof GraphCommandService>;
  let health: GrpcClient<typeof Health>;
  const published: string[] = [];
  const calls: CallInfo[] = [];
  const logged: Array<{ level: string; obj: object; msg: string }> = [];
  const log = {
    info: (obj: object, msg: string) =>
      logged.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) =>
      logged.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg: string) =>
      logged.push({ level: 'error', obj, msg }),
  };

  /**
   * The command subjects published after `mark`, once a barrier command has gone the same way:
   * NATS delivers a connection's messages in order, so anything the gateway sent earlier is in.
   */
  async function publishedSince(mark: number): Promise<string[]> {
    await commands.createGraph({ graphId: 'barrier', name: 'barrier' });
    await serviceNc.flush();
    const since = published.slice(mark);
    expect(since.at(-1)).toBe('cim.graph.cmd.CreateGraph');
    return since.slice(0, -1);
  }

  function answerQuery(msg: Msg): void {
    const { graphId, minVersion } = fromBinary(
      GraphInfoRequestSchema,
      msg.data,
    );
    const failure = errorCases.find(([name]) => name === graphId);
    if (failure !== undefined) {
      const reply = errorReply(failure[1], failure[2]);
      msg.respond(reply.body, { headers: reply.headers });
      return;
    }
    const traceparent = msg.headers?.get(Header.traceparent) ?? '';
    const minPosition = msg.headers?.get(Header.minPosition) || '0';
    const response = create(GraphInfoResponseSchema, {
      graph: {
        graphId,
        name: 'Org chart',
        description: traceparent,
        version: minVersion,
        // The stream position to read after, as the service received it.
        nodeCount: BigInt(minPosition),
      },
    });
    msg.respond(toBinary(GraphInfoResponseSchema, response));
  }

  function answerCommand(msg: Msg): void {
    const command = fromBinary(CreateGraphSchema, msg.data);
    const header = (name: string): string => msg.headers?.get(name) ?? '';
    const result = create(CommandResultSchema, {
      commandId: header(Header.commandId),
      aggregateId: command.graphId,
      version: BigInt(header(Header.expectedVersion) || '0'),
      eventIds: [
        header(Header.correlationId),
        header(Header.causationId),
        header(Header.actor),
        header(Header.traceparent),
        header(Header.tracestate),
        command.name,
      ],
    });
    msg.respond(toBinary(CommandResultSchema, result));
  }

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    serviceNc = await connect({ servers: nats.url, name: 'graph-responders' });
    gatewayNc = await connect({
      servers: nats.url,
      name: 'cim-gateway',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    serviceNc.subscribe('cim.graph.qry.GraphInfo', {
      queue: 'cim-graph',
      callback: (_, msg) => answerQuery(msg),
    });
    serviceNc.subscribe('cim.graph.cmd.CreateGraph', {
      queue: 'cim-graph',
      callback: (_, msg) => answerCommand(msg),
    });
    // Records every command that reaches NATS: the bad-input tests expect none.
    serviceNc.subscribe('cim.graph.cmd.>', {
      callback: (_, msg) => {
        published.push(msg.subject);
      },
    });
    // Takes Metrics queries and never answers.
    serviceNc.subscribe('cim.graph.qry.Metrics', {
      queue: 'cim-graph',
      callback: () => undefined,
    });
    await serviceNc.flush();

    gateway = await startGateway({
      nc: gatewayNc,
      host: '127.0.0.1',
      port: 0,
      services: [...domainServices],
      files: [...domainFiles],
      requestTimeoutMs: 500,
      log,
      onCall: (info) => calls.push(info),
    });
    const address = `127.0.0.1:${gateway.port}`;
    queries = createClient(GraphQueryService, address);
    commands = createClient(GraphCommandService, address);
    health = createClient(Health, address);
  });

  afterAll(async () => {
    queries?.close();
    commands?.close();
    health?.close();
    await gateway?.stop();
    await gatewayNc?.close();
    await serviceNc?.close();
    await nats?.stop();
  });

  describe('when a query is answered', () => {
    it('forwards the request bytes and returns the reply bytes', async () => {
      const response = await queries.graphInfo({
        graphId: 'g-42',
        minVersion: 7n,
      });
      expect(response.graph?.graphId).toBe('g-42');
      expect(response.graph?.name).toBe('Org chart');
      expect(response.graph?.version).toBe(7n);
    });

    it('copies the trace context to the NATS headers', async () => {
      const traceparent =
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const response = await queries.graphInfo(
        { graphId: 'g-1' },
        { metadata: { traceparent } },
      );
      expect(response.graph?.description).toBe(traceparent);
    });

    it('copies the stream position to read after to the NATS headers', async () => {
      const response = await queries.graphInfo(
        { graphId: 'g-1' },
        { metadata: { 'cim-min-position': '1234' } },
      );
      expect(response.graph?.nodeCount).toBe(1234n);
      expect(response.graph?.description).toBe('');
      const without = await queries.graphInfo({ graphId: 'g-1' });
      expect(without.graph?.nodeCount).toBe(0n);
    });

    it('reports the call to onCall', async () => {
      calls.length = 0;
      await queries.graphInfo({ graphId: 'g-2' });
      expect(calls).toEqual([
        {
          method: '/cim.graph.v1.GraphQueryService/GraphInfo',
          code: status.OK,
          seconds: expect.any(Number),
        },
      ]);
    });
  });

  describe('when a command is sent', () => {
    it('fills command id, correlation, causation and actor', async () => {
      const before = Date.now();
      const result = await commands.createGraph({
        graphId: 'g-3',
        name: 'Org chart',
      });
      expect(isUuid(result.commandId)).toBe(true);
      expect(uuidv7Time(result.commandId)).toBeGreaterThanOrEqual(before);
      expect(result.aggregateId).toBe('g-3');
      expect(result.eventIds.slice(0, 3)).toEqual([
        result.commandId,
        result.commandId,
        'external:grpc',
      ]);
      expect(result.eventIds[5]).toBe('Org chart');
      expect(result.version).toBe(0n);
    });

    it('takes command metadata from gRPC metadata', async () => {
      const commandId = uuidv7();
      const correlationId = uuidv7();
      const causationId = uuidv7();
      const result = await commands.createGraph(
        { graphId: 'g-4', name: 'Org chart' },
        {
          metadata: {
            'cim-command-id': commandId,
            'cim-correlation-id': correlationId,
            'cim-causation-id': causationId,
            'cim-expected-version': '0012',
            traceparent:
              '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'cim=1',
          },
        },
      );
      expect(result.commandId).toBe(commandId);
      expect(result.version).toBe(12n);
      expect(result.eventIds).toEqual([
        correlationId,
        causationId,
        'external:grpc',
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        'cim=1',
        'Org chart',
      ]);
    });

    it('rejects a malformed cim-command-id with INVALID_ARGUMENT and publishes nothing', async () => {
      const mark = published.length;
      const failure = await failureOf(
        commands.archiveGraph(
          { graphId: 'g-5' },
          { metadata: { 'cim-command-id': 'not-a-uuid' } },
        ),
      );
      expect(failure.code).toBe(status.INVALID_ARGUMENT);
      expect(failure.details).toMatch(/cim-command-id/);
      expect(failure.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([
        'VALIDATION_FAILED',
      ]);
      expect(await publishedSince(mark)).toEqual([]);
    });

    it.each(['-1', '1.5', 'seven', '18446744073709551616'])(
      'rejects cim-expected-version %s with INVALID_ARGUMENT and publishes nothing',
      async (version) => {
        const mark = published.length;
        const failure = await failureOf(
          commands.archiveGraph(
            { graphId: 'g-6' },
            { metadata: { 'cim-expected-version': version } },
          ),
        );
        expect(failure.code).toBe(status.INVALID_ARGUMENT);
        expect(await publishedSince(mark)).toEqual([]);
      },
    );

    it('rejects an oversize request with RESOURCE_EXHAUSTED and publishes nothing', async () => {
      const maxPayload = gatewayNc.info?.max_payload ?? 1024 * 1024;
      const mark = published.length;
      // Under the server's max_payload but over the gateway's limit, which leaves room for headers.
      const failure = await failureOf(
        commands.archiveGraph({ graphId: 'x'.repeat(maxPayload - 1024) }),
      );
      expect(failure.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(await publishedSince(mark)).toEqual([]);
    });
  });

  describe('when the service answers with an error', () => {
    it.each(errorCases)(
      'maps %s',
      async (name, _code, _message, grpcCode, details) => {
        const failure = await failureOf(queries.graphInfo({ graphId: name }));
        expect(failure.code).toBe(grpcCode);
        expect(failure.details).toBe(details);
        expect(failure.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([name]);
      },
    );

    it('keeps the cause of INTERNAL in the log', async () => {
      logged.length = 0;
      await failureOf(queries.graphInfo({ graphId: 'INTERNAL' }));
      const entry = logged.find((e) => e.level === 'error');
      expect(entry?.obj).toMatchObject({
        method: '/cim.graph.v1.GraphQueryService/GraphInfo',
      });
      expect((entry?.obj as { err?: Error }).err?.message).toBe('secret cause');
    });
  });

  describe("a command's time", () => {
    it("tells the service how long the caller waits: the call's deadline, else the gateway's time-out", async () => {
      const told: string[] = [];
      const standIn = serviceNc.subscribe('cim.graph.cmd.RemoveNode', {
        callback: (_, msg) => {
          told.push(msg.headers?.get(Header.timeout) ?? '');
          msg.respond(
            toBinary(CommandResultSchema, create(CommandResultSchema, {})),
          );
        },
      });
      try {
        await serviceNc.flush();
        await commands.removeNode(
          { graphId: 'g', nodeId: 'n' },
          { deadlineMs: 300 },
        );
        await commands.removeNode({ graphId: 'g', nodeId: 'n' });
        await commands.removeNode(
          { graphId: 'g', nodeId: 'n' },
          { deadlineMs: 60_000 },
        );
      } finally {
        standIn.unsubscribe();
      }
      const [withDeadline, without, longer] = told.map(Number);
      expect(withDeadline).toBeGreaterThan(0);
      expect(withDeadline).toBeLessThanOrEqual(300);
      // requestTimeoutMs of this gateway.
      expect(without).toBe(500);
      expect(longer).toBe(500);
    });
  });

  describe('when no service answers', () => {
    it('answers UNAVAILABLE naming the domain when nobody subscribes', async () => {
      const failure = await failureOf(queries.listGraphs({}));
      expect(failure.code).toBe(status.UNAVAILABLE);
      expect(failure.details).toBe(
        'graph service unavailable: no service is answering',
      );
      expect(failure.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([
        'UNAVAILABLE',
      ]);
    });

    it('says once a minute, not once a call, that a method finds its service unavailable', async () => {
      for (let i = 0; i < 5; i++)
        expect((await failureOf(queries.listGraphs({}))).code).toBe(
          status.UNAVAILABLE,
        );
      const told = logged.filter(
        (l) =>
          l.msg === 'service unavailable' &&
          (l.obj as { method?: string }).method ===
            '/cim.graph.v1.GraphQueryService/ListGraphs',
      );
      expect(told).toHaveLength(1);
      expect(told[0]?.obj).toMatchObject({ calls: 1 });
    });

    it('answers UNAVAILABLE when the service does not answer in time', async () => {
      const failure = await failureOf(queries.metrics({}));
      expect(failure.code).toBe(status.UNAVAILABLE);
      expect(failure.details).toBe(
        'graph service unavailable: the service did not answer in time',
      );
    });

    it('names the id of a command that got no answer, to send it again with', async () => {
      const commandId = uuidv7();
      const given = await failureOf(
        commands.addNode(
          { graphId: 'g', nodeType: 't' },
          { metadata: { 'cim-command-id': commandId } },
        ),
      );
      expect(given.code).toBe(status.UNAVAILABLE);
      expect(given.details).toBe(
        `graph service unavailable: the service did not answer in time; send it again with metadata cim-command-id: ${commandId} to be answered with its result`,
      );
      expect(given.metadata.get('cim-command-id')).toEqual([commandId]);
      // A command sent without an id gets one here, and hears which.
      const made = await failureOf(
        commands.addNode({ graphId: 'g', nodeType: 't' }),
      );
      const [id] = made.metadata.get('cim-command-id');
      expect(typeof id === 'string' && isUuid(id)).toBe(true);
      expect(made.details).toContain(`cim-command-id: ${String(id)}`);
    });
  });

  describe('health', () => {
    it('is SERVING for the server and each service', async () => {
      expect((await health.check({ service: '' })).status).toBe(
        ServingStatus.SERVING,
      );
      expect(
        (await health.check({ service: 'cim.graph.v1.GraphQueryService' }))
          .status,
      ).toBe(ServingStatus.SERVING);
      expect(
        (await health.check({ service: 'cim.graph.v1.GraphCommandService' }))
          .status,
      ).toBe(ServingStatus.SERVING);
    });
  });

  describe('reflection', () => {
    async function reflect(
      messageRequest:
        | { case: 'listServices'; value: string }
        | { case: 'fileContainingSymbol'; value: string },
    ) {
      const client = createClient(
        ServerReflection,
        `127.0.0.1:${gateway.port}`,
      );
      try {
        for await (const response of client.serverReflectionInfo(
          (async function* () {
            yield { messageRequest };
          })(),
        )) {
          return response.messageResponse;
        }
        throw new Error('no response');
      } finally {
        client.close();
      }
    }

    it('lists every domain service, health and reflection', async () => {
      const answer = await reflect({ case: 'listServices', value: '' });
      const names =
        answer.case === 'listServicesResponse'
          ? answer.value.service.map((s) => s.name)
          : [];
      expect(names.sort()).toEqual(
        [
          ...domainServices.map((s) => s.typeName),
          'grpc.health.v1.Health',
          'grpc.reflection.v1.ServerReflection',
          'grpc.reflection.v1alpha.ServerReflection',
        ].sort(),
      );
      expect(names).toContain('cim.graph.v1.GraphCommandService');
    });

    it('describes a graph method with the files it depends on', async () => {
      const answer = await reflect({
        case: 'fileContainingSymbol',
        value: 'cim.graph.v1.GraphCommandService.CreateGraph',
      });
      const files =
        answer.case === 'fileDescriptorResponse'
          ? answer.value.fileDescriptorProto.map((bytes) =>
              fromBinary(FileDescriptorProtoSchema, bytes),
            )
          : [];
      expect(files[0]?.name).toBe('cim/graph/v1/graph.proto');
      expect(files.map((f) => f.name)).toEqual(
        expect.arrayContaining(['cim/common/v1/envelope.proto']),
      );
      for (const dependency of files[0]?.dependency ?? [])
        expect(files.map((f) => f.name)).toContain(dependency);
    });
  });

  describe('when a service is not a CIM service', () => {
    it('throws before listening', async () => {
      await expect(
        startGateway({
          nc: gatewayNc,
          port: 0,
          services: [Health],
          files: [],
          log,
        }),
      ).rejects.toThrow(/grpc\.health\.v1\.Health/);
    });
  });

  describe('when the NATS connection drops', () => {
    it('reports NOT_SERVING until it is back', async () => {
      const serving = async (): Promise<ServingStatus | undefined> =>
        (await health.check({ service: '' }).catch(() => undefined))?.status;
      await nats.kill('SIGKILL');
      await waitFor(
        async () => (await serving()) === ServingStatus.NOT_SERVING,
        'NOT_SERVING',
      );
      await nats.restart();
      await waitFor(
        async () => (await serving()) === ServingStatus.SERVING,
        'SERVING again',
      );
    });
  });
});
