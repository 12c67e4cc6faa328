import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type {
  DescMessage,
  DescMethod,
  DescService,
  Message,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';
import { Client, Metadata, credentials } from '@grpc/grpc-js';
import type {
  CallOptions,
  ChannelCredentials,
  ChannelOptions,
  ClientReadableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { asBuffer, methodPath } from './service-definition.js';

/** Per-call options of a client method. */
export interface ClientCallOptions {
  /** Request metadata; keys are lower-case ASCII. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Milliseconds from now until the call fails with DEADLINE_EXCEEDED. */
  readonly deadlineMs?: number;
  /** Cancels the call; it then fails with CANCELLED. */
  readonly signal?: AbortSignal;
}

/** How a client connects. */
export interface ClientOptions {
  /** Default: plaintext (`credentials.createInsecure()`). */
  readonly credentials?: ChannelCredentials;
  readonly channelOptions?: ChannelOptions;
}

/** Calls a unary RPC; rejects with the grpc-js ServiceError (`code`, `details`, `metadata`). */
export type UnaryClientMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: ClientCallOptions,
) => Promise<MessageShape<O>>;

/** Calls a server-streaming RPC; the iteration throws the ServiceError a failed call ends with. */
export type ServerStreamingClientMethod<
  I extends DescMessage,
  O extends DescMessage,
> = (
  request: MessageInitShape<I>,
  options?: ClientCallOptions,
) => AsyncIterable<MessageShape<O>>;

/** Calls a client-streaming RPC with the given requests, then half-closes. */
export type ClientStreamingClientMethod<
  I extends DescMessage,
  O extends DescMessage,
> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: ClientCallOptions,
) => Promise<MessageShape<O>>;

/** Calls a bidi-streaming RPC: sends the requests, half-closes after the last, and yields the responses. */
export type BiDiStreamingClientMethod<
  I extends DescMessage,
  O extends DescMessage,
> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: ClientCallOptions,
) => AsyncIterable<MessageShape<O>>;

/** The client method type of one method descriptor, chosen by its kind. */
export type ClientMethod<M> = M extends {
  readonly methodKind: infer K;
  readonly input: infer I extends DescMessage;
  readonly output: infer O extends DescMessage;
}
  ? K extends 'unary'
    ? UnaryClientMethod<I, O>
    : K extends 'server_streaming'
      ? ServerStreamingClientMethod<I, O>
      : K extends 'client_streaming'
        ? ClientStreamingClientMethod<I, O>
        : K extends 'bidi_streaming'
          ? BiDiStreamingClientMethod<I, O>
          : never
  : never;

/** A typed client of one service: a method per RPC (lower-camel names) plus `close()`. */
export type GrpcClient<S extends DescService> = {
  readonly [K in keyof S['method']]: ClientMethod<S['method'][K]>;
} & {
  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void;
};

/** A client that sends and receives encoded bytes, for forwarding and benchmarks. */
export interface RawGrpcClient {
  /** Calls a unary RPC with encoded request bytes and resolves with the encoded response. */
  unary(
    method: DescMethod,
    request: Uint8Array,
    options?: ClientCallOptions,
  ): Promise<Uint8Array>;
  close(): void;
}

/**
 * Creates a typed grpc-js client for a generated service at `address`
 * (`host:port`). Requests accept init objects; responses are decoded
 * messages. Throws when the service has an RPC named `close`.
 */
export function createClient<S extends DescService>(
  desc: S,
  address: string,
  options: ClientOptions = {},
): GrpcClient<S> {
  const client = newClient(address, options);
  const methods: Record<string, unknown> = {};
  for (const method of desc.methods) {
    if (method.localName === 'close')
      throw new Error(`${desc.typeName} has an RPC named close`);
    methods[method.localName] = clientMethod(client, method);
  }
  methods['close'] = () => client.close();
  return methods as GrpcClient<S>;
}

/** Creates a client that calls any unary RPC with encoded bytes; nothing is decoded. */
export function createRawClient(
  address: string,
  options: ClientOptions = {},
): RawGrpcClient {
  const client = newClient(address, options);
  return {
    unary: (method, request, callOptions = {}) =>
      unaryCall(
        client,
        methodPath(method),
        asBuffer,
        identity,
        request,
        callOptions,
      ),
    close: () => client.close(),
  };
}

