import {
  create,
  fromBinary,
  toJsonString,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import type { EventStore } from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  isSubjectToken,
} from '@cim/kernel';
import { DATA_SUBJECT } from './forgetter.js';
import {
  HistoryResponseSchema,
  SubjectForgottenSchema,
  PublicKeysResponseSchema,
  type HistoryRequest,
  type HistoryResponse,
  type PublicKeysResponse,
} from '@cim/proto/cim/common/v1/integrity_pb';
import type { NatsConnection } from '@nats-io/nats-core';
import { listKeys } from './key-registry.js';

/** Built-in queries every domain's query service answers, by request type. */
export const BUILTIN_QUERIES = {
  'cim.common.v1.HistoryRequest': 'history',
  'cim.common.v1.PublicKeysRequest': 'publicKeys',
} as const;
export type BuiltinQuery =
  (typeof BUILTIN_QUERIES)[keyof typeof BUILTIN_QUERIES];

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/**
 * An aggregate's commits in order, read from the stream (not the read model):
 * events as canonical JSON, actor, ids, time and version, paged by stream
 * sequence (`page_token` is the next sequence to read).
 */
export async function history(
  store: EventStore,
  eventSchema: DescMessage,
  request: HistoryRequest,
  renderEvent: (event: Message) => Message | Promise<Message> = (event) =>
    event,
): Promise<HistoryResponse> {
  const { aggregateId } = request;
  if (!isSubjectToken(aggregateId)) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      'aggregate_id must be 1-128 letters, digits, - or _',
    );
  }
  const size = Math.min(request.page?.pageSize || DEFAULT_PAGE, MAX_PAGE);
  const token = request.page?.pageToken ?? '';
  if (token !== '' && !/^\d{1,15}$/.test(token))
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'bad page_token');
  const from = token === '' ? 1 : Number(token);
  const commits = await store.read(aggregateId, from);
  if (commits.length === 0 && token === '') {
    throw new DomainError(
      ErrorCode.NOT_FOUND,
      `${store.domain} ${aggregateId} has no history`,
    );
  }
  const page = commits.slice(0, size);
  const next = commits[size];
  const entries = [];
  for (const stored of page) {
    const commit = decodeCommit(stored.data);
    const events = [];
    // A forgotten subject's audit record carries SubjectForgotten, not a domain event.
    const schema =
      commit.aggregateType === DATA_SUBJECT
        ? SubjectForgottenSchema
        : eventSchema;
    for (const record of commit.events) {
      const event = await renderEvent(fromBinary(schema, record.payload));
      events.push({
        eventId: record.eventId,
        eventType: record.eventType,
        json: toJsonString(schema, event),
      });
    }
    entries.push({
      streamSequence: BigInt(stored.seq),
      commitId: commit.commitId,
      commandId: commit.commandId,
      version: commit.version,
      actor: commit.actor,
      correlationId: commit.correlationId,
      causationId: commit.causationId,
      ...(commit.occurredAt === undefined
        ? {}
        : { occurredAt: commit.occurredAt }),
      events,
    });
  }
  return create(HistoryResponseSchema, {
    aggregateId,
    entries,
    page: { nextPageToken: next === undefined ? '' : String(next.seq) },
  });
}

/** The domain's published public keys, current and retired. */
export async function publicKeys(
  nc: NatsConnection,
  domain: string,
): Promise<PublicKeysResponse> {
  return create(PublicKeysResponseSchema, {
    keys: await listKeys(nc, domain),
  });
}
