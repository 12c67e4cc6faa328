import { createHash } from 'node:crypto';
import {
  create,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  ChangeDocumentStateSchema,
  ClassifyDocumentSchema,
  Confidentiality,
  ContentAnalysisSchema,
  CreateDocumentFromCidSchema,
  DocumentCommandSchema,
  DocumentContentIngestedSchema,
  DocumentCreatedFromCidSchema,
  DocumentEditedSchema,
  DocumentEditsMergedSchema,
  DocumentEventSchema,
  DocumentForkedSchema,
  DocumentMetadataUpdatedSchema,
  DocumentRolledBackSchema,
  DocumentClassifiedSchema,
  DocumentSharedSchema,
  DocumentStateChangedSchema,
  type DocumentStatus,
  DocumentSuccessorCreatedSchema,
  DocumentType,
  EditDocumentSchema,
  EntitiesExtractedSchema,
  EntityKind,
  ExtractEntitiesSchema,
  ForkDocumentSchema,
  GenerateSummarySchema,
  IngestDocumentContentSchema,
  MergeDocumentEditsSchema,
  MergeStrategy,
  Partition,
  Permission,
  type ProcessingStage,
  RecordProcessingStageSchema,
  ShareDocumentSchema,
  SummaryGeneratedSchema,
  UpdateDocumentMetadataSchema,
  type DocumentCommand,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import type { CommitMeta, Rows } from '@cim/service';
import { rawSha256Cid } from '../src/domain/cid.js';
import { documentDecider, type DocumentState } from '../src/domain/index.js';
import { project, type DocumentRow } from '../src/projection.js';

/** The document every builder targets unless told otherwise. */
export const DOC_ID = 'doc-1';
/** A fixed command id (UUIDv7 shape), so derived ids are predictable. */
export const COMMAND_ID = '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
/** Who creates the document, and so owns it. */
export const OWNER = 'user:alice';
/** Someone without any grant. */
export const STRANGER = 'user:mallory';
/** Commit time stamped by fixtures, Unix milliseconds. */
export const T0 = 1_700_000_000_000;

/** The CID of the UTF-8 bytes of `text`. */
export function cidOf(text: string): string {
  return rawSha256Cid(createHash('sha256').update(text).digest());
}

/** Three contents the builders use: A is the initial head. */
export const CID_A = cidOf('version a');
export const CID_B = cidOf('version b');
export const CID_C = cidOf('version c');

/** The plain-object form of a message's init shape: every field optional. */
type Fields<S extends DescMessage> = Exclude<
  MessageInitShape<S>,
  { $typeName: string }
>;

type CommandBody = NonNullable<
  MessageInitShape<typeof DocumentCommandSchema>['body']
>;
type EventBody = NonNullable<
  MessageInitShape<typeof DocumentEventSchema>['body']
>;

/** Who sends a command and its id. */
export interface As {
  readonly actor?: string;
  readonly commandId?: string;
}

function command(
  body: CommandBody | undefined,
  { actor = OWNER, commandId = COMMAND_ID }: As = {},
): DocumentCommand {
  return create(DocumentCommandSchema, {
    meta: { commandId, actor },
    ...(body && { body }),
  });
}

const event = (body: EventBody): DocumentEvent =>
  create(DocumentEventSchema, { body });

/** A StoredContent entry as prepare writes it. */
export function stored(cid: string, sizeBytes = 9n, present = true) {
  return { contentCid: cid, present, sizeBytes };
}

/** What prepare finds in the default text content CID_A: one e-mail address, a two-sentence summary, a report about finance. */
export function analysis(f: Fields<typeof ContentAnalysisSchema> = {}) {
  return create(ContentAnalysisSchema, {
    contentCid: CID_A,
    present: true,
    text: true,
    entities: [
      {
        kind: EntityKind.EMAIL,
        text: 'ada@example.com',
        count: 2,
        firstOffset: 7n,
      },
    ],
    summary: {
      sentences: [{ text: 'Revenue rose.', offset: 0n, score: 1 }],
      sentenceCount: 2,
    },
    classification: {
      documentType: DocumentType.REPORT,
      confidence: 0.7,
      rule: 'lexicon:report',
      topics: [
        { label: 'finance', confidence: 0.4, keywords: ['revenue', 'cost'] },
      ],
    },
    ...f,
  });
}

/** Command builders; defaults name document doc-1, its head CID_A, and act as OWNER. */
export const cmd = {
  ingest: (f: Fields<typeof IngestDocumentContentSchema> = {}, as?: As) =>
    command(
      {
        case: 'ingest',
        value: create(IngestDocumentContentSchema, {
          documentId: DOC_ID,
          hints: { title: 'Plan', mimeType: 'text/plain' },
          stored: [stored(CID_A)],
          ...f,
        }),
      },
      as,
    ),
  createFromCid: (
    f: Fields<typeof CreateDocumentFromCidSchema> = {},
    as?: As,
  ) =>
    command(
      {
        case: 'createFromCid',
        value: create(CreateDocumentFromCidSchema, {
          documentId: DOC_ID,
          contentCid: CID_A,
          title: 'Plan',
          mimeType: 'text/plain',
          stored: [stored(CID_A)],
          ...f,
        }),
      },
      as,
    ),
  recordStage: (
    stage: ProcessingStage,
    passed = true,
    f: Fields<typeof RecordProcessingStageSchema> = {},
  ) =>
    command({
      case: 'recordProcessingStage',
      value: create(RecordProcessingStageSchema, {
        documentId: DOC_ID,
        stage,
        passed,
        ...f,
      }),
    }),
  promote: (f: { from?: Partition; to?: Partition; reason?: string } = {}) =>
    command({
      case: 'promote',
      value: { documentId: DOC_ID, reason: 'checked', ...f },
    }),
  quarantine: (reason = 'suspicious', threats: string[] = []) =>
    command({
      case: 'quarantine',
      value: { documentId: DOC_ID, reason, threats },
    }),
  release: (reason = 'false positive') =>
    command({ case: 'release', value: { documentId: DOC_ID, reason } }),
  updateMetadata: (f: Fields<typeof UpdateDocumentMetadataSchema> = {}) =>
    command({
      case: 'updateMetadata',
      value: create(UpdateDocumentMetadataSchema, {
        documentId: DOC_ID,
        ...f,
      }),
    }),
  edit: (f: Fields<typeof EditDocumentSchema> = {}, as?: As) =>
    command(
      {
        case: 'edit',
        value: create(EditDocumentSchema, {
          documentId: DOC_ID,
          expectedHeadCid: CID_A,
          successorCid: CID_B,
          edit: { case: 'direct', value: {} },
          stored: [stored(CID_B, 10n)],
          ...f,
        }),
      },
      as,
    ),
  merge: (f: Fields<typeof MergeDocumentEditsSchema> = {}, as?: As) =>
    command(
      {
        case: 'merge',
        value: create(MergeDocumentEditsSchema, {
          documentId: DOC_ID,
          expectedHeadCid: CID_A,
          theirsCid: CID_B,
          strategy: MergeStrategy.THEIRS,
          stored: [stored(CID_B, 10n), stored(CID_C, 11n)],
          ...f,
        }),
      },
      as,
    ),
  rollback: (targetCid = CID_A, as?: As) =>
    command({ case: 'rollback', value: { documentId: DOC_ID, targetCid } }, as),
  changeState: (to: DocumentStatus, reviewWorkflowId = '', as?: As) =>
    command(
      {
        case: 'changeState',
        value: create(ChangeDocumentStateSchema, {
          documentId: DOC_ID,
          to,
          reviewWorkflowId,
        }),
      },
      as,
    ),
  extractEntities: (f: Fields<typeof ExtractEntitiesSchema> = {}) =>
    command({
      case: 'extractEntities',
      value: create(ExtractEntitiesSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        analysis: analysis(),
        ...f,
      }),
    }),
  generateSummary: (f: Fields<typeof GenerateSummarySchema> = {}) =>
    command({
      case: 'generateSummary',
      value: create(GenerateSummarySchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        analysis: analysis(),
        ...f,
      }),
    }),
  classify: (f: Fields<typeof ClassifyDocumentSchema> = {}) =>
    command({
      case: 'classify',
      value: create(ClassifyDocumentSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        analysis: analysis(),
        ...f,
      }),
    }),
  share: (principals: string[], permission = Permission.READ, as?: As) =>
    command(
      {
        case: 'share',
        value: create(ShareDocumentSchema, {
          documentId: DOC_ID,
          principals,
          permission,
        }),
      },
      as,
    ),
  addComment: (
    f: {
      commentId?: string;
      content?: string;
      parentId?: string;
      blockId?: string;
    } = {},
    as?: As,
  ) =>
    command(
      {
        case: 'addComment',
        value: {
          documentId: DOC_ID,
          commentId: 'c1',
          content: 'looks good',
          ...f,
        },
      },
      as,
    ),
  tagVersion: (tag = 'v1', contentCid = '') =>
    command({
      case: 'tagVersion',
      value: { documentId: DOC_ID, tag, contentCid },
    }),
  link: (targetId = 'doc-2', linkType = 1) =>
    command({
      case: 'link',
      value: { documentId: DOC_ID, targetId, linkType },
    }),
  archive: (reason = '') =>
    command({ case: 'archive', value: { documentId: DOC_ID, reason } }),
  fork: (f: Fields<typeof ForkDocumentSchema> = {}, as?: As) =>
    command(
      {
        case: 'fork',
        value: create(ForkDocumentSchema, {
          documentId: DOC_ID,
          forkId: 'doc-fork',
          ...f,
        }),
      },
      as,
    ),
  /** A command whose body oneof is unset. */
  empty: () => command(undefined),
};

