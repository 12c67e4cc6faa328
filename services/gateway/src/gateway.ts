import { performance } from 'node:perf_hooks';
import type { DescFile, DescMethod, DescService } from '@bufbuild/protobuf';
import {
  ServingStatus,
  addReflection,
  addService,
  healthService,
  methodPath,
  serverStatusFor,
  serviceDefinition,
} from '@cim/grpc';
import { DomainError, ErrorCode, isUuid, uuidv7 } from '@cim/kernel';
import {
  Header,
  RequestMux,
  methodSubject,
  serviceRoute,
} from '@cim/messaging';
import { OccasionalLog } from '@cim/observability';
import {
  Health,
  file_grpc_health_v1_health,
} from '@cim/proto/grpc/health/v1/health_pb';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type {
  Metadata,
  ServerUnaryCall,
  UntypedHandleCall,
  sendUnaryData,
} from '@grpc/grpc-js';
import {
  headers as natsHeaders,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';

/** The pino methods the gateway logs with: object first, then a short lower-case message. */
export interface GatewayLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** One finished forwarded call, for metrics. */
export interface CallInfo {
  /** The gRPC path, `/cim.graph.v1.GraphQueryService/GraphInfo`. */
  readonly method: string;
  readonly code: status;
  /** Wall time from the request's arrival to the answer, in seconds. */
  readonly seconds: number;
}

/** How to start the gateway. */
export interface GatewayOptions {
  /** The NATS connection calls are forwarded on; the gateway never closes it. */
  readonly nc: NatsConnection;
  /** Interface to listen on; default 0.0.0.0. */
  readonly host?: string;
  /** TCP port; 0 lets the OS choose (see `Gateway.port`). */
  readonly port: number;
  /** The cim.<domain>.v<n>.<X>CommandService and QueryService descriptors to serve. */
  readonly services: readonly DescService[];
  /** The proto files reflection describes (normally the files declaring `services`); health and reflection are added. */
  readonly files: readonly DescFile[];
  /** Milliseconds a forwarded call waits for its service; default 5000. */
  readonly requestTimeoutMs?: number;
  /** Largest request accepted, in bytes; default the server's max_payload less 4 KiB for headers, else 1 MiB. */
  readonly maxMessageBytes?: number;
  readonly log: GatewayLog;
  /** Called once per forwarded call that reached a handler. */
  readonly onCall?: (info: CallInfo) => void;
}

/** A running gateway. */
export interface Gateway {
  /** The bound TCP port. */
  readonly port: number;
  /** Reports NOT_SERVING, lets calls in flight finish (bounded), then closes the port; idempotent. */
  stop(): Promise<void>;
}

/** Room left in a NATS message for the Cim-* and trace headers next to the forwarded bytes. */
const HEADER_ALLOWANCE_BYTES = 4096;
const FALLBACK_MAX_MESSAGE_BYTES = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** grpc.health.v1 uses this name for the whole server. */
const WHOLE_SERVER = '';

/**
 * Serves every unary RPC of the given services over gRPC and forwards each
 * call to `methodSubject(method)` over NATS without decoding it: request bytes
 * go out as they came, reply bytes come back as they are. Also serves
 * grpc.health.v1.Health (SERVING while NATS is connected) and reflection.
 * Throws when a service is not a CIM service, has a streaming RPC, or the port cannot be bound.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { nc, log } = options;
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes(nc);
  const requestTimeoutMs =
    options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const onInternalError = (error: unknown, method: DescMethod): void =>
    log.error({ err: error, method: methodPath(method) }, 'grpc call failed');

  // 1. One server; grpc-js refuses larger requests with RESOURCE_EXHAUSTED before a handler runs.
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
  });

  // 2. A raw passthrough handler per RPC, all sharing one reply subscription.
  const mux = new RequestMux(nc, requestTimeoutMs);
  for (const service of options.services) {
    const implementation: Record<string, UntypedHandleCall> = {};
    for (const method of service.methods) {
      implementation[method.localName] = forward(method, {
        mux,
        log,
        requestTimeoutMs,
        onCall: options.onCall,
      });
    }
    server.addService(
      serviceDefinition(service, { raw: true }),
      implementation,
    );
  }

  // 3. Health follows the NATS connection; reflection describes everything served.
  const health = healthService();
  const setAll = (serving: ServingStatus): void => {
    health.setStatus(WHOLE_SERVER, serving);
    for (const service of options.services)
      health.setStatus(service.typeName, serving);
  };
  setAll(nc.isClosed() ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
  addService(server, Health, health.handlers, { onInternalError });
  addReflection(server, [...options.files, file_grpc_health_v1_health], {
    onInternalError,
  });
  const stopWatching = followConnection(nc, setAll, log);

  // 4. Listen.
  const address = `${options.host ?? '0.0.0.0'}:${options.port}`;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        address,
        ServerCredentials.createInsecure(),
        (error, bound) => (error === null ? resolve(bound) : reject(error)),
      ),
    );
  } catch (cause) {
    stopWatching();
    health.close();
    server.forceShutdown();
    throw new Error(
      `gateway cannot listen on ${address}: ${(cause as Error).message}`,
      { cause },
    );
  }
  log.info(
    {
      port,
      services: options.services.map((s) => s.typeName),
      maxMessageBytes,
    },
    'gateway listening',
  );

  let stopping: Promise<void> | undefined;
  return {
    port,
    stop: () =>
      (stopping ??= (async () => {
        setAll(ServingStatus.NOT_SERVING);
        health.close();
        stopWatching();
        // Calls in flight end within the request timeout; anything longer (an idle reflection stream) is cut.
        await shutdown(server, requestTimeoutMs + 1000);
        mux.close();
        log.info({ port }, 'gateway stopped');
      })()),
  };
}

/** What a forwarding handler needs besides its method. */
interface ForwardContext {
  readonly mux: RequestMux;
  readonly log: GatewayLog;
  readonly requestTimeoutMs: number;
  readonly onCall: ((info: CallInfo) => void) | undefined;
}

function forward(
  method: DescMethod,
  context: ForwardContext,
): UntypedHandleCall {
  if (method.methodKind !== 'unary') {
    throw new Error(
      `${methodPath(method)} is ${method.methodKind}; the gateway forwards unary RPCs only`,
    );
  }
  const { mux, log, onCall, requestTimeoutMs } = context;
  const { domain, kind } = serviceRoute(method.parent);
  const subject = methodSubject(method);
  const path = methodPath(method);
  const headersFor = kind === 'cmd' ? commandHeaders : queryHeaders;
  // An overloaded or stopped service fails every call: one line a minute says how many.
  const unavailable = new OccasionalLog(UNAVAILABLE_LOG_EVERY_MS);

  const fail = (
    error: unknown,
    callback: sendUnaryData<Uint8Array>,
    started: number,
    commandId?: string,
  ): void => {
    const answer = serverStatusFor(error);
    if (answer.code === status.UNAVAILABLE) {
      answer.details = `${domain} service unavailable: ${reasonOf(error, subject)}`;
      if (commandId !== undefined) {
        // The command may have been stored: sent again under its id, it is stored at most once.
        answer.details += `; send it again with metadata ${COMMAND_ID_METADATA_KEY}: ${commandId} to be answered with its result`;
        answer.metadata.set(COMMAND_ID_METADATA_KEY, commandId);
      }
      const calls = unavailable.happened();
      if (calls !== undefined)
        log.warn(
          { err: error, method: path, subject, calls },
          'service unavailable',
        );
    } else if (answer.code === status.INTERNAL) {
      log.error({ err: error, method: path, subject }, 'forwarded call failed');
    }
    callback(answer);
    onCall?.({
      method: path,
      code: answer.code,
      seconds: (performance.now() - started) / 1000,
    });
  };

  // One closure per call, no promise: the reply's bytes go back as they came.
  return (
    call: ServerUnaryCall<Uint8Array, Uint8Array>,
    callback: sendUnaryData<Uint8Array>,
  ) => {
    const started = onCall === undefined ? 0 : performance.now();
    let headers: MsgHdrs | undefined;
    try {
      headers = headersFor(call.metadata);
    } catch (error) {
      fail(error, callback, started);
      return;
    }
    // A command says how long its caller waits, so that the service does not
    // apply it for a caller that has gone; the gateway waits as long.
    const timeoutMs =
      kind === 'cmd' ? budgetOf(call, requestTimeoutMs) : requestTimeoutMs;
    if (kind === 'cmd') headers?.set(Header.timeout, String(timeoutMs));
    mux.send(
      subject,
      call.request,
      headers,
      (error, reply) => {
        if (error !== undefined) {
          fail(
            error,
            callback,
            started,
            kind === 'cmd'
              ? headers?.get(Header.commandId) || undefined
              : undefined,
          );
          return;
        }
        callback(null, reply);
        onCall?.({
          method: path,
          code: status.OK,
          seconds: (performance.now() - started) / 1000,
        });
      },
      timeoutMs,
    );
  };
}

/** The gateway's own time-out, or what is left of the call's deadline when that is sooner (at least 1 ms). */
function budgetOf(
  call: ServerUnaryCall<Uint8Array, Uint8Array>,
  timeoutMs: number,
): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Math.max(1, Math.min(timeoutMs, Math.floor(at - Date.now())));
}

