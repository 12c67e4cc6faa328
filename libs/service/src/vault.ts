import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';
import { Lru } from './lru.js';
import { RandomPool } from './random-pool.js';

/** The KV bucket that holds every data subject's key, wrapped under the master key. */
export const VAULT_BUCKET = 'cim_vault';

/**
 * The vault's record of which master key wraps its keys (a fingerprint, not
 * the key). Subject keys are subject tokens, which never hold a `.`.
 */
export const MASTER_CHECK_KEY = 'vault.master-check';

/** A master key other than the one the vault's keys are wrapped under. */
export class MasterKeyMismatchError extends Error {
  override readonly name = 'MasterKeyMismatchError';
}

/** JetStream's codes for a failed `Nats-Expected-Last-Subject-Sequence`. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** Where new keys and their wrapping IVs come from. */
const random = new RandomPool();

/** Keys (and forgotten subjects) held in memory; default 100,000. */
const DEFAULT_CACHE_SIZE = 100_000;

/**
 * Per-data-subject AES-256 keys in a JetStream KV bucket, each wrapped with
 * AES-256-GCM under a master key that never leaves the services. Forgetting a
 * subject purges its key: whatever was encrypted under it is unreadable from
 * then on, everywhere. A watch on the bucket tells every service at once.
 *
 * A key is only ever created where the subject's KV history is empty
 * (`Nats-Expected-Last-Subject-Sequence: 0`), so the purge marker a forgotten
 * subject leaves refuses every later creation, whichever instance tries and
 * however the attempt races with the forgetting.
 */
export class Vault {
  private readonly cache: Lru<string, Buffer | null>;
  /** Look-ups and creations on their way, one per subject, shared by everyone who asks meanwhile. */
  private readonly pending = new Map<string, Promise<Buffer | null>>();

  private constructor(
    private readonly kv: KV,
    private readonly master: Buffer,
    private readonly watch: QueuedIterator<unknown>,
    cacheSize: number,
  ) {
    this.cache = new Lru(cacheSize);
  }

  /** Opens (or creates) the vault bucket and starts watching it for forgotten subjects. */
  static async open(
    nc: NatsConnection,
    master: Buffer,
    replicas = 1,
    cacheSize = DEFAULT_CACHE_SIZE,
    /** The JetStream domain that holds the fleet's one vault, when not the connection's own (sharded: the hub). */
    jetStreamDomain?: string,
  ): Promise<Vault> {
    if (master.length !== 32)
      throw new Error('the vault master key has 32 bytes');
    const kvm = new Kvm(
      jetStreamDomain === undefined
        ? nc
        : jetstream(nc, { domain: jetStreamDomain }),
    );
    const kv = await kvm.create(VAULT_BUCKET, { history: 1, replicas });
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    const vault = new Vault(kv, master, watch, cacheSize);
    try {
      await vault.checkMaster();
    } catch (error) {
      watch.stop();
      throw error;
    }
    void (async () => {
      for await (const entry of watch) {
        // A PUT is a key's creation, which never replaces one: what is cached stays right.
        if (entry.operation !== 'PUT') vault.cache.set(entry.key, null);
      }
    })();
    return vault;
  }

  /**
   * The subject's key; with `create`, a new one when the subject has none.
   * null once the subject is forgotten (a forgotten subject never gets a key
   * again); undefined when it has none and `create` is false. `isNew` says
   * the subject most likely has no key yet (its aggregate is being created):
   * the key is then created without reading first, one round trip instead of
   * two.
   */
  keyFor(
    subject: string,
    create: boolean,
    isNew = false,
  ): Promise<Buffer | null | undefined> {
    const cached = this.cache.get(subject);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.pending.get(subject);
    if (pending !== undefined) {
      return create
        ? pending
        : pending.catch(() => this.lookUp(subject, false));
    }
    if (!create) return this.lookUp(subject, false);
    const obtaining = (
      isNew ? this.create(subject) : this.lookUp(subject, true)
    )
      .then((key) => key ?? null)
      .finally(() => this.pending.delete(subject));
    this.pending.set(subject, obtaining);
    return obtaining;
  }

  /**
   * Starts creating the key of a subject that is coming into being, so the
   * first command that needs it finds it at hand (or on its way). Failures
   * are left to that command, which asks again.
   */
  prepare(subject: string): void {
    if (this.cache.has(subject) || this.pending.has(subject)) return;
    // A failed creation is retried by the command that needs the key, which reports it.
    this.keyFor(subject, true, true).catch(() => undefined);
  }

