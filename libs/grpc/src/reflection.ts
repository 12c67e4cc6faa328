import { toBinary } from '@bufbuild/protobuf';
import type {
  DescEnum,
  DescExtension,
  DescFile,
  DescMessage,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { status, type Server } from '@grpc/grpc-js';
import {
  ServerReflection as ServerReflectionV1,
  file_grpc_reflection_v1_reflection,
} from '@cim/proto/grpc/reflection/v1/reflection_pb';
import {
  ServerReflection as ServerReflectionV1alpha,
  file_grpc_reflection_v1alpha_reflection,
} from '@cim/proto/grpc/reflection/v1alpha/reflection_pb';
import { addService, type AddServiceOptions } from './server.js';

/** What a reflection client may ask; the v1 and v1alpha requests share this shape. */
export type ReflectionRequest =
  | { readonly case: 'fileByFilename'; readonly value: string }
  | { readonly case: 'fileContainingSymbol'; readonly value: string }
  | {
      readonly case: 'fileContainingExtension';
      readonly value: {
        readonly containingType: string;
        readonly extensionNumber: number;
      };
    }
  | { readonly case: 'allExtensionNumbersOfType'; readonly value: string }
  | { readonly case: 'listServices'; readonly value: string }
  | { readonly case: undefined; readonly value?: undefined };

/** The answer to one reflection request; the v1 and v1alpha responses share this shape. */
export type ReflectionAnswer =
  | {
      case: 'fileDescriptorResponse';
      value: { fileDescriptorProto: Uint8Array[] };
    }
  | {
      case: 'allExtensionNumbersResponse';
      value: { baseTypeName: string; extensionNumber: number[] };
    }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | {
      case: 'errorResponse';
      value: { errorCode: number; errorMessage: string };
    };

/**
 * Serves gRPC server reflection, grpc.reflection.v1 and v1alpha, for the
 * services declared in `files` and for the reflection services themselves.
 * Files are sent with all their transitive dependencies.
 */
export function addReflection(
  server: Server,
  files: readonly DescFile[],
  options: AddServiceOptions = {},
): void {
  const index = new ReflectionIndex([
    ...files,
    file_grpc_reflection_v1_reflection,
    file_grpc_reflection_v1alpha_reflection,
  ]);
  addService(
    server,
    ServerReflectionV1,
    {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: index.answer(request.messageRequest),
          };
        }
      },
    },
    options,
  );
  addService(
    server,
    ServerReflectionV1alpha,
    {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: index.answer(request.messageRequest),
          };
        }
      },
    },
    options,
  );
}

/**
 * The symbols, files and extensions reachable from a set of files, with each
 * file's FileDescriptorProto encoded once. `services` lists the services the
 * given files declare (dependencies only resolve types).
 */
export class ReflectionIndex {
  readonly services: readonly string[];
  private readonly byName = new Map<string, DescFile>();
  private readonly bySymbol = new Map<string, DescFile>();
  private readonly byExtendee = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<DescFile, Uint8Array>();

  constructor(files: readonly DescFile[]) {
    for (const file of files) this.addFile(file);
    this.services = [
      ...new Set(
        files.flatMap((file) =>
          file.services.map((service) => service.typeName),
        ),
      ),
    ];
  }

  /** Answers one request; an unknown file, symbol or type is an error_response with NOT_FOUND. */
  answer(request: ReflectionRequest): ReflectionAnswer {
    switch (request.case) {
      case 'listServices':
        return {
          case: 'listServicesResponse',
          value: { service: this.services.map((name) => ({ name })) },
        };
      case 'fileByFilename':
        return this.filesAnswer(
          this.byName.get(request.value),
          `file ${request.value}`,
        );
      case 'fileContainingSymbol': {
        const symbol = request.value.replace(/^\./, '');
        return this.filesAnswer(this.bySymbol.get(symbol), `symbol ${symbol}`);
      }
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = request.value;
        return this.filesAnswer(
          this.byExtendee.get(containingType)?.get(extensionNumber),
          `extension ${extensionNumber} of ${containingType}`,
        );
      }
      case 'allExtensionNumbersOfType': {
        const type = request.value.replace(/^\./, '');
        if (!this.bySymbol.has(type)) return notFound(`type ${type}`);
        const numbers = [...(this.byExtendee.get(type)?.keys() ?? [])].sort(
          (a, b) => a - b,
        );
        return {
          case: 'allExtensionNumbersResponse',
          value: { baseTypeName: type, extensionNumber: numbers },
        };
      }
      case undefined:
        return {
          case: 'errorResponse',
          value: {
            errorCode: status.INVALID_ARGUMENT,
            errorMessage: 'the request names no message_request',
          },
        };
    }
  }

  /** The encoded file followed by every file it depends on, directly or not, each once. */
  filesWithDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<DescFile>();
    const visit = (f: DescFile): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return [...seen].map((f) => this.encode(f));
  }

  private filesAnswer(
    file: DescFile | undefined,
    what: string,
  ): ReflectionAnswer {
    if (file === undefined) return notFound(what);
    return {
      case: 'fileDescriptorResponse',
      value: { fileDescriptorProto: this.filesWithDependencies(file) },
    };
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.byName.has(file.proto.name)) return;
    this.byName.set(file.proto.name, file);
    for (const service of file.services) {
      this.bySymbol.set(service.typeName, file);
      for (const method of service.methods)
        this.bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) this.addMessage(message, file);
    for (const enumeration of file.enums) this.addEnum(enumeration, file);
    for (const extension of file.extensions) this.addExtension(extension, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  private addMessage(message: DescMessage, file: DescFile): void {
    this.bySymbol.set(message.typeName, file);
    for (const nested of message.nestedMessages) this.addMessage(nested, file);
    for (const enumeration of message.nestedEnums)
      this.addEnum(enumeration, file);
    for (const extension of message.nestedExtensions)
      this.addExtension(extension, file);
  }

  private addEnum(enumeration: DescEnum, file: DescFile): void {
    this.bySymbol.set(enumeration.typeName, file);
  }

  private addExtension(extension: DescExtension, file: DescFile): void {
    this.bySymbol.set(extension.typeName, file);
    const numbers =
      this.byExtendee.get(extension.extendee.typeName) ??
      new Map<number, DescFile>();
    numbers.set(extension.number, file);
    this.byExtendee.set(extension.extendee.typeName, numbers);
  }
}

function notFound(what: string): ReflectionAnswer {
  return {
    case: 'errorResponse',
    value: { errorCode: status.NOT_FOUND, errorMessage: `${what} not found` },
  };
}
