import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** One Ed25519 signing key of a service. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Secret for commit macs, derived from the private key. */
  readonly macKey: KeyObject;
}

/** A new Ed25519 key. */
export function generateSigningKey(): SigningKey {
  return signingKeyFrom(generateKeyPairSync('ed25519').privateKey);
}

/** The signing key of a PEM (PKCS#8) private key. */
export function signingKeyFromPem(pem: string): SigningKey {
  return signingKeyFrom(createPrivateKey(pem));
}

/** Completes a private key with its public key, key id and mac key. */
export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error('signing keys are Ed25519');
  const publicKey = createPublicKey(privateKey);
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    keyId: keyIdOf(publicKey),
    privateKey,
    publicKey,
    macKey: createSecretKey(
      createHmac('sha256', der).update('cim commit mac v1').digest(),
    ),
  };
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(
    publicKey
      .export({ format: 'der', type: 'spki' })
      .subarray(ED25519_SPKI_PREFIX.length),
  );
}

/** An Ed25519 public key from its raw 32 bytes. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key has 32 bytes');
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
}

/** A key's id: the first 8 bytes of SHA-256 of its raw public key, in hex. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(rawPublicKey(publicKey))
    .digest('hex')
    .slice(0, 16);
}

/** Ed25519 signature of `data`. */
export function signBytes(key: SigningKey, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, data, key.privateKey));
}

/** True when `signature` is a valid Ed25519 signature of `data` under `publicKey`. */
export function verifyBytes(
  publicKey: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    // A malformed signature is simply not valid.
    return false;
  }
}
