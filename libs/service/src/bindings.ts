import {
  create,
  fromBinary,
  toBinary,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
} from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  isSubjectToken,
  isUuid,
  methodSubject,
  uuidv7,
} from '@cim/kernel';
import {
  Header,
  UnavailableError,
  errorLine,
  errorReplyFor,
  forEachHeader,
  type ReceivedMessage,
} from '@cim/messaging';
import {
  CommandMetaSchema,
  CommandResultSchema,
  type CommandMeta,
} from '@cim/proto/cim/common/v1/envelope_pb';
import type { ServiceMsg } from '@nats-io/services';
import { BUILTIN_QUERIES, type BuiltinQuery } from './audit-queries.js';

/** One command RPC: its subject, input schema, the oneof case it fills and its aggregate id field. */
export interface CommandRoute {
  readonly name: string;
  readonly subject: string;
  readonly input: DescMessage;
  readonly caseName: string;
  readonly idField: string;
}

/** One query RPC: its subject, schemas and (when it names one aggregate) its aggregate id field. */
export interface QueryRoute {
  readonly name: string;
  readonly localName: string;
  readonly subject: string;
  readonly method: DescMethod;
  readonly idField: string | undefined;
  readonly hasMinVersion: boolean;
  /** Set for the queries the runtime answers itself. */
  readonly builtin: BuiltinQuery | undefined;
}

/**
 * Derives the command routes from `<Domain>CommandService` and the
 * `<Domain>Command` oneof: every RPC's input must be a case of the oneof and
 * carry a string `<domain>_id` field. Throws at definition time otherwise.
 */
export function commandRoutes(
  domain: string,
  commandSchema: DescMessage,
): CommandRoute[] {
  const service = commandSchema.file.services.find((s) =>
    s.name.endsWith('CommandService'),
  );
  if (service === undefined)
    throw new Error(`${commandSchema.file.name} defines no CommandService`);
  const body = commandSchema.oneofs.find((o) => o.name === 'body');
  if (body === undefined)
    throw new Error(`${commandSchema.typeName} has no oneof body`);
  const idField = `${domain}Id`;
  return service.methods
    .filter((method) => method.input.typeName !== FORGET_SUBJECT)
    .map((method) => {
      const field = body.fields.find(
        (f) => f.message?.typeName === method.input.typeName,
      );
      if (field === undefined) {
        throw new Error(
          `${method.input.typeName} is not a case of ${commandSchema.typeName}.body`,
        );
      }
      if (!isStringField(method.input, idField)) {
        throw new Error(
          `${method.input.typeName} has no string ${idField} field`,
        );
      }
      return {
        name: method.name,
        subject: methodSubject(method),
        input: method.input,
        caseName: field.localName,
        idField,
      };
    });
}

/** The built-in command every domain may declare to forget a data subject. */
export const FORGET_SUBJECT = 'cim.common.v1.ForgetSubject';

/** Derives the query routes of a query service. */
export function queryRoutes(
  domain: string,
  service: DescService,
): QueryRoute[] {
  const idField = `${domain}Id`;
  return service.methods.map((method) => ({
    name: method.name,
    localName: method.localName,
    subject: methodSubject(method),
    method,
    idField: isStringField(method.input, idField) ? idField : undefined,
    hasMinVersion: method.input.fields.some(
      (f) => f.localName === 'minVersion',
    ),
    builtin:
      BUILTIN_QUERIES[method.input.typeName as keyof typeof BUILTIN_QUERIES],
  }));
}

function isStringField(message: DescMessage, localName: string): boolean {
  const field: DescField | undefined = message.fields.find(
    (f) => f.localName === localName,
  );
  return field?.fieldKind === 'scalar' && field.scalar === ScalarType.STRING;
}

/** Decodes a request body, answering malformed bytes with VALIDATION_FAILED. */
export function decodeRequest<T>(schema: DescMessage, data: Uint8Array): T {
  try {
    return fromBinary(schema, data) as T;
  } catch (cause) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `malformed ${schema.name}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * Reads command metadata from a request's headers (their received bytes in
 * one pass where the client keeps them, see forEachHeader). A missing command
 * id gets a fresh UUIDv7 (such a command cannot be retried idempotently); a
 * malformed one is refused. The first value of each name counts.
 */
export function commandMeta(
  msg: ReceivedMessage,
  defaultActor: string,
): CommandMeta {
  return commandRequest(msg, defaultActor).meta;
}

/** A command request's metadata, and how long its caller waits (Cim-Timeout-Ms), when it says. */
export interface CommandRequest {
  readonly meta: CommandMeta;
  readonly timeoutMs: number | undefined;
}

/** {@link commandMeta}, and the caller's Cim-Timeout-Ms, read in the same pass over the headers. */
export function commandRequest(
  msg: ReceivedMessage,
  defaultActor: string,
): CommandRequest {
  let commandId = '';
  let correlationId = '';
  let causationId = '';
  let actor = '';
  let expected = '';
  let timeout = '';
  forEachHeader(msg, (key, value) => {
    switch (key) {
      case Header.commandId:
        commandId ||= value;
        break;
      case Header.correlationId:
        correlationId ||= value;
        break;
      case Header.causationId:
        causationId ||= value;
        break;
      case Header.actor:
        actor ||= value;
        break;
      case Header.expectedVersion:
        expected ||= value;
        break;
      case Header.timeout:
        timeout ||= value;
        break;
      default:
        break;
    }
  });
  if (commandId !== '' && !isUuid(commandId)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.commandId} must be a UUID, got ${JSON.stringify(commandId)}`,
    );
  }
  const id = commandId === '' ? uuidv7() : commandId;
  if (expected !== '' && !/^\d{1,19}$/.test(expected)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.expectedVersion} must be a version number`,
    );
  }
  if (timeout !== '' && !/^[1-9]\d{0,8}$/.test(timeout)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.timeout} must be a positive number of milliseconds, got ${JSON.stringify(timeout)}`,
    );
  }
  return {
    // Every field set: the literal is exactly what create(CommandMetaSchema, ...) builds, without its reflection.
    meta: {
      $typeName: CommandMetaSchema.typeName,
      commandId: id,
      correlationId: correlationId || id,
      causationId: causationId || id,
      actor: actor || defaultActor,
      expectedVersion: expected === '' ? 0n : BigInt(expected),
    },
    timeoutMs: timeout === '' ? undefined : Number(timeout),
  };
}

