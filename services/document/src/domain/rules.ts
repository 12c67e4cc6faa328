import {
  invalid,
  isSubjectToken,
  limitText,
  requireText,
  show,
} from '@cim/kernel';
import {
  Confidentiality,
  DocumentStatus,
  DocumentType,
  ProcessingStage,
  VersionBump,
  type Permission,
  type ProcessingOptions,
  type StoredContent,
} from '@cim/proto/cim/document/v1/document_pb';
import { isContentCid } from './cid.js';

/** Size limits on what a command may carry; the message size limit bounds the rest (custom metadata, structured changes). */
export const LIMITS = {
  title: 300,
  description: 4000,
  filename: 255,
  mimeType: 255,
  language: 35,
  tag: 64,
  tags: 50,
  details: 2000,
  threat: 200,
  threats: 50,
  reason: 1000,
  principal: 200,
  principalsPerShare: 50,
  grants: 500,
  links: 500,
  versionTags: 500,
  comment: 10_000,
  blockId: 128,
  format: 64,
  conflict: 500,
  conflicts: 100,
} as const;

/**
 * Bounds of full-text indexing: content bytes read per content, distinct
 * terms kept per content, characters per term.
 */
export const TERM_LIMITS = {
  bytes: 1024 * 1024,
  terms: 2000,
  termLength: 64,
} as const;

/** `application/*` subtypes whose content is data or code rather than prose (beyond any `+json` or `+xml` type). */
export const DATA_APPLICATION_TYPES: ReadonlySet<string> = new Set([
  'json',
  'xml',
  'yaml',
  'x-yaml',
  'toml',
  'javascript',
  'ecmascript',
  'x-sh',
  'x-python',
  'sql',
  'ld+json',
]);

const TEXTUAL_APPLICATION_TYPES = new Set([
  ...DATA_APPLICATION_TYPES,
  'csv',
  'markdown',
  'x-tex',
  'rtf',
]);

/**
 * Whether content of this MIME type is indexed for search: text/*, and the
 * application types that are text (JSON, XML, YAML, TOML, scripts, SQL, CSV,
 * and any `+json` or `+xml` suffix). Parameters (`; charset=…`) are ignored.
 */
export function isTextualMimeType(mimeType: string): boolean {
  const [type = '', subtype = ''] = (mimeType.split(';')[0] ?? '')
    .trim()
    .toLowerCase()
    .split('/');
  if (type === 'text') return true;
  if (type !== 'application') return false;
  return (
    TEXTUAL_APPLICATION_TYPES.has(subtype) ||
    subtype.endsWith('+json') ||
    subtype.endsWith('+xml')
  );
}

/** The searchable terms of content (TextTerms) as plain data. */
export interface TermsLike {
  readonly terms: string[];
  readonly counts: number[];
  readonly length: number;
  readonly truncated: boolean;
}

/**
 * The terms an event records for new head content: the service's findings
 * for `cid` when the document's MIME type is textual, else undefined.
 * VALIDATION_FAILED when they break TextTerms' bounds (prepare never makes
 * such terms; this keeps a malformed command out of the stream).
 */
export function termsFor(
  stored: readonly StoredContent[],
  cid: string,
  mimeType: string,
): TermsLike | undefined {
  const text = stored.find((entry) => entry.contentCid === cid)?.text;
  if (text === undefined || !isTextualMimeType(mimeType)) return undefined;
  const { terms, counts, length, truncated } = text;
  if (
    terms.length > TERM_LIMITS.terms ||
    counts.length !== terms.length ||
    terms.some((t) => t === '' || t.length > TERM_LIMITS.termLength) ||
    counts.some((c) => c === 0) ||
    new Set(terms).size !== terms.length
  ) {
    invalid(
      `the text terms of ${show(cid)} break the TextTerms bounds: at most ${TERM_LIMITS.terms} distinct terms of 1 to ${TERM_LIMITS.termLength} characters, each counted at least once`,
    );
  }
  return { terms: [...terms], counts: [...counts], length, truncated };
}

/** The actor the runtime gives commands that reactions of this service send. */
export const SERVICE_ACTOR = 'service:document';

/** The principal that stands for everyone in a grant. */
export const EVERYONE = '*';

/** MIME type used when a command names none. */
export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/** A content CID: CIDv1, raw codec, SHA-256, base32 lower with the `b` prefix. */
export function requireContentCid(value: string, field: string): void {
  if (!isContentCid(value)) {
    invalid(
      `${field} must be a CIDv1 (raw, sha2-256, base32 "b…"), got ${show(value)}`,
    );
  }
}

/** Distinct non-blank texts, each at most `max` characters, at most `count` of them. */
export function validateTexts(
  values: readonly string[],
  field: string,
  max: number,
  count: number,
): void {
  if (values.length > count) {
    invalid(
      `${field} must hold at most ${count} entries, got ${values.length}`,
    );
  }
  values.forEach((value, i) => requireText(value, `${field}[${i}]`, max));
}

const MIME = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*(\s*;.*)?$/;

/** `type/subtype`, optionally with parameters; empty means DEFAULT_MIME_TYPE. */
export function mimeTypeOf(value: string, field = 'mime_type'): string {
  if (value === '') return DEFAULT_MIME_TYPE;
  limitText(value, field, LIMITS.mimeType);
  if (!MIME.test(value)) {
    invalid(`${field} must look like type/subtype, got ${show(value)}`);
  }
  return value;
}

