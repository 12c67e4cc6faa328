import type { JsonObject } from '@bufbuild/protobuf';
import {
  ChangeKind,
  ContentState,
  DocumentStatus,
  LinkType,
  Partition,
  Permission,
  type Confidentiality,
  type DocumentClassification,
  type DocumentContentIngested,
  type DocumentCreatedFromCid,
  type DocumentEvent,
  type DocumentMetadataUpdated,
  type DocumentType,
  type Entity,
  type ProcessingStage,
  type SemanticVersion,
  type TextSummary,
  type TextTerms,
} from '@cim/proto/cim/document/v1/document_pb';
import type { CommitMeta } from '@cim/service';
import { metadataChanges } from './domain/evolve.js';
import type { ProcessingOptionsLike, SemVer } from './domain/rules.js';
import { SortedMap } from '@cim/kernel';

/** One entry of a document's CID chain. */
export interface HistoryRecord {
  readonly position: number;
  readonly contentCid: string;
  readonly predecessorCid: string;
  readonly kind: ChangeKind;
  readonly sizeBytes: bigint;
  readonly semver: SemVer;
  readonly actor: string;
  readonly atMs: number;
}

/** A CID of the history: its size, the last position it became head at, and the tags naming it. */
export interface CidRecord {
  readonly sizeBytes: bigint;
  readonly lastPosition: number;
  readonly tags: readonly string[];
}

/** A stage result of the head content. */
export interface StageRecord {
  readonly stage: ProcessingStage;
  readonly passed: boolean;
  readonly details: string;
  readonly threats: readonly string[];
}

/** A comment in the read model. */
export interface CommentRecord {
  readonly commentId: string;
  readonly author: string;
  readonly content: string;
  readonly blockId: string;
  readonly parentId: string;
  readonly atMs: number;
}

/**
 * The searchable terms of the head content, as its event recorded them:
 * distinct terms with their counts, and the number of words read.
 */
export interface TextRecord {
  readonly terms: readonly string[];
  readonly counts: readonly number[];
  readonly length: number;
}

/**
 * The latest analyses of the head content, as their events recorded them;
 * each part undefined until its command ran.
 */
export interface AnalysisRecord {
  readonly contentCid: string;
  readonly entities: EntitiesRecord | undefined;
  readonly summary: TextSummary | undefined;
  readonly classification: DocumentClassification | undefined;
  /** Some analysis read only the first part of the content. */
  readonly contentTruncated: boolean;
}

/** What ExtractEntities recorded. */
export interface EntitiesRecord {
  readonly entities: readonly Entity[];
  readonly truncated: boolean;
}

/** A link in the read model. */
export interface LinkRecord {
  readonly targetId: string;
  readonly linkType: LinkType;
}

/** Where a fork came from. */
export interface ForkRecord {
  readonly documentId: string;
  readonly contentCid: string;
  readonly forkedBy: string;
}

/**
 * The read model of one document, shaped for the queries. History, CIDs,
 * tags, comments, grants and links are persistent sorted maps, so each event
 * builds a new row in O(log n) and earlier rows stay valid for queries still
 * reading them. History entries are keyed by zero-padded position and
 * comments by zero-padded arrival, so key order is chain and arrival order.
 */
