import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  generateSigningKey,
  signingKeyFromPem,
  type SigningKey,
} from '@cim/kernel';

/** A service's signing keys, newest first: the first signs, all verify commit macs. */
export interface Keyring {
  readonly active: SigningKey;
  readonly keys: readonly SigningKey[];
}

/** A keyring of one new key, held in memory only. */
export function ephemeralKeyring(): Keyring {
  const key = generateSigningKey();
  return { active: key, keys: [key] };
}

/** The directory a domain's key files live in by default. */
export function keysDir(dataDir: string, domain: string): string {
  return join(dataDir, 'keys', `cim-${domain}`);
}

/**
 * Loads a service's keys: `CIM_SIGNING_KEY` (one PEM private key) when set,
 * else every `*.pem` in the keys directory, newest name first (names start
 * with a UTC timestamp, so the newest key signs and older ones still verify).
 * An empty directory gets a new key written into it, for development: say so
 * in the log. Rotation is a new file: `rotateKey`.
 */
export function loadKeyring(options: {
  dir: string;
  env?: Readonly<Record<string, string | undefined>>;
  onGenerated?: (path: string) => void;
}): Keyring {
  const pem = options.env?.['CIM_SIGNING_KEY'];
  if (pem !== undefined && pem !== '') {
    const key = signingKeyFromPem(pem);
    return { active: key, keys: [key] };
  }
  const files = existsSync(options.dir)
    ? readdirSync(options.dir)
        .filter((f) => f.endsWith('.pem'))
        .sort()
        .reverse()
    : [];
  if (files.length === 0) {
    const path = rotateKey(options.dir);
    options.onGenerated?.(path);
    return loadKeyring({ dir: options.dir });
  }
  const keys = files.map((f) =>
    signingKeyFromPem(readFileSync(join(options.dir, f), 'utf8')),
  );
  return { active: keys[0]!, keys };
}

/** Writes a new key into `dir` (readable by the owner only); it becomes the active key. Returns its path. */
export function rotateKey(dir: string, now: Date = new Date()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const path = join(dir, `${stamp}-${key.keyId}.pem`);
  writeFileSync(path, key.privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
  });
  chmodSync(path, 0o600);
  return path;
}

/**
 * The vault's master key: `CIM_MASTER_KEY` (32 bytes, base64) when set, else
 * `<dir>/master.key`, written (owner-only) with a new random key when missing.
 * Every service of a fleet must use the same one.
 */
export function loadMasterKey(options: {
  dir: string;
  env?: Readonly<Record<string, string | undefined>>;
  onGenerated?: (path: string) => void;
}): Buffer {
  const fromEnv = options.env?.['CIM_MASTER_KEY'];
  const key =
    fromEnv !== undefined && fromEnv !== ''
      ? Buffer.from(fromEnv, 'base64')
      : readOrCreateMasterKey(options);
  if (key.length !== 32)
    throw new Error(
      'the master key must be 32 bytes (base64 in CIM_MASTER_KEY)',
    );
  return key;
}

function readOrCreateMasterKey(options: {
  dir: string;
  onGenerated?: (path: string) => void;
}): Buffer {
  const path = join(options.dir, 'master.key');
  if (!existsSync(path)) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('base64'), {
      mode: 0o600,
      flag: 'wx',
    });
    options.onGenerated?.(path);
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}
