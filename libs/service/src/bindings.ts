import {
  create,
  fromBinary,
  toBinary,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
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
} from '@cim/messaging';
import {
  CommandMetaSchema,
  CommandResultSchema,
  type CommandMeta,
} from '@cim/proto/cim/common/v1/envelope_pb';
import type { MsgHdrs } from '@nats-io/nats-core';
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
 * Reads command metadata from the request headers. A missing command id gets
 * a fresh UUIDv7 (such a command cannot be retried idempotently); a malformed
 * one is refused.
 */
export function commandMeta(
  headers: MsgHdrs | undefined,
  defaultActor: string,
): CommandMeta {
  const commandId = headers?.get(Header.commandId) ?? '';
  if (commandId !== '' && !isUuid(commandId)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.commandId} must be a UUID, got ${JSON.stringify(commandId)}`,
    );
  }
  const id = commandId === '' ? uuidv7() : commandId;
  const expected = headers?.get(Header.expectedVersion) ?? '';
  if (expected !== '' && !/^\d{1,19}$/.test(expected)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `${Header.expectedVersion} must be a version number`,
    );
  }
  return create(CommandMetaSchema, {
    commandId: id,
    correlationId: headers?.get(Header.correlationId) || id,
    causationId: headers?.get(Header.causationId) || id,
    actor: headers?.get(Header.actor) || defaultActor,
    expectedVersion: expected === '' ? 0n : BigInt(expected),
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

/** True when an error is an infrastructure failure worth a warning rather than a domain answer. */
export function isInfrastructureError(error: unknown): boolean {
  return !DomainError.is(error) && !UnavailableError.is(error);
}

export { errorLine };
