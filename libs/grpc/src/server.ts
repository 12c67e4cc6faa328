import { once, type EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import type {
  DescMessage,
  DescMethod,
  DescService,
  Message,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import type {
  Metadata,
  Server,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedHandleCall,
  sendUnaryData,
} from '@grpc/grpc-js';
import { serviceDefinition } from './service-definition.js';
import { serverStatusFor } from './status.js';

/** What a handler learns about its call besides the request. */
export interface CallContext {
  /** The request metadata the client sent. */
  readonly metadata: Metadata;
  /** Aborts when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
}

/** Answers one request with one response. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Answers one request with a stream of responses; it should end when `context.signal` aborts. */
export type ServerStreamingHandler<
  I extends DescMessage,
  O extends DescMessage,
> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** Answers a stream of requests with one response. */
export type ClientStreamingHandler<
  I extends DescMessage,
  O extends DescMessage,
> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Answers a stream of requests with a stream of responses. */
export type BiDiStreamingHandler<
  I extends DescMessage,
  O extends DescMessage,
> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** The handler type of one method descriptor, chosen by its kind. */
export type MethodHandler<M> = M extends {
  readonly methodKind: infer K;
  readonly input: infer I extends DescMessage;
  readonly output: infer O extends DescMessage;
}
  ? K extends 'unary'
    ? UnaryHandler<I, O>
    : K extends 'server_streaming'
      ? ServerStreamingHandler<I, O>
      : K extends 'client_streaming'
        ? ClientStreamingHandler<I, O>
        : K extends 'bidi_streaming'
          ? BiDiStreamingHandler<I, O>
          : never
  : never;

/** One handler per RPC of a generated service, keyed by the method's local (lower-camel) name. */
export type ServiceHandlers<S extends DescService> = {
  readonly [K in keyof S['method']]: MethodHandler<S['method'][K]>;
};

/** Options of `addService`. */
export interface AddServiceOptions {
  /** Receives the cause of every error answered as INTERNAL; the client sees only "internal error". */
  readonly onInternalError?: (error: unknown, method: DescMethod) => void;
}

type AnyHandler = (input: unknown, context: CallContext) => unknown;
type Init = MessageInitShape<DescMessage>;

/**
 * Serves a generated service on a grpc-js server with typed handlers. A
 * thrown or rejected error becomes a status through `serverStatusFor`; the
 * causes of INTERNAL answers go to `onInternalError` (default: console.error).
 * Throws when a method has no handler.
 */
export function addService<S extends DescService>(
  server: Server,
  desc: S,
  handlers: ServiceHandlers<S>,
  options: AddServiceOptions = {},
): void {
  const onInternal = options.onInternalError ?? defaultInternalError;
  const table = handlers as Readonly<Record<string, unknown>>;
  const implementation: Record<string, UntypedHandleCall> = {};
  for (const method of desc.methods) {
    const handler = table[method.localName];
    if (typeof handler !== 'function') {
      throw new Error(
        `no handler for ${desc.typeName}.${method.name} (${method.localName})`,
      );
    }
    implementation[method.localName] = bind(
      method,
      handler as AnyHandler,
      (error) => fail(error, method, onInternal),
    );
  }
  server.addService(serviceDefinition(desc), implementation);
}

type Fail = (error: unknown) => ReturnType<typeof serverStatusFor>;

function fail(
  error: unknown,
  method: DescMethod,
  onInternal: NonNullable<AddServiceOptions['onInternalError']>,
): ReturnType<typeof serverStatusFor> {
  const answer = serverStatusFor(error);
  if (answer.code === status.INTERNAL) onInternal(error, method);
  return answer;
}

function defaultInternalError(error: unknown, method: DescMethod): void {
  console.error(`grpc ${method.parent.typeName}/${method.name} failed`, error);
}

function bind(
  method: DescMethod,
  handler: AnyHandler,
  failure: Fail,
): UntypedHandleCall {
  switch (method.methodKind) {
    case 'unary':
      return (
        call: ServerUnaryCall<Message, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        answer(
          callback,
          method.output,
          () => handler(call.request, contextOf(call)),
          failure,
        );
      };
    case 'client_streaming':
      return (
        call: ServerReadableStream<Message, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        answer(
          callback,
          method.output,
          () => handler(requestsOf(call), contextOf(call)),
          failure,
        );
      };
    case 'server_streaming':
      return (call: ServerWritableStream<Message, unknown>) => {
        const context = contextOf(call);
        void writeAll(
          call,
          method.output,
          context.signal,
          () => handler(call.request, context),
          failure,
        );
      };
    case 'bidi_streaming':
      return (call: ServerDuplexStream<Message, unknown>) => {
        const context = contextOf(call);
        void writeAll(
          call,
          method.output,
          context.signal,
          () => handler(requestsOf(call), context),
          failure,
        );
      };
  }
}

function answer(
  callback: sendUnaryData<unknown>,
  output: DescMessage,
  run: () => unknown,
  failure: Fail,
): void {
  Promise.resolve()
    .then(run)
    .then((response) => create(output, response as Init))
    .then(
      (message) => callback(null, message),
      (error: unknown) => callback(failure(error)),
    );
}

function contextOf(
  call: EventEmitter & { readonly metadata: Metadata },
): CallContext {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort());
  return { metadata: call.metadata, signal: controller.signal };
}

function requestsOf(
  call: ServerReadableStream<Message, unknown>,
): AsyncIterable<Message> {
  // The default iterator destroys the whole duplex when the client half-closes,
  // which would cut off responses still being written.
  return call.iterator({ destroyOnReturn: false }) as AsyncIterable<Message>;
}

async function writeAll(
  call: Writable,
  output: DescMessage,
  signal: AbortSignal,
  responses: () => unknown,
  failure: Fail,
): Promise<void> {
  try {
    for await (const response of responses() as AsyncIterable<unknown>) {
      if (signal.aborted) return;
      if (!call.write(create(output, response as Init)))
        await once(call, 'drain', { signal });
    }
    if (!signal.aborted) call.end();
  } catch (error) {
    // A cancelled call has no one left to answer.
    if (!signal.aborted) call.emit('error', failure(error));
  }
}
