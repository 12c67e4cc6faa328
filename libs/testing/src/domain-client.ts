import {
  create,
  fromBinary,
  toBinary,
  type DescMethodUnary,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import {
  DomainError,
  methodSubject,
  streamName,
  uuidv7,
  type ErrorCode,
} from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import type { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { eventually } from './eventually.js';
import { createLogger, type LogLevel, type Logger } from '@cim/observability';

/** Headers of one test command; a fresh command id unless one is given. */
export interface CommandHeaders {
  readonly commandId?: string;
  readonly expectedVersion?: bigint;
  readonly actor?: string;
  /** Cim-Correlation-Id, e.g. the id of the workflow operation a command answers. */
  readonly correlationId?: string;
  /**
   * Cim-Timeout-Ms as sent: how long the service is told its caller waits
   * (any text, so that malformed values can be sent); default `waitMs`.
   */
  readonly timeout?: string;
  /** How long this client waits for the answer, ms; default 5000. */
  readonly waitMs?: number;
}

/**
 * Sends one command RPC over NATS, as the gateway would forward it, and
 * resolves with its CommandResult; an error reply rejects with the error it carries.
 */
export async function sendCommand<I extends DescMessage>(
  nc: NatsConnection,
  method: DescMethodUnary<I, typeof CommandResultSchema>,
  init: MessageInitShape<I>,
  headers: CommandHeaders = {},
): Promise<MessageShape<typeof CommandResultSchema>> {
  const h: Record<string, string> = {
    [Header.commandId]: headers.commandId ?? uuidv7(),
    [Header.actor]: headers.actor ?? 'user:test',
  };
  if (headers.expectedVersion !== undefined)
    h[Header.expectedVersion] = String(headers.expectedVersion);
  if (headers.correlationId !== undefined)
    h[Header.correlationId] = headers.correlationId;
  if (headers.timeout !== undefined) h[Header.timeout] = headers.timeout;
  const reply = await request(
    nc,
    methodSubject(method),
    toBinary(method.input, create(method.input, init)),
    {
      headers: h,
      ...(headers.waitMs === undefined ? {} : { timeoutMs: headers.waitMs }),
    },
  );
  return fromBinary(method.output, reply);
}

/** Sends one query RPC over NATS and resolves with its decoded response. */
export interface QueryHeaders {
  /** Cim-Min-Position: the stream sequence the answer must reflect. */
  readonly minPosition?: bigint | string;
}

export async function sendQuery<I extends DescMessage, O extends DescMessage>(
  nc: NatsConnection,
  method: DescMethodUnary<I, O>,
  init: MessageInitShape<I>,
  headers: QueryHeaders = {},
): Promise<MessageShape<O>> {
  const reply = await request(
    nc,
    methodSubject(method),
    toBinary(method.input, create(method.input, init)),
    headers.minPosition === undefined
      ? {}
      : { headers: { [Header.minPosition]: String(headers.minPosition) } },
  );
  return fromBinary(method.output, reply);
}

/** A logger that writes nothing (LOG_LEVEL=debug shows everything, for debugging a test). */
export function testLogger(): Logger {
  return createLogger({
    service: 'test',
    level: (process.env['LOG_LEVEL'] as LogLevel | undefined) ?? 'silent',
  });
}

/** A logger that keeps every line it is given, parsed, at `level` and above (default info). */
export function recordingLogger(level: LogLevel = 'info'): {
  readonly log: Logger;
  readonly lines: ReadonlyArray<Readonly<Record<string, unknown>>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({
    service: 'test',
    level,
    destination: {
      write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    },
  });
  return { log, lines };
}

/** Commits stored in a domain's stream (checkpoints not counted), optionally of one aggregate only. */
export async function countCommits(
  nc: NatsConnection,
  domain: string,
  aggregateId?: string,
): Promise<number> {
  const filter =
    aggregateId === undefined
      ? `cim.${domain}.evt.>`
      : `cim.${domain}.evt.${aggregateId}`;
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName(domain), {
    subjects_filter: filter,
  });
  return Object.values(info.state.subjects ?? {}).reduce(
    (sum, n) => sum + n,
    0,
  );
}

/** A domain stream's last sequence: as `minPosition`, a query then reads everything stored so far. */
export async function streamPosition(
  nc: NatsConnection,
  domain: string,
): Promise<bigint> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName(domain));
  return BigInt(info.state.last_seq);
}

/**
 * Waits until a durable consumer on a domain's stream (a reaction's) has
 * delivered and acknowledged every commit stored when it is called, and
 * resolves with its info: `num_redelivered` tells how many deliveries it had
 * to repeat. Checkpoints on the stream are not commits and not counted.
 */
export async function consumerSettled(
  nc: NatsConnection,
  domain: string,
  consumer: string,
  timeoutMs?: number,
): Promise<ConsumerInfo> {
  const commits = await countCommits(nc, domain);
  const jsm = await jetstreamManager(nc);
  return eventually(
    async () => {
      const info = await jsm.consumers
        .info(streamName(domain), consumer)
        .catch(() => undefined);
      return info !== undefined &&
        info.delivered.consumer_seq >= commits &&
        info.num_pending === 0 &&
        info.num_ack_pending === 0
        ? info
        : undefined;
    },
    `${consumer} to acknowledge the ${commits} commits of ${domain}`,
    timeoutMs,
  );
}

/** The code of the DomainError a request is refused with; fails when it succeeds or fails otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<ErrorCode> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!DomainError.is(error))
    throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.code;
}
