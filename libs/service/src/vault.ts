import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';

/** The KV bucket that holds every data subject's key, wrapped under the master key. */
export const VAULT_BUCKET = 'cim_vault';

/**
 * Per-data-subject AES-256 keys in a JetStream KV bucket, each wrapped with
 * AES-256-GCM under a master key that never leaves the services. Forgetting a
 * subject purges its key: whatever was encrypted under it is unreadable from
 * then on, everywhere. A watch on the bucket tells every service at once.
 */
export class Vault {
  private readonly cache = new Map<string, Buffer | null>();

  private constructor(
    private readonly kv: KV,
    private readonly master: Buffer,
    private readonly watch: QueuedIterator<unknown>,
  ) {}

  /** Opens (or creates) the vault bucket and starts watching it for forgotten subjects. */
  static async open(
    nc: NatsConnection,
    master: Buffer,
    replicas = 1,
  ): Promise<Vault> {
    if (master.length !== 32)
      throw new Error('the vault master key has 32 bytes');
    const kv = await new Kvm(nc).create(VAULT_BUCKET, { history: 1, replicas });
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    const vault = new Vault(kv, master, watch);
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') vault.cache.delete(entry.key);
        else vault.cache.set(entry.key, null);
      }
    })();
    return vault;
  }

  /**
   * The subject's key; with `create`, a new one when the subject has none.
   * null once the subject is forgotten (a forgotten subject never gets a key
   * again); undefined when it has none and `create` is false.
   */
  async keyFor(
    subject: string,
    create: boolean,
  ): Promise<Buffer | null | undefined> {
    const cached = this.cache.get(subject);
    if (cached !== undefined) return cached;
    const entry = await this.kv.get(subject);
    if (entry !== null && entry.operation !== 'PUT')
      return this.remember(subject, null);
    if (entry !== null) return this.remember(subject, this.unwrap(entry.value));
    if (!create) return undefined;
    const key = randomBytes(32);
    try {
      await this.kv.create(subject, this.wrap(key));
      return this.remember(subject, key);
    } catch {
      // Another instance created it first (or it was just forgotten): read what is there.
      return this.keyFor(subject, false).then((k) => k ?? null);
    }
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

  private remember(subject: string, key: Buffer | null): Buffer | null {
    this.cache.set(subject, key);
    return key;
  }

  private wrap(key: Buffer): Uint8Array {
    const iv = randomBytes(12);
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
