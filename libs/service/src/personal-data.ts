import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  clone,
  hasOption,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import { personal } from '@cim/proto/cim/common/v1/options_pb';
import type { Vault } from './vault.js';

/** What a forgotten personal field reads as. */
export const ERASED = '[erased]';
const PREFIX = 'cim:enc:v1:';

type Visit = (value: string) => string;

const personalCache = new WeakMap<DescMessage, boolean>();

/** True when the message type (or one nested in it) has a field marked `(cim.common.v1.personal)`. */
export function hasPersonalFields(
  desc: DescMessage,
  seen = new Set<DescMessage>(),
): boolean {
  const known = personalCache.get(desc);
  if (known !== undefined) return known;
  if (seen.has(desc)) return false;
  seen.add(desc);
  const found = desc.fields.some(
    (f) =>
      (f.fieldKind === 'scalar' && hasOption(f, personal)) ||
      (f.fieldKind === 'message' && hasPersonalFields(f.message, seen)) ||
      (f.fieldKind === 'list' &&
        f.listKind === 'message' &&
        hasPersonalFields(f.message, seen)),
  );
  personalCache.set(desc, found);
  return found;
}

/** Applies `visit` to every non-empty personal string in `message`, in place. */
function walk(
  message: Record<string, unknown>,
  desc: DescMessage,
  visit: Visit,
): void {
  for (const field of desc.fields) {
    const holder: Record<string, unknown> | undefined =
      field.oneof === undefined
        ? message
        : (message[field.oneof.localName] as { case?: string } | undefined)
              ?.case === field.localName
          ? (message[field.oneof.localName] as Record<string, unknown>)
          : undefined;
    if (holder === undefined) continue;
    const key = field.oneof === undefined ? field.localName : 'value';
    const value = holder[key];
    if (field.fieldKind === 'scalar') {
      if (
        typeof value === 'string' &&
        value !== '' &&
        hasOption(field, personal)
      )
        holder[key] = visit(value);
    } else if (
      field.fieldKind === 'message' &&
      value !== undefined &&
      hasPersonalFields(field.message)
    ) {
      walk(value as Record<string, unknown>, field.message, visit);
    } else if (
      field.fieldKind === 'list' &&
      field.listKind === 'message' &&
      hasPersonalFields(field.message)
    ) {
      for (const item of value as Record<string, unknown>[])
        walk(item, field.message, visit);
    }
  }
}

/** True when `message` holds a non-empty personal string (checked without copying or awaiting anything). */
export function holdsPersonalData(
  message: Message,
  desc: DescMessage,
): boolean {
  if (!hasPersonalFields(desc)) return false;
  let any = false;
  walk(message, desc, (v) => {
    any = true;
    return v;
  });
  return any;
}

/**
 * A copy of `message` whose personal fields are encrypted (AES-256-GCM) under
 * the subject's key, or erased when the subject is already forgotten. The
 * message itself is returned when it holds no personal data.
 */
export async function protect<M extends Message>(
  message: M,
  desc: DescMessage,
  subject: string,
  vault: Vault,
): Promise<M> {
  if (!holdsPersonalData(message, desc)) return message;
  return protectWith(
    message,
    desc,
    subject,
    (await vault.keyFor(subject, true)) ?? null,
  );
}

/** `protect` with the subject's key already at hand (null: forgotten, so erased). */
export function protectWith<M extends Message>(
  message: M,
  desc: DescMessage,
  subject: string,
  key: Buffer | null,
): M {
  if (!holdsPersonalData(message, desc)) return message;
  const copy = clone(desc, message) as M;
  walk(copy, desc, (plain) => (key ? seal(plain, subject, key) : ERASED));
  return copy;
}

/** A copy of `message` with its encrypted personal fields decrypted, or erased where the subject is forgotten. */
export async function reveal<M extends Message>(
  message: M,
  desc: DescMessage,
  vault: Vault,
): Promise<M> {
  if (!hasPersonalFields(desc)) return message;
  const subjects = new Set<string>();
  walk(message, desc, (v) => {
    const subject = subjectOf(v);
    if (subject !== undefined) subjects.add(subject);
    return v;
  });
  if (subjects.size === 0) return message;
  const keys = new Map<string, Buffer | null | undefined>();
  for (const subject of subjects)
    keys.set(subject, await vault.keyFor(subject, false));
  const copy = clone(desc, message) as M;
  walk(copy, desc, (v) => {
    const subject = subjectOf(v);
    if (subject === undefined) return v;
    const key = keys.get(subject);
    return key ? open(v, key) : ERASED;
  });
  return copy;
}

function seal(plain: string, subject: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${PREFIX}${subject}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

function subjectOf(token: string): string | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const end = token.indexOf(':', PREFIX.length);
  return end < 0 ? undefined : token.slice(PREFIX.length, end);
}

function open(token: string, key: Buffer): string {
  const data = Buffer.from(
    token.slice(token.indexOf(':', PREFIX.length) + 1),
    'base64url',
  );
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(12, 28));
    return Buffer.concat([
      decipher.update(data.subarray(28)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    // A token that does not open under the subject's key was not written by the service.
    return ERASED;
  }
}