const LANGUAGE = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;

/** A BCP 47 language tag such as `en` or `pt-BR`, or empty. */
export function validateLanguage(value: string, field = 'language'): void {
  if (value === '') return;
  limitText(value, field, LIMITS.language);
  if (!LANGUAGE.test(value)) {
    invalid(`${field} must be a language tag such as en or pt-BR`);
  }
}

/** A known document type; unspecified becomes OTHER. */
export function documentTypeOf(value: DocumentType): DocumentType {
  const type = value === DocumentType.UNSPECIFIED ? DocumentType.OTHER : value;
  if (DocumentType[type] === undefined) {
    invalid(`document_type ${value} is not a known document type`);
  }
  return type;
}

/** A known confidentiality; unspecified becomes INTERNAL. */
export function confidentialityOf(value: Confidentiality): Confidentiality {
  const level =
    value === Confidentiality.UNSPECIFIED ? Confidentiality.INTERNAL : value;
  if (Confidentiality[level] === undefined) {
    invalid(`confidentiality ${value} is not a known level`);
  }
  return level;
}

/** A known, specified value of a proto enum. */
export function requireEnum<E extends number>(
  value: E,
  names: Readonly<Record<number, string>>,
  field: string,
): E {
  if (value === 0 || names[value] === undefined) {
    invalid(`${field} must be set to a known value, got ${value}`);
  }
  return value;
}

/** A known version bump; unspecified becomes PATCH. */
export function bumpOf(value: VersionBump): VersionBump {
  const bump = value === VersionBump.UNSPECIFIED ? VersionBump.PATCH : value;
  if (VersionBump[bump] === undefined) {
    invalid(`bump ${value} is not a known version bump`);
  }
  return bump;
}

/** A semantic version as the state keeps it. */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** The version every document starts at. */
export const FIRST_VERSION: SemVer = { major: 1, minor: 0, patch: 0 };

/** The version after `bump`: the bumped part plus one, the parts below it reset. */
export function bumped(version: SemVer, bump: VersionBump): SemVer {
  switch (bump) {
    case VersionBump.MAJOR:
      return { major: version.major + 1, minor: 0, patch: 0 };
    case VersionBump.MINOR:
      return { major: version.major, minor: version.minor + 1, patch: 0 };
    default:
      return { ...version, patch: version.patch + 1 };
  }
}

/** The stages ProcessingOptions require, in a fixed order. */
export function requiredStages(
  options: ProcessingOptionsLike,
): ProcessingStage[] {
  return [
    ...(options.scan ? [ProcessingStage.VIRUS_SCAN] : []),
    ...(options.validate ? [ProcessingStage.FORMAT_VALIDATION] : []),
  ];
}

/** ProcessingOptions as plain data. */
export type ProcessingOptionsLike = Pick<
  ProcessingOptions,
  'scan' | 'validate' | 'autoPromote'
>;

/**
 * Lifecycle moves ChangeDocumentState allows (domains.md §2.3): draft →
 * under_review → published | rejected, rejected → draft, published →
 * archived | superseded.
 */
export const TRANSITIONS: Readonly<
  Partial<Record<DocumentStatus, readonly DocumentStatus[]>>
> = {
  [DocumentStatus.DRAFT]: [DocumentStatus.UNDER_REVIEW],
  [DocumentStatus.UNDER_REVIEW]: [
    DocumentStatus.PUBLISHED,
    DocumentStatus.REJECTED,
  ],
  [DocumentStatus.REJECTED]: [DocumentStatus.DRAFT],
  [DocumentStatus.PUBLISHED]: [
    DocumentStatus.ARCHIVED,
    DocumentStatus.SUPERSEDED,
  ],
};

/** Whether `held` includes `needed` (admin ⊇ write ⊇ comment ⊇ read). */
export function includes(held: Permission | undefined, needed: Permission) {
  return held !== undefined && held >= needed;
}

/** Confidentiality levels on which everyone (`*`) may be granted something. */
export function everyoneMayBeGranted(level: Confidentiality): boolean {
  return level === Confidentiality.PUBLIC || level === Confidentiality.INTERNAL;
}

/** The service's finding for `cid` among a command's stored entries. */
export function storedEntry(
  stored: readonly StoredContent[],
  cid: string,
): StoredContent | undefined {
  return stored.find((entry) => entry.contentCid === cid && entry.present);
}

/**
 * The id of the workflow that reviews round `round` of a document:
 * `review-<round>-<document id>`. Workflow events carry only the workflow's
 * id, so the id itself must name the document for the review reaction to
 * find it.
 */
export function reviewWorkflowId(round: number, documentId: string): string {
  return `review-${round}-${documentId}`;
}

const REVIEW_WORKFLOW = /^review-([1-9]\d{0,8})-(.+)$/;

/** The round and document a review workflow id names; undefined for any other workflow id. */
export function parseReviewWorkflowId(
  workflowId: string,
): { readonly round: number; readonly documentId: string } | undefined {
  const match = REVIEW_WORKFLOW.exec(workflowId);
  if (match === null || !isSubjectToken(match[2]!)) return undefined;
  return { round: Number(match[1]), documentId: match[2]! };
}