/**
 * The stream position a query's answer must reflect: its Cim-Min-Position
 * header (a command result's `stream_sequence`), or 0 without one. Throws
 * VALIDATION_FAILED for anything but a stream sequence.
 */
export function queryMinPosition(msg: ReceivedMessage): number {
  let text = '';
  forEachHeader(msg, (key, value) => {
    if (key === Header.minPosition) text ||= value;
  });
  if (text === '') return 0;
  const position = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(position)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.minPosition} must be a stream sequence, got ${JSON.stringify(text)}`,
    );
  }
  return position;
}

/**
 * Builds `<Domain>Command { meta, body: { case, value } }` for one route. When
 * the command message has no other fields (as every domain's has), the
 * message is a literal; otherwise `create` fills in the rest.
 */
export function commandBuilder(
  commandSchema: DescMessage,
  caseName: string,
): (meta: CommandMeta, body: Message) => Message {
  const plain = commandSchema.members.every(
    (m) =>
      (m.kind === 'oneof' && m.localName === 'body') ||
      (m.kind === 'field' && m.localName === 'meta' && m.oneof === undefined),
  );
  const { typeName } = commandSchema;
  return plain
    ? (meta, value) =>
        ({
          $typeName: typeName,
          meta,
          body: { case: caseName, value },
        }) as Message
    : (meta, value) =>
        create(commandSchema, {
          meta,
          body: { case: caseName, value },
        });
}

/** Reads and checks the aggregate id of a command; an empty id on a command becomes the command id (a new aggregate). */
export function aggregateIdOf(
  body: Record<string, unknown>,
  idField: string,
  meta: CommandMeta,
): string {
  const id = body[idField];
  if (typeof id !== 'string' || id === '') {
    body[idField] = meta.commandId;
    return meta.commandId;
  }
  if (!isSubjectToken(id)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${idField} must be 1-128 letters, digits, '-' or '_'`,
    );
  }
  return id;
}

/** Answers a request with an error: the code and message in micro headers, a cim.common.v1.Error body. */
export function respondError(msg: ServiceMsg, error: unknown): void {
  const reply = errorReplyFor(error);
  msg.respond(reply.body, { headers: reply.headers });
}

/** The reply for an accepted command. */
export function encodeResult(
  result: Parameters<typeof toBinary<typeof CommandResultSchema>>[1],
): Uint8Array {
  return toBinary(CommandResultSchema, result);
}

/**
 * Encodes a CommandResult straight into one buffer, byte for byte what the
 * generated encoder writes (fields in number order, empty and zero fields
 * left out), without building the message first.
 */
export function encodeCommandResult(
  commandId: string,
  aggregateId: string,
  version: bigint,
  eventIds: readonly string[],
  streamSequence: number,
): Uint8Array {
  const versionNumber = Number(version);
  let size =
    stringFieldSize(commandId) +
    stringFieldSize(aggregateId) +
    (versionNumber === 0 ? 0 : 1 + varintSize(versionNumber)) +
    (streamSequence === 0 ? 0 : 1 + varintSize(streamSequence));
  // Repeated strings keep their empty elements: each one is a field.
  for (const id of eventIds) size += 1 + lengthPrefixed(id);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const varint = (value: number) => {
    while (value >= 0x80) {
      out[at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    out[at++] = value;
  };
  const string = (tag: number, value: string) => {
    out[at++] = tag;
    varint(Buffer.byteLength(value, 'utf8'));
    at += out.write(value, at, 'utf8');
  };
  if (commandId !== '') string((1 << 3) | 2, commandId);
  if (aggregateId !== '') string((2 << 3) | 2, aggregateId);
  if (versionNumber !== 0) {
    out[at++] = 3 << 3;
    varint(versionNumber);
  }
  for (const id of eventIds) string((4 << 3) | 2, id);
  if (streamSequence !== 0) {
    out[at++] = 5 << 3;
    varint(streamSequence);
  }
  return out;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function lengthPrefixed(value: string): number {
  const length = Buffer.byteLength(value, 'utf8');
  return varintSize(length) + length;
}

function stringFieldSize(value: string): number {
  return value === '' ? 0 : 1 + lengthPrefixed(value);
}

/** True when an error is an infrastructure failure worth a warning rather than a domain answer. */
export function isInfrastructureError(error: unknown): boolean {
  return !DomainError.is(error) && !UnavailableError.is(error);
}

export { errorLine };
