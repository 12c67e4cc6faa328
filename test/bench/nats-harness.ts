// The package index loads outside jest (its decider specs use node:assert), so
// the benchmarks take the harness from it like any other consumer.
export {
  freePort,
  natsServerBinary,
  natsServerVersion,
  startNatsServer,
  versionAtLeast,
} from '@cim/testing';