  /** The subject's key when this process already holds it (null: forgotten), without a round trip. */
  cached(subject: string): Buffer | null | undefined {
    return this.cache.get(subject);
  }

  /** Destroys the subject's key. */
  async forget(subject: string): Promise<void> {
    await this.kv.purge(subject);
    this.cache.set(subject, null);
  }

  close(): void {
    this.watch.stop();
  }

  /**
   * Refuses a master key other than the one the vault's keys are wrapped
   * under: with the wrong one every personal field would fail to open and
   * every new key would be wrapped under a key the others cannot use. The
   * vault records its master key's fingerprint with its first use; one made
   * before that record existed is checked by opening one of its keys.
   */
  private async checkMaster(): Promise<void> {
    const mine = fingerprint(this.master);
    const entry = await this.kv.get(MASTER_CHECK_KEY);
    if (entry !== null && entry.operation === 'PUT') {
      const recorded = entry.string();
      if (recorded !== mine) throw mismatch(recorded, mine);
      return;
    }
    await this.openOneKey(mine);
    try {
      await this.kv.create(MASTER_CHECK_KEY, mine);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      await this.checkMaster(); // another instance recorded it first
    }
  }

  /** Opens the first subject key stored, if there is one, under this master key. */
  private async openOneKey(mine: string): Promise<void> {
    const keys = await this.kv.keys();
    for await (const key of keys) {
      if (key === MASTER_CHECK_KEY) continue;
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      try {
        this.unwrap(entry.value);
      } catch {
        throw mismatch(undefined, mine);
      } finally {
        keys.stop();
      }
      return;
    }
  }

  /** Reads the subject's key; when it has none and `create` is set, creates one. */
  private async lookUp(
    subject: string,
    create: boolean,
  ): Promise<Buffer | null | undefined> {
    const entry = await this.kv.get(subject);
    if (entry !== null && entry.operation !== 'PUT')
      return this.remember(subject, null);
    if (entry !== null) return this.remember(subject, this.unwrap(entry.value));
    return create ? this.create(subject) : undefined;
  }

  /** Creates the subject's key where its history is empty; otherwise reads what is there. */
  private async create(subject: string): Promise<Buffer | null> {
    const key = random.bytes(32);
    try {
      await this.kv.put(subject, this.wrap(key), { previousSeq: 0 });
      return this.remember(subject, key);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      // Another instance created it first, or the subject is forgotten: read what is there.
      return (await this.lookUp(subject, false)) ?? null;
    }
  }

  private remember(subject: string, key: Buffer | null): Buffer | null {
    // A forget seen meanwhile (null) wins over a key read before it.
    if (this.cache.get(subject) === null) return null;
    this.cache.set(subject, key);
    return key;
  }

  private wrap(key: Buffer): Uint8Array {
    // A view of the pool is enough: the cipher and the wrapped value copy it before the next draw.
    const iv = random.view(12);
    const cipher = createCipheriv('aes-256-gcm', this.master, iv);
    const body = Buffer.concat([cipher.update(key), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  private unwrap(value: Uint8Array): Buffer {
    const data = Buffer.from(value);
    const decipher = createDecipheriv(
      'aes-256-gcm',
      this.master,
      data.subarray(0, 12),
    );
    decipher.setAuthTag(data.subarray(12, 28));
    return Buffer.concat([
      decipher.update(data.subarray(28)),
      decipher.final(),
    ]);
  }
}

/** Names a master key without revealing it: HMAC-SHA256 under it of a fixed text, 128 bits in base64url. */
function fingerprint(master: Buffer): string {
  return createHmac('sha256', master)
    .update('cim vault master key check')
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

function mismatch(
  recorded: string | undefined,
  mine: string,
): MasterKeyMismatchError {
  return new MasterKeyMismatchError(
    `the vault's keys are wrapped under another master key (${
      recorded === undefined
        ? 'one of them did not open'
        : `fingerprint ${recorded}`
    }; this one's is ${mine}): start with the master key the vault was made with (CIM_MASTER_KEY, or <data dir>/keys/master.key)`,
  );
}

function isWrongLastSequence(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && WRONG_LAST_SEQUENCE.has(code);
}