/** Event builders matching what the command builders' defaults decide. */
export const evt = {
  ingested: (f: Fields<typeof DocumentContentIngestedSchema> = {}) =>
    event({
      case: 'contentIngested',
      value: create(DocumentContentIngestedSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        sizeBytes: 9n,
        mimeType: 'text/plain',
        partition: Partition.STAGING,
        title: 'Plan',
        documentType: DocumentType.OTHER,
        confidentiality: Confidentiality.INTERNAL,
        processing: {},
        owner: OWNER,
        ...f,
      }),
    }),
  createdFromCid: (f: Fields<typeof DocumentCreatedFromCidSchema> = {}) =>
    event({
      case: 'createdFromCid',
      value: create(DocumentCreatedFromCidSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        sizeBytes: 9n,
        mimeType: 'text/plain',
        partition: Partition.STAGING,
        title: 'Plan',
        documentType: DocumentType.OTHER,
        confidentiality: Confidentiality.INTERNAL,
        processing: {},
        owner: OWNER,
        ...f,
      }),
    }),
  processingStarted: (contentCid = CID_A) =>
    event({
      case: 'processingStarted',
      value: { documentId: DOC_ID, contentCid },
    }),
  stageCompleted: (
    stage: ProcessingStage,
    passed = true,
    f: { details?: string; threats?: string[]; contentCid?: string } = {},
  ) =>
    event({
      case: 'processingStageCompleted',
      value: {
        documentId: DOC_ID,
        contentCid: CID_A,
        stage,
        passed,
        ...f,
      },
    }),
  processingCompleted: (passed = true, contentCid = CID_A) =>
    event({
      case: 'processingCompleted',
      value: { documentId: DOC_ID, contentCid, passed },
    }),
  promoted: (reason = 'checked', contentCid = CID_A) =>
    event({
      case: 'contentPromoted',
      value: {
        documentId: DOC_ID,
        contentCid,
        from: Partition.STAGING,
        to: Partition.AGGREGATE,
        reason,
      },
    }),
  quarantined: (reason = 'suspicious', threats: string[] = []) =>
    event({
      case: 'contentQuarantined',
      value: { documentId: DOC_ID, contentCid: CID_A, reason, threats },
    }),
  released: (reason = 'false positive') =>
    event({
      case: 'contentReleased',
      value: { documentId: DOC_ID, contentCid: CID_A, reason },
    }),
  metadataUpdated: (f: Fields<typeof DocumentMetadataUpdatedSchema> = {}) =>
    event({
      case: 'metadataUpdated',
      value: create(DocumentMetadataUpdatedSchema, {
        documentId: DOC_ID,
        ...f,
      }),
    }),
  successorCreated: (f: Fields<typeof DocumentSuccessorCreatedSchema> = {}) =>
    event({
      case: 'successorCreated',
      value: create(DocumentSuccessorCreatedSchema, {
        documentId: DOC_ID,
        predecessorCid: CID_A,
        successorCid: CID_B,
        sizeBytes: 10n,
        editedBy: OWNER,
        version: { major: 1, minor: 0, patch: 1 },
        ...f,
      }),
    }),
  edited: (f: Fields<typeof DocumentEditedSchema> = {}) =>
    event({
      case: 'edited',
      value: create(DocumentEditedSchema, {
        documentId: DOC_ID,
        successorCid: CID_B,
        edit: { case: 'direct', value: {} },
        ...f,
      }),
    }),
  merged: (f: Fields<typeof DocumentEditsMergedSchema> = {}) =>
    event({
      case: 'editsMerged',
      value: create(DocumentEditsMergedSchema, {
        documentId: DOC_ID,
        strategy: MergeStrategy.THEIRS,
        oursCid: CID_A,
        theirsCid: CID_B,
        resultCid: CID_B,
        sizeBytes: 10n,
        mergedBy: OWNER,
        version: { major: 1, minor: 0, patch: 1 },
        ...f,
      }),
    }),
  rolledBack: (f: Fields<typeof DocumentRolledBackSchema> = {}) =>
    event({
      case: 'rolledBack',
      value: create(DocumentRolledBackSchema, {
        documentId: DOC_ID,
        fromCid: CID_B,
        toCid: CID_A,
        sizeBytes: 9n,
        rolledBackBy: OWNER,
        version: { major: 1, minor: 0, patch: 2 },
        ...f,
      }),
    }),
  stateChanged: (
    from: DocumentStatus,
    to: DocumentStatus,
    reviewWorkflowId = '',
  ) =>
    event({
      case: 'stateChanged',
      value: create(DocumentStateChangedSchema, {
        documentId: DOC_ID,
        from,
        to,
        reviewWorkflowId,
      }),
    }),
  entitiesExtracted: (f: Fields<typeof EntitiesExtractedSchema> = {}) =>
    event({
      case: 'entitiesExtracted',
      value: create(EntitiesExtractedSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        entities: analysis().entities,
        ...f,
      }),
    }),
  summaryGenerated: (f: Fields<typeof SummaryGeneratedSchema> = {}) =>
    event({
      case: 'summaryGenerated',
      value: create(SummaryGeneratedSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        summary: analysis().summary,
        maxSentences: 3,
        ...f,
      }),
    }),
  classified: (f: Fields<typeof DocumentClassifiedSchema> = {}) =>
    event({
      case: 'classified',
      value: create(DocumentClassifiedSchema, {
        documentId: DOC_ID,
        contentCid: CID_A,
        classification: analysis().classification,
        ...f,
      }),
    }),
  shared: (
    principals: string[],
    permission = Permission.READ,
    sharedBy = OWNER,
  ) =>
    event({
      case: 'shared',
      value: create(DocumentSharedSchema, {
        documentId: DOC_ID,
        principals,
        permission,
        sharedBy,
      }),
    }),
  commentAdded: (
    f: {
      commentId?: string;
      content?: string;
      parentId?: string;
      blockId?: string;
      author?: string;
    } = {},
  ) =>
    event({
      case: 'commentAdded',
      value: {
        documentId: DOC_ID,
        commentId: 'c1',
        author: OWNER,
        content: 'looks good',
        ...f,
      },
    }),
  versionTagged: (tag = 'v1', contentCid = CID_A) =>
    event({
      case: 'versionTagged',
      value: { documentId: DOC_ID, tag, contentCid },
    }),
  linked: (targetId = 'doc-2', linkType = 1) =>
    event({
      case: 'linked',
      value: { documentId: DOC_ID, targetId, linkType },
    }),
  archived: (reason = '') =>
    event({ case: 'archived', value: { documentId: DOC_ID, reason } }),
  forked: (f: Fields<typeof DocumentForkedSchema> = {}) =>
    event({
      case: 'forked',
      value: create(DocumentForkedSchema, {
        documentId: DOC_ID,
        forkId: 'doc-fork',
        contentCid: CID_A,
        title: 'Plan',
        forkedBy: OWNER,
        documentType: DocumentType.OTHER,
        mimeType: 'text/plain',
        confidentiality: Confidentiality.INTERNAL,
        processing: {},
        ...f,
      }),
    }),
  /** An event with no body, as an older reader sees an event type from a newer schema. */
  unknown: () => create(DocumentEventSchema, {}),
};

