import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uuidv7 } from '@cim/kernel';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { MASTER_CHECK_KEY, VAULT_BUCKET, Vault } from '../src/vault.js';

const subject = () => `subject-${uuidv7()}`;

/** Polls `probe` until it holds (the vault's watch delivers asynchronously). */
async function eventually(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !probe(); i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  expect(probe()).toBe(true);
}

describe('Vault', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const master = randomBytes(32);
  const vaults: Vault[] = [];
  const open = async () => {
    const vault = await Vault.open(nc, master);
    vaults.push(vault);
    return vault;
  };

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    for (const vault of vaults) vault.close();
    await nc.close();
    await server.stop();
  });

  describe('when instances race to create one subject key', () => {
    it('gives every instance the same key', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      const keys = await Promise.all([
        a.keyFor(id, true, true),
        b.keyFor(id, true, true),
        a.keyFor(id, true),
        b.keyFor(id, true, false),
      ]);
      expect(keys[0]).toBeInstanceOf(Buffer);
      for (const key of keys) expect(key?.equals(keys[0]!)).toBe(true);
    });

    it('keeps the key it holds when another instance writes one', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      const key = await a.keyFor(id, true, true);
      const other = subject();
      await b.keyFor(other, true, true);
      await a.keyFor(other, false);
      expect(a.cached(id)).toBe(key);
    });
  });

  describe('when a key is prepared for a subject coming into being', () => {
    it('holds it without a round trip once made, and reads it back elsewhere', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      a.prepare(id);
      const key = await a.keyFor(id, true);
      expect(a.cached(id)).toBe(key);
      expect((await b.keyFor(id, false))?.equals(key!)).toBe(true);
    });
  });

  describe('when a subject is forgotten', () => {
    it('never gets a key again, from any instance', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      await a.keyFor(id, true, true);
      await b.keyFor(id, false);
      await a.forget(id);
      expect(await a.keyFor(id, true, true)).toBeNull();
      await eventually(() => b.cached(id) === null);
      expect(await b.keyFor(id, true)).toBeNull();
      const fresh = await open();
      expect(await fresh.keyFor(id, true, true)).toBeNull();
      expect(await fresh.keyFor(id, true, false)).toBeNull();
      expect(await fresh.keyFor(id, false)).toBeNull();
    });

    it('gets no key when forgotten before it ever had one', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      await a.forget(id);
      b.prepare(id);
      expect(await b.keyFor(id, true)).toBeNull();
      expect(await (await open()).keyFor(id, true, true)).toBeNull();
    });

    it('gets no key when forgotten while the key is being made', async () => {
      const [a, b] = [await open(), await open()];
      const id = subject();
      const [key] = await Promise.all([b.keyFor(id, true, true), a.forget(id)]);
      // Whichever landed first, the subject ends up forgotten everywhere.
      expect(key === null || Buffer.isBuffer(key)).toBe(true);
      await eventually(() => b.cached(id) === null);
      expect(await (await open()).keyFor(id, true, true)).toBeNull();
    });
  });

  describe('when started with another master key', () => {
    const other = randomBytes(32);

    it('refuses to open, and changes nothing', async () => {
      const id = subject();
      const key = await (await open()).keyFor(id, true);
      await expect(Vault.open(nc, other)).rejects.toThrow(
        /wrapped under another master key \(fingerprint [\w-]{22}; this one's is [\w-]{22}\)/,
      );
      expect(await (await open()).keyFor(id, false)).toEqual(key);
    });

    it('checks a vault made before it recorded its master key by opening one of its keys', async () => {
      await (await open()).keyFor(subject(), true);
      const kv = await new Kvm(nc).open(VAULT_BUCKET);
      await kv.purge(MASTER_CHECK_KEY);
      await expect(Vault.open(nc, other)).rejects.toThrow(
        /another master key \(one of them did not open/,
      );
      expect((await kv.get(MASTER_CHECK_KEY))?.operation).toBe('PURGE');
      await open();
      expect((await kv.get(MASTER_CHECK_KEY))?.operation).toBe('PUT');
      await expect(Vault.open(nc, other)).rejects.toThrow(/fingerprint/);
    });
  });
});
