export { fold } from './decider.js';
export type { Decider } from './decider.js';
export { DomainError, ErrorCode, errorCodeName } from './domain-error.js';
export type { DomainErrorCode } from './domain-error.js';
export { derivedUuid, uuidv7, isUuid, uuidv7Time } from './ids.js';
export { isSubjectToken } from './subject-token.js';
export { outdatedMirror } from './mirror.js';
export {
  invalid,
  limitText,
  notFound,
  requireFinite,
  requireId,
  requireText,
  show,
  validateTags,
  violation,
} from './validation.js';
export type { TagLimits } from './validation.js';
export {
  GENESIS_HASH,
  HASH_BYTES,
  chainHash,
  commitMac,
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
  shardDomain,
  streamName,
  HUB_JETSTREAM_DOMAIN,
} from './subjects.js';
export type { RequestKind } from './subjects.js';
export { merkleRoot } from './merkle.js';
export {
  generateSigningKey,
  keyIdOf,
  publicKeyFromRaw,
  rawPublicKey,
  signBytes,
  signingKeyFrom,
  signingKeyFromPem,
  verifyBytes,
} from './signing.js';
export type { SigningKey } from './signing.js';
export {
  checkpointHash,
  openCheckpoint,
  signCheckpoint,
} from './checkpoint.js';
export type { CheckpointDraft } from './checkpoint.js';
export { scanCommit } from './commit-scan.js';
export type { CommitFields } from './commit-scan.js';
export { FindingKind, StreamVerifier } from './stream-verifier.js';
export type { Finding, VerifyReport } from './stream-verifier.js';
export { SortedMap } from './sorted-map.js';
export { SortedIndex, lowerBound, upperBound } from './sorted-index.js';