/** Commit metadata for the event that makes aggregate version `version`. */
export function commitMeta(
  version: number,
  occurredAtMs = T0 + version,
  aggregateId = DOC_ID,
  actor = OWNER,
): CommitMeta {
  return {
    aggregateId,
    version: BigInt(version),
    sequence: BigInt(version),
    eventId: `event-${version}`,
    commandId: COMMAND_ID,
    correlationId: COMMAND_ID,
    actor,
    occurredAtMs,
  };
}

/** Folds events into a row, numbering versions on from the row's. */
export function projectAll(
  events: readonly DocumentEvent[],
  row?: DocumentRow,
): DocumentRow | undefined {
  let current = row;
  let version = Number(row?.version ?? 0n);
  for (const e of events) {
    current = project(
      current,
      e,
      commitMeta(++version, T0 + version, current?.documentId ?? DOC_ID),
    );
  }
  return current;
}

/** Folds events into a decider state. */
export function stateOf(
  events: readonly DocumentEvent[],
  state: DocumentState = documentDecider.initialState(),
): DocumentState {
  return events.reduce(documentDecider.evolve, state);
}

/** Rows as the runtime hands them to query handlers. */
export function rowsOf(
  ...rows: DocumentRow[]
): Rows<DocumentRow> & Map<string, DocumentRow> {
  return new Map(rows.map((row) => [row.documentId, row]));
}
