import type * as Testing from '@cim/testing';

// The package index also exports its jest helpers, which import '@jest/globals'
// at load time and so fail outside jest; load the nats-server module alone.
// Typed from the package, so a change to the harness still fails the build here.
const harness = (await import(
  new URL('./nats-server.js', import.meta.resolve('@cim/testing')).href
)) as Pick<typeof Testing, 'startNatsServer' | 'freePort'>;

/** `startNatsServer` from @cim/testing: a nats-server on a server-chosen loopback port with a temporary store. */
export const startNatsServer: typeof Testing.startNatsServer =
  harness.startNatsServer;

/** `freePort` from @cim/testing: a loopback TCP port that was free a moment ago. */
export const freePort: typeof Testing.freePort = harness.freePort;
