import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fromBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { file_cim_common_v1_envelope } from '@cim/proto/cim/common/v1/envelope_pb';
import { file_cim_common_v1_errors } from '@cim/proto/cim/common/v1/errors_pb';
import { file_grpc_health_v1_health } from '@cim/proto/grpc/health/v1/health_pb';
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@cim/proto/grpc/reflection/v1/reflection_pb';
import { ServerReflection as ServerReflectionV1alpha } from '@cim/proto/grpc/reflection/v1alpha/reflection_pb';
import { status } from '@grpc/grpc-js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { addReflection, createClient, type GrpcClient } from '../src/index.js';
import { startServer, type TestServer } from './fixtures.js';

type Request = MessageInitShape<
  (typeof ServerReflection)['method']['serverReflectionInfo']['input']
>;

async function* only(requests: Request[]): AsyncGenerator<Request> {
  yield* requests;
}

function fileNames(response: ServerReflectionResponse): string[] {
  return filesOf(response).map((file) => file.name);
}

function filesOf(response: ServerReflectionResponse): FileDescriptorProto[] {
  if (response.messageResponse.case !== 'fileDescriptorResponse') {
    throw new Error(
      `expected files, got ${response.messageResponse.case ?? 'nothing'}`,
    );
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) =>
    fromBinary(FileDescriptorProtoSchema, bytes),
  );
}

