export { fold } from './decider.js';
export type { Decider } from './decider.js';
export { DomainError, ErrorCode, errorCodeName } from './domain-error.js';
export type { DomainErrorCode } from './domain-error.js';
export { derivedUuid, uuidv7, isUuid, uuidv7Time } from './ids.js';
export { isSubjectToken } from './subject-token.js';
export {
  GENESIS_HASH,
  HASH_BYTES,
  chainHash,
  decodeCommit,
  eventRecord,
  sameHash,
  sealCommit,
  splitSealed,
} from './commit.js';
export type { CommitDraft, SealedCommit } from './commit.js';
export {
  aggregateIdOf,
  assertDomainName,
  checkpointSubject,
  commandSubject,
  eventSubject,
  eventWildcard,
  methodSubject,
  querySubject,
  queueGroup,
  serviceRoute,
  streamName,
} from './subjects.js';
export type { RequestKind } from './subjects.js';
