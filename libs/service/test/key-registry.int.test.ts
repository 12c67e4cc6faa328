import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ephemeralKeyring } from '../src/keyring.js';
import { KEYS_BUCKET, listKeys, publishKeys } from '../src/key-registry.js';

describe('the public-key registry', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  const bucketExists = async () =>
    (await jetstreamManager(nc)).streams.info(`KV_${KEYS_BUCKET}`).then(
      () => true,
      () => false,
    );

  it('lists no keys where none were published, and creates nothing', async () => {
    expect(await listKeys(nc, 'graph')).toEqual([]);
    expect(await bucketExists()).toBe(false);
  });

  it('lists what a domain published, and only that domain', async () => {
    const keyring = ephemeralKeyring();
    await publishKeys(nc, 'graph', keyring);
    const listed = await listKeys(nc, 'graph');
    expect(listed.map((k) => k.keyId)).toEqual([keyring.active.keyId]);
    expect(listed[0]).toMatchObject({ domain: 'graph', retired: false });
    expect(await listKeys(nc, 'location')).toEqual([]);
  });
});
