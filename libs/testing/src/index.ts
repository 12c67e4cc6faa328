export {
  freePort,
  natsServerBinary,
  natsServerVersion,
  startNatsCluster,
  startNatsServer,
  versionAtLeast,
} from './nats-server.js';
export type {
  NatsClusterHandle,
  NatsClusterOptions,
  NatsServerConfigContext,
  NatsServerHandle,
  NatsServerKillSignal,
  NatsServerOptions,
  NatsServerPorts,
} from './nats-server.js';
export { startNatsShards } from './nats-shards.js';
export type { NatsShardsHandle } from './nats-shards.js';
export { deciderSpec } from './decider-spec.js';
export type { DeciderThen } from './decider-spec.js';
export {
  consumerSettled,
  countCommits,
  recordingLogger,
  rejection,
  sendCommand,
  sendQuery,
  streamPosition,
  testLogger,
} from './domain-client.js';
export type { CommandHeaders, QueryHeaders } from './domain-client.js';
export { eventually } from './eventually.js';
export { withoutSnapshotMark } from './aggregates.js';
