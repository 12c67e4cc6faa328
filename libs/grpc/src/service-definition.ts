import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
} from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** Options of `serviceDefinition`. */
export interface ServiceDefinitionOptions {
  /** Keep requests and responses as encoded bytes (no decode or encode), for forwarding. */
  readonly raw?: boolean;
}

/**
 * Builds a grpc-js service definition from a protobuf-es service descriptor,
 * keyed by each method's `localName`, with paths `/<typeName>/<Method>`.
 * Typed definitions decode to messages and encode messages or init objects;
 * raw ones pass `Uint8Array` bytes through without copying.
 */
export function serviceDefinition(
  desc: DescService,
  options: ServiceDefinitionOptions = {},
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of desc.methods) {
    definition[method.localName] =
      options.raw === true ? rawMethod(method) : typedMethod(method);
  }
  return definition;
}

/** The HTTP/2 path of an RPC: `/<package>.<Service>/<Method>`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** A view of the same memory as a Buffer, as grpc-js wants; no copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function rawMethod(method: DescMethod): MethodDefinition<unknown, unknown> {
  return {
    path: methodPath(method),
    originalName: method.name,
    requestStream: isRequestStream(method),
    responseStream: isResponseStream(method),
    requestSerialize: passBytes,
    requestDeserialize: identity,
    responseSerialize: passBytes,
    responseDeserialize: identity,
  };
}

function passBytes(value: unknown): Buffer {
  if (!(value instanceof Uint8Array))
    throw new TypeError('a raw gRPC method sends Uint8Array bytes only');
  return asBuffer(value);
}

function typedMethod(method: DescMethod): MethodDefinition<unknown, unknown> {
  return {
    path: methodPath(method),
    originalName: method.name,
    requestStream: isRequestStream(method),
    responseStream: isResponseStream(method),
    requestSerialize: encoder(method.input),
    requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
    responseSerialize: encoder(method.output),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
  };
}

function encoder(schema: DescMessage): (value: unknown) => Buffer {
  // `create` returns a message of the schema unchanged and builds one from an init object.
  return (value) =>
    asBuffer(
      toBinary(schema, create(schema, value as Record<string, unknown>)),
    );
}

function identity(bytes: Buffer): Buffer {
  return bytes;
}

function isRequestStream(method: DescMethod): boolean {
  return (
    method.methodKind === 'client_streaming' ||
    method.methodKind === 'bidi_streaming'
  );
}

function isResponseStream(method: DescMethod): boolean {
  return (
    method.methodKind === 'server_streaming' ||
    method.methodKind === 'bidi_streaming'
  );
}
