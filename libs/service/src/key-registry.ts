import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { rawPublicKey } from '@cim/kernel';
import {
  PublicKeySchema,
  type PublicKey,
} from '@cim/proto/cim/common/v1/integrity_pb';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Keyring } from './keyring.js';

/** The KV bucket where every service publishes its public keys. */
export const KEYS_BUCKET = 'cim_keys';

async function bucket(nc: NatsConnection, replicas: number): Promise<KV> {
  return new Kvm(nc).create(KEYS_BUCKET, { history: 1, replicas });
}

/** A keyring that lacks keys the domain has published: the commits they sealed could not be verified. */
export class KeyringMismatchError extends Error {
  override readonly name = 'KeyringMismatchError';
}

/**
 * Publishes a keyring's public keys under `<domain>.<keyId>`: the active key
 * as current, the others as retired. Keys published earlier stay, so
 * checkpoints signed before a rotation remain verifiable. A keyring must
 * hold every key the domain has published (a rotation adds a key beside the
 * old ones): one that lacks some is refused before anything is written,
 * since the service could open none of the commits those keys sealed.
 */
export async function publishKeys(
  nc: NatsConnection,
  domain: string,
  keyring: Keyring,
  replicas = 1,
): Promise<void> {
  const kv = await bucket(nc, replicas);
  const existing = new Map(
    (await listKeys(nc, domain)).map((k) => [k.keyId, k]),
  );
  const held = new Set(keyring.keys.map((key) => key.keyId));
  const missing = [...existing.keys()].filter((keyId) => !held.has(keyId));
  if (missing.length > 0) {
    throw new KeyringMismatchError(
      `the ${domain} keyring lacks published key(s) ${missing.join(', ')}: the commits they sealed could not be verified. Start the service with the keyring that holds them (CIM_KEYS_DIR, or <data dir>/keys/cim-${domain}); a rotation adds a key beside the old ones`,
    );
  }
  for (const key of keyring.keys) {
    const retired = key !== keyring.active;
    const known = existing.get(key.keyId);
    if (known !== undefined && known.retired === retired) continue;
    const record = create(PublicKeySchema, {
      keyId: key.keyId,
      domain,
      publicKey: rawPublicKey(key.publicKey),
      createdAt: known?.createdAt ?? timestampFromMs(Date.now()),
      retired,
    });
    await kv.put(`${domain}.${key.keyId}`, toBinary(PublicKeySchema, record));
  }
}

/**
 * Every public key a domain has published, current and retired; none when
 * the registry does not exist. Read only: the registry is never created or
 * changed here. With `jetStreamDomain` (sharded topology) it is read where
 * that domain's service keeps it.
 */
export async function listKeys(
  nc: NatsConnection,
  domain: string,
  jetStreamDomain?: string,
): Promise<PublicKey[]> {
  const js =
    jetStreamDomain === undefined
      ? jetstream(nc)
      : jetstream(nc, { domain: jetStreamDomain });
  const kv = await new Kvm(js).open(KEYS_BUCKET);
  const keys: PublicKey[] = [];
  try {
    for await (const name of await kv.keys(`${domain}.*`)) {
      const entry = await kv.get(name);
      if (entry !== null && entry.operation === 'PUT')
        keys.push(fromBinary(PublicKeySchema, entry.value));
    }
  } catch (error) {
    if (isMissingBucket(error)) return [];
    throw error;
  }
  return keys.sort((a, b) => a.keyId.localeCompare(b.keyId));
}

/** The registry's stream does not exist (no service of the domain has published keys). */
function isMissingBucket(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    error.code === JetStreamApiCodes.StreamNotFound
  );
}
