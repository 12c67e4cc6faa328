import { createCipheriv, createDecipheriv } from 'node:crypto';
import {
  ScalarType,
  hasOption,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import { derivedUuid, isSubjectToken } from '@cim/kernel';
import {
  data_subject as dataSubject,
  personal,
} from '@cim/proto/cim/common/v1/options_pb';
import { RandomPool } from './random-pool.js';
import type { Vault } from './vault.js';

/** What a forgotten personal field reads as. */
export const ERASED = '[erased]';
const PREFIX = 'cim:enc:v1:';

/** Rewrites one personal string of the data subject `subject` (its vault key form). */
type Visit = (value: string, subject: string) => string;

/**
 * The form a data subject takes in the vault and in ciphertexts: the id
 * itself when it is a subject token (letters, digits, - and _), else a
 * UUID derived from it, so that any id (`user:alice`) can be a subject.
 * Applying it twice changes nothing.
 */
export function subjectKey(subject: string): string {
  return isSubjectToken(subject)
    ? subject
    : derivedUuid('data-subject', subject);
}

const personalCache = new WeakMap<DescMessage, boolean>();

/** True when the message type (or one nested in it) has a field marked `(cim.common.v1.personal)`. */
export function hasPersonalFields(
  desc: DescMessage,
  seen?: Set<DescMessage>,
): boolean {
  // Asked per command and per event: the answer is cached, and the set for
  // the walk is made only on the first question about a message.
  const known = personalCache.get(desc);
  if (known !== undefined) return known;
  seen ??= new Set<DescMessage>();
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

/** One field on the way to personal strings: a personal string itself, or a message (or list of them) holding some. */
interface Step {
  readonly name: string;
  /** The oneof's local name when the field is one of its cases. */
  readonly oneof: string | undefined;
  readonly kind: 'string' | 'message' | 'list';
  readonly message: DescMessage | undefined;
}

/** A message type's steps, with its oneof cases indexed by case name. */
interface Plan {
  readonly plain: readonly Step[];
  readonly oneofs: ReadonlyMap<string, ReadonlyMap<string, Step>>;
  /** The field marked `(cim.common.v1.data_subject)`: whose data the personal fields below are. */
  readonly subject: string | undefined;
}

const plans = new WeakMap<DescMessage, Plan>();

/** Which fields of `desc` lead to personal strings, worked out once per type. */
function planOf(desc: DescMessage): Plan {
  let plan = plans.get(desc);
  if (plan !== undefined) return plan;
  const plain: Step[] = [];
  const oneofs = new Map<string, Map<string, Step>>();
  let subject: string | undefined;
  for (const field of desc.fields) {
    if (
      field.fieldKind === 'scalar' &&
      field.scalar === ScalarType.STRING &&
      field.oneof === undefined &&
      hasOption(field, dataSubject)
    )
      subject = field.localName;
    let kind: Step['kind'] | undefined;
    if (field.fieldKind === 'scalar') {
      if (field.scalar === ScalarType.STRING && hasOption(field, personal))
        kind = 'string';
    } else if (field.fieldKind === 'message') {
      if (hasPersonalFields(field.message)) kind = 'message';
    } else if (field.fieldKind === 'list' && field.listKind === 'message') {
      if (hasPersonalFields(field.message)) kind = 'list';
    }
    if (kind === undefined) continue;
    const step: Step = {
      name: field.localName,
      oneof: field.oneof?.localName,
      kind,
      message:
        field.fieldKind === 'message' || field.fieldKind === 'list'
          ? field.message
          : undefined,
    };
    if (step.oneof === undefined) {
      plain.push(step);
    } else {
      let cases = oneofs.get(step.oneof);
      if (cases === undefined)
        oneofs.set(step.oneof, (cases = new Map<string, Step>()));
      cases.set(step.name, step);
    }
  }
  plan = { plain, oneofs, subject };
  plans.set(desc, plan);
  return plan;
}

const namingCache = new WeakMap<DescMessage, boolean>();

/** True when the message type (or one nested in it) has a field marked `(cim.common.v1.data_subject)` above personal fields. */
export function namesDataSubjects(
  desc: DescMessage,
  seen?: Set<DescMessage>,
): boolean {
  const known = namingCache.get(desc);
  if (known !== undefined) return known;
  seen ??= new Set<DescMessage>();
  if (seen.has(desc) || !hasPersonalFields(desc)) return false;
  seen.add(desc);
  const plan = planOf(desc);
  const found =
    plan.subject !== undefined ||
    [
      ...plan.plain,
      ...[...plan.oneofs.values()].flatMap((c) => [...c.values()]),
    ].some(
      (step) =>
        step.message !== undefined && namesDataSubjects(step.message, seen),
    );
  namingCache.set(desc, found);
  return found;
}

/** The subject of a message's personal fields: its data subject field when set, else the enclosing one. */
function subjectIn(message: Fields, plan: Plan, enclosing: string): string {
  if (plan.subject === undefined) return enclosing;
  const named = message[plan.subject];
  return typeof named === 'string' && named !== ''
    ? subjectKey(named)
    : enclosing;
}

type Fields = Record<string, unknown>;

/** A copy of one message object that keeps its prototype (protobuf-es keeps proto2 defaults there). */
function shallowCopy<T extends object>(value: T): T {
  return Object.assign(
    Object.create(Object.getPrototypeOf(value) as object | null) as T,
    value,
  );
}

/**
 * `message` with `visit` applied to every non-empty personal string: the
 * message itself when it holds none, otherwise a copy in which only the
 * objects on the way to a personal string are new. One walk; the input is
 * never changed.
 */
function rewrite(
  message: Fields,
  desc: DescMessage,
  visit: Visit,
  enclosing: string,
): Fields {
  const plan = planOf(desc);
  const { plain, oneofs } = plan;
  const subject = subjectIn(message, plan, enclosing);
  let copy: Fields | undefined;
  for (const step of plain) {
    const value = message[step.name];
    const next = rewriteValue(step, value, visit, subject);
    if (next !== value) (copy ??= shallowCopy(message))[step.name] = next;
  }
  for (const [oneof, cases] of oneofs) {
    const held = message[oneof] as
      { case?: string; value?: unknown } | undefined;
    const step = held?.case === undefined ? undefined : cases.get(held.case);
    if (step === undefined) continue;
    const next = rewriteValue(step, held!.value, visit, subject);
    if (next !== held!.value)
      (copy ??= shallowCopy(message))[oneof] = { case: step.name, value: next };
  }
  return copy ?? message;
}

function rewriteValue(
  step: Step,
  value: unknown,
  visit: Visit,
  subject: string,
): unknown {
  switch (step.kind) {
    case 'string':
      return typeof value === 'string' && value !== ''
        ? visit(value, subject)
        : value;
    case 'message':
      return value === undefined
        ? value
        : rewrite(value as Fields, step.message!, visit, subject);
    case 'list': {
      const items = value as Fields[];
      let copy: Fields[] | undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const next = rewrite(item, step.message!, visit, subject);
        if (next !== item) (copy ??= items.slice())[i] = next;
      }
      return copy ?? value;
    }
  }
}

/** Calls `visit` on every non-empty personal string in `message`; stops when it answers true. */
function visitAll(
  message: Fields,
  desc: DescMessage,
  visit: (value: string, subject: string) => boolean,
  enclosing = '',
): boolean {
  const plan = planOf(desc);
  const { plain, oneofs } = plan;
  const subject = subjectIn(message, plan, enclosing);
  for (const step of plain) {
    if (visitValue(step, message[step.name], visit, subject)) return true;
  }
  for (const [oneof, cases] of oneofs) {
    const held = message[oneof] as
      { case?: string; value?: unknown } | undefined;
    const step = held?.case === undefined ? undefined : cases.get(held.case);
    if (step !== undefined && visitValue(step, held!.value, visit, subject))
      return true;
  }
  return false;
}

function visitValue(
  step: Step,
  value: unknown,
  visit: (value: string, subject: string) => boolean,
  subject: string,
): boolean {
  switch (step.kind) {
    case 'string':
      return typeof value === 'string' && value !== '' && visit(value, subject);
    case 'message':
      return (
        value !== undefined &&
        visitAll(value as Fields, step.message!, visit, subject)
      );
    case 'list':
      return (value as Fields[]).some((item) =>
        visitAll(item, step.message!, visit, subject),
      );
  }
}

/**
 * The data subjects (vault key form) whose personal data `message` holds:
 * those its data subject fields name, and `fallback` (the aggregate) for
 * personal fields outside any.
 */
export function subjectsOf(
  message: Message,
  desc: DescMessage,
  fallback: string,
): Set<string> {
  const subjects = new Set<string>();
  if (hasPersonalFields(desc))
    visitAll(
      message,
      desc,
      (_, subject) => {
        subjects.add(subject);
        return false;
      },
      subjectKey(fallback),
    );
  return subjects;
}

/** True when `message` holds a non-empty personal string (checked without copying or awaiting anything). */
export function holdsPersonalData(
  message: Message,
  desc: DescMessage,
): boolean {
  return hasPersonalFields(desc) && visitAll(message, desc, () => true);
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
  const keys = new Map<string, Buffer | null>();
  for (const named of subjectsOf(message, desc, subject))
    keys.set(named, (await vault.keyFor(named, true)) ?? null);
  if (keys.size === 0) return message;
  return protectWith(message, desc, subject, (named) => keys.get(named)!);
}

/**
 * `protect` with the keys already at hand, in one walk: `message` itself
 * when it holds no personal data, otherwise a copy that shares every part
 * without any. `keys` is the key of `subject` (the aggregate), or a lookup
 * by subject (vault key form) for messages that name their data subjects;
 * null means forgotten, so erased.
 */
export function protectWith<M extends Message>(
  message: M,
  desc: DescMessage,
  subject: string,
  keys: Buffer | null | ((subject: string) => Buffer | null),
): M {
  if (!hasPersonalFields(desc)) return message;
  const fallback = subjectKey(subject);
  const keyOf =
    typeof keys === 'function'
      ? keys
      : (named: string) => {
          if (named !== fallback)
            throw new Error(`no key at hand for data subject ${named}`);
          return keys;
        };
  return rewrite(
    message,
    desc,
    (plain, named) => {
      const key = keyOf(named);
      return key === null ? ERASED : seal(plain, named, key);
    },
    fallback,
  ) as unknown as M;
}

/** A copy of `message` with its encrypted personal fields decrypted, or erased where the subject is forgotten. */
export async function reveal<M extends Message>(
  message: M,
  desc: DescMessage,
  vault: Vault,
): Promise<M> {
  if (!hasPersonalFields(desc)) return message;
  const subjects = new Set<string>();
  visitAll(message, desc, (v) => {
    const subject = subjectOf(v);
    if (subject !== undefined) subjects.add(subject);
    return false;
  });
  // The subject a ciphertext names is the one it was sealed for, whatever the message says now.
  if (subjects.size === 0) return message;
  const keys = new Map<string, Buffer | null | undefined>();
  for (const subject of subjects)
    keys.set(subject, await vault.keyFor(subject, false));
  return rewrite(
    message,
    desc,
    (v) => {
      const subject = subjectOf(v);
      if (subject === undefined) return v;
      const key = keys.get(subject);
      return key ? open(v, key) : ERASED;
    },
    '',
  ) as unknown as M;
}

// Random IVs drawn in blocks: one call into the CSPRNG per 341 fields, not one per field.
const IV_BYTES = 12;
const ivs = new RandomPool(IV_BYTES * 341);

function seal(plain: string, subject: string, key: Buffer): string {
  const iv = ivs.view(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = cipher.update(plain, 'utf8');
  cipher.final(); // GCM has no trailing block: final() only computes the tag
  const sealed = Buffer.allocUnsafe(IV_BYTES + 16 + body.length);
  sealed.set(iv, 0);
  sealed.set(cipher.getAuthTag(), IV_BYTES);
  sealed.set(body, IV_BYTES + 16);
  return `${PREFIX}${subject}:${sealed.toString('base64url')}`;
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
