import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ephemeralKeyring } from '../src/keyring.js';
import {
  KEYS_BUCKET,
  KeyringMismatchError,
  listKeys,
  publishKeys,
} from '../src/key-registry.js';

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

  it('retires the old key when a rotated keyring holds it beside the new one', async () => {
    const old = ephemeralKeyring();
    await publishKeys(nc, 'workflow', old);
    const next = ephemeralKeyring().active;
    await publishKeys(nc, 'workflow', {
      active: next,
      keys: [next, old.active],
    });
    const listed = await listKeys(nc, 'workflow');
    expect(listed.map((k) => [k.keyId, k.retired]).sort()).toEqual(
      [
        [old.active.keyId, true],
        [next.keyId, false],
      ].sort(),
    );
  });

  it('refuses a keyring that lacks a key the domain published, and writes nothing', async () => {
    const first = ephemeralKeyring();
    await publishKeys(nc, 'document', first);
    const before = await listKeys(nc, 'document');
    const stranger = ephemeralKeyring();
    await expect(publishKeys(nc, 'document', stranger)).rejects.toThrow(
      new RegExp(
        `document keyring lacks published key\\(s\\) ${first.active.keyId}`,
      ),
    );
    await expect(publishKeys(nc, 'document', stranger)).rejects.toBeInstanceOf(
      KeyringMismatchError,
    );
    expect(await listKeys(nc, 'document')).toEqual(before);
  });
});
