import {
  fromJson,
  toBinary,
  toJson,
  fromBinary,
  type DescMethod,
  type JsonValue,
} from '@bufbuild/protobuf';
import {
  DomainError,
  errorCodeName,
  methodSubject,
  streamName,
  uuidv7,
} from '@cim/kernel';
import { Header, UnavailableError, request } from '@cim/messaging';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { jetStreamDomainOf, type Topology } from '@cim/service';
import { domains, findMethod, UsageError } from './registry.js';

/** What `cim cmd` may set besides the command: a retry's id, the version it expects. */
export interface CommandFlags {
  /** The id of an earlier attempt, to be answered with its result; default a fresh one. */
  readonly commandId?: string | undefined;
  readonly expectedVersion?: string | undefined;
}

/**
 * Sends one command and returns its CommandResult as JSON. When no answer
 * comes, the error names the command id, with which it can be sent again
 * and be stored at most once.
 */
export async function sendCommand(
  nc: NatsConnection,
  domain: string,
  name: string,
  json: string,
  flags: CommandFlags = {},
): Promise<JsonValue> {
  const method = findMethod(domain, 'cmd', name);
  const commandId = flags.commandId ?? uuidv7();
  const headers: Record<string, string> = {
    [Header.commandId]: commandId,
    [Header.actor]: `user:${process.env['USER'] ?? 'cli'}`,
  };
  if (flags.expectedVersion !== undefined)
    headers[Header.expectedVersion] = flags.expectedVersion;
  let reply: Uint8Array;
  try {
    reply = await request(nc, methodSubject(method), encode(method, json), {
      headers,
    });
  } catch (error) {
    if (!UnavailableError.is(error)) throw error;
    throw new UnavailableError(
      `${error.message}; it may have been stored all the same: send it again with --command-id ${commandId} to be answered with its result`,
      { cause: error },
    );
  }
  return toJson(method.output, fromBinary(method.output, reply));
}

/**
 * Sends one query and returns its response as JSON; with `minPosition`, the
 * answer reflects the domain's stream up to that sequence.
 */
export async function sendQuery(
  nc: NatsConnection,
  domain: string,
  name: string,
  json: string,
  minPosition?: string,
): Promise<JsonValue> {
  const method = findMethod(domain, 'qry', name);
  const reply = await request(
    nc,
    methodSubject(method),
    encode(method, json),
    minPosition === undefined
      ? {}
      : { headers: { [Header.minPosition]: minPosition } },
  );
  return toJson(method.output, fromBinary(method.output, reply));
}

function encode(method: DescMethod, json: string): Uint8Array {
  let value: JsonValue;
  try {
    value = JSON.parse(json === '' ? '{}' : json) as JsonValue;
  } catch (cause) {
    throw new UsageError(
      `the request is not JSON: ${(cause as Error).message}`,
    );
  }
  try {
    return toBinary(method.input, fromJson(method.input, value));
  } catch (cause) {
    throw new UsageError(
      `the request does not fit ${method.input.typeName}: ${(cause as Error).message}`,
    );
  }
}

/** Which services answer, their instances and versions, their streams, and the NATS server. */
export async function status(
  nc: NatsConnection,
  url: string,
  topology: Topology = 'single',
): Promise<JsonValue> {
  const client = new Svcm(nc).client({ strategy: 'timer', maxWait: 1000 });
  const byName = new Map<string, Array<{ id: string; version: string }>>();
  for await (const info of await client.info()) {
    const list = byName.get(info.name) ?? [];
    list.push({ id: info.id, version: info.version });
    byName.set(info.name, list);
  }
  const services: JsonValue[] = [];
  for (const domain of domains()) {
    const instances = byName.get(`cim-${domain}`) ?? [];
    let stream: JsonValue = null;
    const jetStreamDomain = jetStreamDomainOf(topology, domain);
    try {
      const jsm = await jetstreamManager(nc, {
        ...(jetStreamDomain === undefined ? {} : { domain: jetStreamDomain }),
        timeout: 2000,
      });
      const info = await jsm.streams.info(streamName(domain));
      stream = {
        name: info.config.name,
        messages: info.state.messages,
        bytes: info.state.bytes,
        lastSeq: info.state.last_seq,
        ...(jetStreamDomain === undefined ? {} : { jetStreamDomain }),
      };
    } catch {
      // No stream yet (the service never started against this server), or its shard is down.
    }
    services.push({ domain, up: instances.length > 0, instances, stream });
  }
  const gateway = byName.get('cim-gateway') ?? [];
  return {
    topology,
    nats: {
      url,
      serverVersion: nc.info?.version ?? 'unknown',
      jetstream: nc.info?.jetstream === true,
    },
    gateway: { up: gateway.length > 0, instances: gateway },
    services,
  };
}

/** A one-line description of an error for the terminal, and the exit status it deserves. */
export function describeError(error: unknown): {
  line: string;
  status: number;
} {
  if (error instanceof UsageError) return { line: error.message, status: 2 };
  if (DomainError.is(error))
    return {
      line: `${errorCodeName(error.code)}: ${error.message}`,
      status: 1,
    };
  if (UnavailableError.is(error))
    return { line: `UNAVAILABLE: ${error.message}`, status: 1 };
  return {
    line: error instanceof Error ? error.message : String(error),
    status: 1,
  };
}
