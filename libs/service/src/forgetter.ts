import type { KeyObject } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { AppendError, AppendFailure, type EventStore } from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  GENESIS_HASH,
  decodeCommit,
  derivedUuid,
  eventRecord,
  sealCommit,
  uuidv7,
} from '@cim/kernel';
import type {
  CommandMeta,
  CommandResult,
} from '@cim/proto/cim/common/v1/envelope_pb';
import {
  SubjectForgottenSchema,
  type ForgetSubject,
} from '@cim/proto/cim/common/v1/integrity_pb';
import { appendFailureReply, resultOf } from './command-handler.js';
import { subjectKey } from './personal-data.js';
import type { Vault } from './vault.js';

/** The aggregate type of the audit record a forgotten subject leaves in the stream. */
export const DATA_SUBJECT = 'DataSubject';

/**
 * Forgets data subjects: destroys the subject's key in the vault (every
 * personal field encrypted under it reads as erased from then on, in every
 * service), then records SubjectForgotten in the domain's stream so the act
 * is audited like any change. The history itself is not touched, so it still
 * verifies. Forgetting twice answers with the first record.
 */
export class Forgetter {
  constructor(
    private readonly store: EventStore,
    private readonly vault: Vault,
    private readonly domain: string,
    private readonly macKey: KeyObject | undefined,
  ) {}

  async forget(
    meta: CommandMeta,
    request: ForgetSubject,
  ): Promise<CommandResult> {
    const { subjectId, reason } = request;
    if (subjectId.trim() === '' || subjectId.length > 256) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        'subject_id must not be blank and has at most 256 characters',
      );
    }
    await this.vault.forget(subjectKey(subjectId));
    const aggregateId = derivedUuid('forget', subjectId);
    const now = Date.now();
    const event = toBinary(
      SubjectForgottenSchema,
      create(SubjectForgottenSchema, { subjectId, reason }),
    );
    const sealed = sealCommit({
      commitId: uuidv7(now),
      domain: this.domain,
      aggregateType: DATA_SUBJECT,
      aggregateId,
      version: 1n,
      events: [eventRecord(uuidv7(now), 'SubjectForgotten', event)],
      meta,
      occurredAtMs: now,
      prevHash: GENESIS_HASH,
      macKey: this.macKey,
    });
    try {
      const ack = await this.store.appendAsync(
        aggregateId,
        0,
        meta.commandId,
        sealed.bytes,
      );
      const stored = ack.duplicate ? await this.store.get(ack.seq) : undefined;
      return stored === undefined
        ? resultOf(decodeCommit(sealed.bytes), ack.seq)
        : resultOf(decodeCommit(stored.data), ack.seq);
    } catch (error) {
      if (!AppendError.is(error)) throw error;
      if (error.failure !== AppendFailure.wrongLastSequence)
        throw appendFailureReply(this.domain, error);
      // Forgotten before: the first record answers.
      const [first] = await this.store.read(aggregateId);
      if (first === undefined) throw error;
      return resultOf(decodeCommit(first.data), first.seq);
    }
  }
}