export interface DocumentRow {
  readonly documentId: string;
  readonly title: string;
  readonly description: string;
  readonly documentType: DocumentType;
  readonly mimeType: string;
  readonly filename: string;
  readonly language: string;
  readonly tags: readonly string[];
  readonly custom: JsonObject | undefined;
  readonly headCid: string;
  readonly sizeBytes: bigint;
  /** Searchable terms of the head content; undefined when it is not text. */
  readonly text: TextRecord | undefined;
  readonly partition: Partition;
  readonly contentState: ContentState;
  readonly status: DocumentStatus;
  readonly confidentiality: Confidentiality;
  readonly owner: string;
  readonly semver: SemVer;
  readonly processing: ProcessingOptionsLike;
  readonly stageResults: readonly StageRecord[];
  readonly access: SortedMap<Permission>;
  readonly links: SortedMap<LinkRecord>;
  readonly history: SortedMap<HistoryRecord>;
  readonly cids: SortedMap<CidRecord>;
  readonly versionTags: SortedMap<string>;
  readonly comments: SortedMap<CommentRecord>;
  readonly forkedFrom: ForkRecord | undefined;
  /** Analyses of the head content; undefined until one is recorded, and after a new head. */
  readonly analysis: AnalysisRecord | undefined;
  /** Times the document went under review. */
  readonly reviewRound: number;
  /** Aggregate version after the last event folded in. */
  readonly version: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

const POSITION_DIGITS = 12;

/** The SortedMap key of a history position or comment number: zero-padded so key order is numeric order. */
export const positionKey = (position: number): string =>
  String(position).padStart(POSITION_DIGITS, '0');

/**
 * Folds one event into the document's row: undefined until the document is
 * created, never dropped afterwards (archived documents stay listed). Events
 * that do not fit the row, or come from a newer schema, change only its
 * version and time.
 */
export function project(
  row: DocumentRow | undefined,
  { body }: DocumentEvent,
  meta: CommitMeta,
): DocumentRow | undefined {
  if (body.case === 'contentIngested' || body.case === 'createdFromCid') {
    return row === undefined ? created(body.value, meta) : stamp(row, meta);
  }
  if (row === undefined) return undefined;
  return stamp(changed(row, body, meta), meta);
}

function changed(
  row: DocumentRow,
  body: DocumentEvent['body'],
  meta: CommitMeta,
): DocumentRow {
  switch (body.case) {
    case 'processingStarted':
      return row.contentState === ContentState.STAGED
        ? { ...row, contentState: ContentState.PROCESSING }
        : row;
    case 'processingStageCompleted': {
      const { stage, passed, details, threats } = body.value;
      return {
        ...row,
        contentState:
          row.contentState === ContentState.STAGED
            ? ContentState.PROCESSING
            : row.contentState,
        stageResults: [
          ...row.stageResults.filter((s) => s.stage !== stage),
          { stage, passed, details, threats },
        ],
      };
    }
    case 'contentPromoted':
      return {
        ...row,
        contentState: ContentState.PROMOTED,
        partition: body.value.to,
      };
    case 'contentQuarantined':
      return { ...row, contentState: ContentState.QUARANTINED };
    case 'contentReleased':
      return { ...row, ...freshContent() };
    case 'metadataUpdated':
      return metadataUpdated(row, body.value);
    case 'successorCreated': {
      const {
        predecessorCid,
        successorCid,
        sizeBytes,
        editedBy,
        version,
        text,
      } = body.value;
      return newHead(row, meta, text, {
        contentCid: successorCid,
        predecessorCid,
        // DocumentEdited follows in the same commit and names the kind.
        kind: ChangeKind.DIRECT_EDIT,
        sizeBytes,
        version,
        actor: editedBy,
      });
    }
    case 'edited':
      return edited(row, body.value.successorCid, body.value.edit.case);
    case 'editsMerged': {
      const { oursCid, resultCid, sizeBytes, mergedBy, version, text } =
        body.value;
      if (resultCid === row.headCid) return row;
      return newHead(row, meta, text, {
        contentCid: resultCid,
        predecessorCid: oursCid,
        kind: ChangeKind.MERGE,
        sizeBytes,
        version,
        actor: mergedBy,
      });
    }
    case 'rolledBack': {
      const { fromCid, toCid, sizeBytes, rolledBackBy, version, text } =
        body.value;
      return newHead(row, meta, text, {
        contentCid: toCid,
        predecessorCid: fromCid,
        kind: ChangeKind.ROLLBACK,
        sizeBytes,
        version,
        actor: rolledBackBy,
      });
    }
    case 'stateChanged':
      return lifecycle(row, body.value.to);
    case 'shared': {
      let access = row.access;
      for (const principal of body.value.principals) {
        const held = access.get(principal);
        if (held === undefined || held < body.value.permission)
          access = access.set(principal, body.value.permission);
      }
      return { ...row, access };
    }
    case 'commentAdded': {
      const { commentId, author, content, blockId, parentId } = body.value;
      return {
        ...row,
        comments: row.comments.set(positionKey(row.comments.size), {
          commentId,
          author,
          content,
          blockId,
          parentId,
          atMs: meta.occurredAtMs,
        }),
      };
    }
    case 'versionTagged':
      return versionTagged(row, body.value.tag, body.value.contentCid);
    case 'linked': {
      const { targetId, linkType } = body.value;
      return {
        ...row,
        links: row.links.set(`${targetId}/${linkType}`, {
          targetId,
          linkType,
        }),
      };
    }
    case 'archived':
      return lifecycle(row, DocumentStatus.ARCHIVED);
    case 'entitiesExtracted': {
      const { contentCid, entities, entitiesTruncated } = body.value;
      return analysed(row, contentCid, body.value.contentTruncated, {
        entities: { entities, truncated: entitiesTruncated },
      });
    }
    case 'summaryGenerated':
      return analysed(row, body.value.contentCid, body.value.contentTruncated, {
        summary: body.value.summary,
      });
    case 'classified':
      return analysed(row, body.value.contentCid, body.value.contentTruncated, {
        classification: body.value.classification,
      });
    case 'contentIngested':
    case 'createdFromCid':
    case 'processingCompleted':
    case 'forked':
    case undefined:
      return row;
  }
}

function stamp(row: DocumentRow, meta: CommitMeta): DocumentRow {
  return { ...row, version: meta.version, updatedAtMs: meta.occurredAtMs };
}

function freshContent() {
  return {
    contentState: ContentState.STAGED,
    partition: Partition.STAGING,
    stageResults: [],
  } as const;
}

function created(
  value: DocumentContentIngested | DocumentCreatedFromCid,
  meta: CommitMeta,
): DocumentRow {
  const forkedFrom =
    value.$typeName === 'cim.document.v1.DocumentCreatedFromCid'
      ? value.forkedFrom
      : undefined;
  const first: HistoryRecord = {
    position: 0,
    contentCid: value.contentCid,
    predecessorCid: '',
    kind: ChangeKind.INITIAL,
    sizeBytes: value.sizeBytes,
    semver: { major: 1, minor: 0, patch: 0 },
    actor: value.owner,
    atMs: meta.occurredAtMs,
  };
  return {
    documentId: value.documentId,
    title: value.title,
    description: value.description,
    documentType: value.documentType,
    mimeType: value.mimeType,
    filename: value.filename,
    language: value.language,
    tags: value.tags,
    custom: undefined,
    headCid: value.contentCid,
    sizeBytes: value.sizeBytes,
    text: textRecord(value.text),
    ...freshContent(),
    status: DocumentStatus.DRAFT,
    confidentiality: value.confidentiality,
    owner: value.owner,
    semver: first.semver,
    processing: {
      scan: value.processing?.scan ?? false,
      validate: value.processing?.validate ?? false,
      autoPromote: value.processing?.autoPromote ?? false,
    },
    access: SortedMap.empty<Permission>().set(value.owner, Permission.ADMIN),
    links:
      forkedFrom === undefined
        ? SortedMap.empty()
        : SortedMap.empty<LinkRecord>().set(
            `${forkedFrom.documentId}/${LinkType.DERIVED_FROM}`,
            {
              targetId: forkedFrom.documentId,
              linkType: LinkType.DERIVED_FROM,
            },
          ),
    history: SortedMap.empty<HistoryRecord>().set(positionKey(0), first),
    cids: SortedMap.empty<CidRecord>().set(value.contentCid, {
      sizeBytes: value.sizeBytes,
      lastPosition: 0,
      tags: [],
    }),
    versionTags: SortedMap.empty(),
    comments: SortedMap.empty(),
    forkedFrom:
      forkedFrom === undefined
        ? undefined
        : {
            documentId: forkedFrom.documentId,
            contentCid: forkedFrom.contentCid,
            forkedBy: forkedFrom.forkedBy,
          },
    analysis: undefined,
    reviewRound: 0,
    version: meta.version,
    createdAtMs: meta.occurredAtMs,
    updatedAtMs: meta.occurredAtMs,
  };
}

function metadataUpdated(
  row: DocumentRow,
  update: DocumentMetadataUpdated,
): DocumentRow {
  return {
    ...row,
    ...metadataChanges(update),
    // The read model also keeps the custom fields, which no rule reads.
    ...(update.custom !== undefined && { custom: update.custom }),
  };
}

interface HeadChange {
  readonly contentCid: string;
  readonly predecessorCid: string;
  readonly kind: ChangeKind;
  readonly sizeBytes: bigint;
  readonly version: SemanticVersion | undefined;
  readonly actor: string;
}

function textRecord(text: TextTerms | undefined): TextRecord | undefined {
  if (text === undefined || text.terms.length === 0) return undefined;
  return { terms: text.terms, counts: text.counts, length: text.length };
}

function newHead(
  row: DocumentRow,
  meta: CommitMeta,
  text: TextTerms | undefined,
  change: HeadChange,
): DocumentRow {
  const position = row.history.size;
  const semver =
    change.version === undefined
      ? row.semver
      : {
          major: change.version.major,
          minor: change.version.minor,
          patch: change.version.patch,
        };
  const entry: HistoryRecord = {
    position,
    contentCid: change.contentCid,
    predecessorCid: change.predecessorCid,
    kind: change.kind,
    sizeBytes: change.sizeBytes,
    semver,
    actor: change.actor,
    atMs: meta.occurredAtMs,
  };
  const known = row.cids.get(change.contentCid);
  return {
    ...row,
    headCid: change.contentCid,
    sizeBytes: change.sizeBytes,
    text: textRecord(text),
    semver,
    history: row.history.set(positionKey(position), entry),
    cids: row.cids.set(change.contentCid, {
      sizeBytes: change.sizeBytes,
      lastPosition: position,
      tags: known?.tags ?? [],
    }),
    analysis: undefined,
    ...freshContent(),
  };
}

/** Adds one analysis of `contentCid` to the row; an analysis of an earlier head changes nothing. */
function analysed(
  row: DocumentRow,
  contentCid: string,
  contentTruncated: boolean,
  part: Partial<
    Pick<AnalysisRecord, 'entities' | 'summary' | 'classification'>
  >,
): DocumentRow {
  if (contentCid !== row.headCid) return row;
  const current = row.analysis ?? {
    contentCid,
    entities: undefined,
    summary: undefined,
    classification: undefined,
    contentTruncated: false,
  };
  return {
    ...row,
    analysis: {
      ...current,
      ...part,
      contentTruncated: current.contentTruncated || contentTruncated,
    },
  };
}

const EDIT_KINDS = {
  direct: ChangeKind.DIRECT_EDIT,
  patch: ChangeKind.PATCH_EDIT,
  structured: ChangeKind.STRUCTURED_EDIT,
} as const;

function edited(
  row: DocumentRow,
  successorCid: string,
  editCase: keyof typeof EDIT_KINDS | undefined,
): DocumentRow {
  const key = positionKey(row.history.size - 1);
  const last = row.history.get(key);
  if (
    last === undefined ||
    last.contentCid !== successorCid ||
    editCase === undefined
  )
    return row;
  return {
    ...row,
    history: row.history.set(key, { ...last, kind: EDIT_KINDS[editCase] }),
  };
}

function versionTagged(
  row: DocumentRow,
  tag: string,
  contentCid: string,
): DocumentRow {
  const known = row.cids.get(contentCid);
  if (known === undefined || row.versionTags.has(tag)) return row;
  return {
    ...row,
    versionTags: row.versionTags.set(tag, contentCid),
    cids: row.cids.set(contentCid, { ...known, tags: [...known.tags, tag] }),
  };
}

function lifecycle(row: DocumentRow, to: DocumentStatus): DocumentRow {
  if (row.status === DocumentStatus.ARCHIVED) return row;
  if (DocumentStatus[to] === undefined || to === DocumentStatus.UNSPECIFIED)
    return row;
  return {
    ...row,
    status: to,
    ...(to === DocumentStatus.ARCHIVED && { partition: Partition.ARCHIVE }),
    ...(to === DocumentStatus.UNDER_REVIEW &&
      row.status !== DocumentStatus.UNDER_REVIEW && {
        reviewRound: row.reviewRound + 1,
      }),
  };
}

/**
 * Restores a row from its structured clone (the runtime's node:v8 snapshots
 * keep plain data but not the SortedMap class); pass it to defineService as
 * `revive.row`. O(1) per map.
 */
export function reviveDocumentRow(cloned: unknown): DocumentRow {
  const row = cloned as DocumentRow;
  return {
    ...row,
    access: SortedMap.revive<Permission>(row.access),
    links: SortedMap.revive<LinkRecord>(row.links),
    history: SortedMap.revive<HistoryRecord>(row.history),
    cids: SortedMap.revive<CidRecord>(row.cids),
    versionTags: SortedMap.revive<string>(row.versionTags),
    comments: SortedMap.revive<CommentRecord>(row.comments),
  };
}
