export type {
  CommitMeta,
  Projection,
  QueryContext,
  QueryHandlers,
  Rows,
} from './types.js';
export {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  SortedRowIds,
  decodeCursor,
  encodeCursor,
  pageSize,
  readPage,
  rejectPageToken,
  takePage,
} from './paging.js';
export type { PageInfoInit, PageWindow } from './paging.js';
export { defineService } from './define-service.js';
export { boundByDeadline } from './deadline.js';
export type {
  RunningService,
  ServiceDefinition,
  StartOptions,
} from './define-service.js';
export type {
  CommandMessage,
  DueCommand,
  EventMessage,
  ForeignEventMeta,
  Reaction,
  Schedule,
  ServiceIo,
  ServiceSpec,
} from './definition.js';
export { scheduledCommandId } from './schedule-runner.js';
export {
  ConfigError,
  defaultDataDir,
  jetStreamDomainOf,
  loadConfig,
  natsUrlFile,
  topologyFile,
} from './config.js';
export type { Durability, ServiceConfig, Topology } from './config.js';
export { IntegrityError } from './aggregate-loader.js';
export { SERVICE_NODE_OPTIONS, runMain } from './run-main.js';
export {
  ephemeralKeyring,
  keysDir,
  loadKeyring,
  loadMasterKey,
  rotateKey,
} from './keyring.js';
export type { Keyring } from './keyring.js';
export { KEYS_BUCKET, listKeys, publishKeys } from './key-registry.js';
export type { CheckpointOptions } from './checkpointer.js';
export { verifyDomain } from './verify.js';
export type { VerifyOptions } from './verify.js';
export { ERASED } from './personal-data.js';
export { VAULT_BUCKET } from './vault.js';
