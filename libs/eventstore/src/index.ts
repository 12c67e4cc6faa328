export { EventStore } from './event-store.js';
export type { EventStoreOptions } from './event-store.js';
export {
  AppendError,
  AppendFailure,
  JS_WRONG_LAST_SEQUENCE,
  isNoRoom,
} from './errors.js';
export type { Ack } from './ack.js';
export type { AppendCallback } from './pipelined-appender.js';
export type { BatchOptions } from './batch-appender.js';
export { PULL_EXPIRES_MS } from './reader.js';
export type { Follower, StoredCommit } from './reader.js';
export { SnapshotStore } from './snapshot-store.js';
export { serverFeatures } from './server-features.js';
export type { ServerFeatures } from './server-features.js';
export { streamConfig } from './stream.js';
export type { StreamOptions } from './stream.js';