function newClient(address: string, options: ClientOptions): Client {
  return new Client(
    address,
    options.credentials ?? credentials.createInsecure(),
    options.channelOptions,
  );
}

function clientMethod(client: Client, method: DescMethod): unknown {
  const path = methodPath(method);
  const serialize = (value: unknown): Buffer =>
    asBuffer(
      toBinary(
        method.input,
        create(method.input, value as MessageInitShape<DescMessage>),
      ),
    );
  const deserialize = (bytes: Buffer): Message =>
    fromBinary(method.output, bytes);
  switch (method.methodKind) {
    case 'unary':
      return (request: unknown, options: ClientCallOptions = {}) =>
        unaryCall(client, path, serialize, deserialize, request, options);
    case 'server_streaming':
      return (request: unknown, options: ClientCallOptions = {}) =>
        responsesOf(
          client.makeServerStreamRequest(
            path,
            serialize,
            deserialize,
            request,
            metadataOf(options),
            callOptionsOf(options),
          ),
          options.signal,
        );
    case 'client_streaming':
      return (
        requests: AsyncIterable<unknown>,
        options: ClientCallOptions = {},
      ) =>
        new Promise<Message>((resolve, reject) => {
          const call = client.makeClientStreamRequest(
            path,
            serialize,
            deserialize,
            metadataOf(options),
            callOptionsOf(options),
            (error: ServiceError | null, response?: Message) =>
              error === null && response !== undefined
                ? resolve(response)
                : reject(error ?? new Error('no response')),
          );
          cancelOnAbort(call, options.signal);
          void sendAll(call, requests);
        });
    case 'bidi_streaming':
      return (
        requests: AsyncIterable<unknown>,
        options: ClientCallOptions = {},
      ) => {
        const call = client.makeBidiStreamRequest(
          path,
          serialize,
          deserialize,
          metadataOf(options),
          callOptionsOf(options),
        );
        void sendAll(call, requests);
        return responsesOf(call, options.signal);
      };
  }
}

function unaryCall<Req, Res>(
  client: Client,
  path: string,
  serialize: (value: Req) => Buffer,
  deserialize: (bytes: Buffer) => Res,
  request: Req,
  options: ClientCallOptions,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const call = client.makeUnaryRequest(
      path,
      serialize,
      deserialize,
      request,
      metadataOf(options),
      callOptionsOf(options),
      (error: ServiceError | null, response?: Res) =>
        error === null && response !== undefined
          ? resolve(response)
          : reject(error ?? new Error('no response')),
    );
    cancelOnAbort(call, options.signal);
  });
}

async function* responsesOf<T>(
  call: ClientReadableStream<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  cancelOnAbort(call, signal);
  try {
    for await (const response of call as AsyncIterable<T>) yield response;
  } finally {
    // Leaving the loop early must end the call on the server too; after the end this is a no-op.
    call.cancel();
  }
}

async function sendAll(
  call: Writable & { cancel(): void },
  requests: AsyncIterable<unknown>,
): Promise<void> {
  try {
    for await (const request of requests) {
      // `once` rejects when the stream errors, so a failed call does not leave this waiting.
      if (!call.write(request)) await once(call, 'drain');
    }
    call.end();
  } catch {
    // The caller sees the failure as the call ending with CANCELLED.
    call.cancel();
  }
}

function cancelOnAbort(
  call: { cancel(): void },
  signal: AbortSignal | undefined,
): void {
  if (signal === undefined) return;
  if (signal.aborted) call.cancel();
  else signal.addEventListener('abort', () => call.cancel(), { once: true });
}

function metadataOf(options: ClientCallOptions): Metadata {
  const metadata = new Metadata();
  if (options.metadata !== undefined) {
    for (const [key, value] of Object.entries(options.metadata))
      metadata.set(key, value);
  }
  return metadata;
}

function callOptionsOf(options: ClientCallOptions): CallOptions {
  return options.deadlineMs === undefined
    ? {}
    : { deadline: Date.now() + options.deadlineMs };
}

function identity(bytes: Buffer): Buffer {
  return bytes;
}