describe('addReflection', () => {
  let served: TestServer;
  let client: GrpcClient<typeof ServerReflection>;

  async function ask(
    ...requests: Request[]
  ): Promise<ServerReflectionResponse[]> {
    const responses: ServerReflectionResponse[] = [];
    for await (const response of client.serverReflectionInfo(only(requests)))
      responses.push(response);
    return responses;
  }

  async function askOne(request: Request): Promise<ServerReflectionResponse> {
    const [response] = await ask(request);
    if (response === undefined) throw new Error('no response');
    return response;
  }

  beforeAll(async () => {
    served = await startServer((server) =>
      addReflection(server, [
        file_grpc_health_v1_health,
        file_cim_common_v1_envelope,
        file_cim_common_v1_errors,
      ]),
    );
    client = createClient(ServerReflection, served.address);
  });

  afterAll(async () => {
    client.close();
    await served.stop();
  });

  describe('list_services', () => {
    it('lists the services of the given files and the reflection services', async () => {
      const response = await askOne({
        host: 'h',
        messageRequest: { case: 'listServices', value: '' },
      });
      expect(response.validHost).toBe('h');
      expect(response.messageResponse.case).toBe('listServicesResponse');
      const names =
        response.messageResponse.case === 'listServicesResponse'
          ? response.messageResponse.value.service.map((s) => s.name)
          : [];
      expect(names.sort()).toEqual([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
      ]);
    });
  });

  describe('file_containing_symbol', () => {
    it.each([
      ['a service', 'grpc.health.v1.Health', 'grpc/health/v1/health.proto'],
      [
        'a method',
        'grpc.health.v1.Health.Watch',
        'grpc/health/v1/health.proto',
      ],
      [
        'a message',
        'grpc.health.v1.HealthCheckRequest',
        'grpc/health/v1/health.proto',
      ],
      [
        'a nested enum',
        'grpc.health.v1.HealthCheckResponse.ServingStatus',
        'grpc/health/v1/health.proto',
      ],
      ['an enum', 'cim.common.v1.ErrorCode', 'cim/common/v1/errors.proto'],
      [
        'a message of a dependency',
        'google.protobuf.Timestamp',
        'google/protobuf/timestamp.proto',
      ],
      [
        'a reflection service',
        'grpc.reflection.v1.ServerReflection',
        'grpc/reflection/v1/reflection.proto',
      ],
    ])('finds the file of %s', async (_kind, symbol, file) => {
      const response = await askOne({
        messageRequest: { case: 'fileContainingSymbol', value: symbol },
      });
      expect(fileNames(response)[0]).toBe(file);
    });

    it('sends the file with its transitive dependencies, decodable', async () => {
      const response = await askOne({
        messageRequest: {
          case: 'fileContainingSymbol',
          value: 'cim.common.v1.Commit',
        },
      });
      const [envelope, ...dependencies] = filesOf(response);
      expect(envelope?.name).toBe('cim/common/v1/envelope.proto');
      expect(envelope?.package).toBe('cim.common.v1');
      expect(envelope?.dependency).toEqual(['google/protobuf/timestamp.proto']);
      expect(envelope?.messageType.map((m) => m.name)).toContain(
        'CommandResult',
      );
      expect(dependencies.map((d) => d.name)).toEqual([
        'google/protobuf/timestamp.proto',
      ]);
      expect(dependencies[0]?.messageType[0]?.name).toBe('Timestamp');
    });

    it('answers an unknown symbol with NOT_FOUND', async () => {
      const response = await askOne({
        messageRequest: {
          case: 'fileContainingSymbol',
          value: 'no.such.Thing',
        },
      });
      expect(response.messageResponse).toMatchObject({
        case: 'errorResponse',
        value: {
          errorCode: status.NOT_FOUND,
          errorMessage: 'symbol no.such.Thing not found',
        },
      });
    });
  });

  describe('file_by_filename', () => {
    it('sends the named file', async () => {
      const response = await askOne({
        messageRequest: {
          case: 'fileByFilename',
          value: 'cim/common/v1/errors.proto',
        },
      });
      expect(fileNames(response)).toEqual(['cim/common/v1/errors.proto']);
      expect(filesOf(response)[0]?.enumType[0]?.name).toBe('ErrorCode');
    });

    it('answers an unknown file with NOT_FOUND', async () => {
      const response = await askOne({
        messageRequest: { case: 'fileByFilename', value: 'nope.proto' },
      });
      expect(response.messageResponse.case).toBe('errorResponse');
    });
  });

  describe('all_extension_numbers_of_type', () => {
    it('answers a known type without extensions with an empty list', async () => {
      const response = await askOne({
        messageRequest: {
          case: 'allExtensionNumbersOfType',
          value: 'cim.common.v1.Commit',
        },
      });
      expect(response.messageResponse).toMatchObject({
        case: 'allExtensionNumbersResponse',
        value: { baseTypeName: 'cim.common.v1.Commit', extensionNumber: [] },
      });
    });
  });

  describe('when a stream carries several requests', () => {
    it('answers each in order and echoes it', async () => {
      const requests: ServerReflectionRequest['messageRequest'][] = [
        { case: 'listServices', value: '' },
        { case: 'fileContainingSymbol', value: 'grpc.health.v1.Health' },
      ];
      const responses = await ask(
        ...requests.map((messageRequest) => ({ messageRequest })),
      );
      expect(responses.map((r) => r.messageResponse.case)).toEqual([
        'listServicesResponse',
        'fileDescriptorResponse',
      ]);
      expect(responses[1]?.originalRequest?.messageRequest).toEqual(
        requests[1],
      );
    });
  });

  describe('v1alpha', () => {
    it('answers file_containing_symbol as v1 does', async () => {
      const alpha = createClient(ServerReflectionV1alpha, served.address);
      const responses = [];
      for await (const response of alpha.serverReflectionInfo(
        (async function* () {
          yield {
            messageRequest: {
              case: 'fileContainingSymbol' as const,
              value: 'grpc.health.v1.Health',
            },
          };
        })(),
      )) {
        responses.push(response);
      }
      alpha.close();
      expect(responses).toHaveLength(1);
      const answer = responses[0]?.messageResponse;
      expect(answer?.case).toBe('fileDescriptorResponse');
      const names =
        answer?.case === 'fileDescriptorResponse'
          ? answer.value.fileDescriptorProto.map(
              (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
            )
          : [];
      expect(names).toEqual(['grpc/health/v1/health.proto']);
    });
  });
});