/** How often the gateway says again that calls of one method find their service unavailable, ms. */
const UNAVAILABLE_LOG_EVERY_MS = 60_000;

/** A command's id in gRPC metadata: set by the client for a retry, or made here and named when no answer came. */
const COMMAND_ID_METADATA_KEY = 'cim-command-id';

/**
 * Who a command is attributed to. Every gRPC caller is `external:grpc` until
 * the gateway authenticates callers; this is the one place to change then.
 */
function actorOf(_metadata: Metadata): string {
  return 'external:grpc';
}

/** Cim-* headers of a command, from metadata or fresh; throws VALIDATION_FAILED for a malformed id or version. */
function commandHeaders(metadata: Metadata): MsgHdrs {
  const headers = natsHeaders();
  const commandId = textOf(metadata, COMMAND_ID_METADATA_KEY) ?? uuidv7();
  if (!isUuid(commandId)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${COMMAND_ID_METADATA_KEY} must be a lower-case UUID`,
    );
  }
  headers.set(Header.commandId, commandId);
  headers.set(
    Header.correlationId,
    textOf(metadata, 'cim-correlation-id') ?? commandId,
  );
  headers.set(
    Header.causationId,
    textOf(metadata, 'cim-causation-id') ?? commandId,
  );
  headers.set(Header.actor, actorOf(metadata));
  const expectedVersion = textOf(metadata, 'cim-expected-version');
  if (expectedVersion !== undefined)
    headers.set(Header.expectedVersion, parseVersion(expectedVersion));
  copyTraceContext(metadata, headers);
  return headers;
}

/**
 * Queries carry the trace context and the stream position to read after
 * (`cim-min-position`, checked by the service); undefined when there is
 * neither, which spares the header block.
 */
function queryHeaders(metadata: Metadata): MsgHdrs | undefined {
  const minPosition = textOf(metadata, 'cim-min-position');
  if (
    minPosition === undefined &&
    textOf(metadata, Header.traceparent) === undefined
  )
    return undefined;
  const headers = natsHeaders();
  if (minPosition !== undefined) headers.set(Header.minPosition, minPosition);
  copyTraceContext(metadata, headers);
  return headers;
}

function copyTraceContext(metadata: Metadata, headers: MsgHdrs): void {
  const traceparent = textOf(metadata, Header.traceparent);
  if (traceparent === undefined) return;
  headers.set(Header.traceparent, traceparent);
  const tracestate = textOf(metadata, Header.tracestate);
  if (tracestate !== undefined) headers.set(Header.tracestate, tracestate);
}

const MAX_UINT64 = 2n ** 64n - 1n;

/** A uint64 in decimal, normalised (no leading zeros). */
function parseVersion(text: string): string {
  if (/^\d{1,20}$/.test(text)) {
    const version = BigInt(text);
    if (version <= MAX_UINT64) return version.toString();
  }
  throw new DomainError(
    ErrorCode.VALIDATION_FAILED,
    'cim-expected-version must be a decimal uint64',
  );
}

function textOf(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The part of an unavailability message a client may see: @cim/messaging prefixes it with the subject. */
function reasonOf(error: unknown, subject: string): string {
  const message = error instanceof Error ? error.message : '';
  return message.startsWith(`${subject}: `)
    ? message.slice(subject.length + 2)
    : message;
}

function defaultMaxMessageBytes(nc: NatsConnection): number {
  const maxPayload = nc.info?.max_payload;
  return maxPayload !== undefined && maxPayload > HEADER_ALLOWANCE_BYTES
    ? maxPayload - HEADER_ALLOWANCE_BYTES
    : FALLBACK_MAX_MESSAGE_BYTES;
}

/** Sets health from connection events until the returned function is called. */
function followConnection(
  nc: NatsConnection,
  setAll: (serving: ServingStatus) => void,
  log: GatewayLog,
): () => void {
  const events = nc.status();
  let following = true;
  void (async () => {
    for await (const event of events) {
      if (!following) return;
      switch (event.type) {
        case 'disconnect':
          setAll(ServingStatus.NOT_SERVING);
          log.warn({ server: event.server }, 'nats disconnected');
          break;
        case 'reconnect':
          setAll(ServingStatus.SERVING);
          log.info({ server: event.server }, 'nats reconnected');
          break;
        case 'close':
          setAll(ServingStatus.NOT_SERVING);
          log.warn({}, 'nats connection closed');
          return;
        default:
          break;
      }
    }
  })().catch((error: unknown) =>
    log.error({ err: error }, 'nats status watch failed'),
  );
  return () => {
    following = false;
    // nats-core hands out a QueuedIterator whose stop() ends the loop; the declared type only says AsyncIterable.
    const stoppable = events as AsyncIterable<unknown> & { stop?: unknown };
    if (typeof stoppable.stop === 'function')
      (stoppable.stop as () => void).call(events);
  };
}

async function shutdown(server: Server, boundMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, boundMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
