import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  invalid,
  isSubjectToken,
  requireId,
  requireText,
  show,
  type SortedMap,
  notFound,
} from '@cim/kernel';
import {
  DocumentStatus,
  DocumentType,
  Permission,
  type ChangeKind,
  type DocumentAnalysisSchema,
  type DocumentQueryService,
  type DocumentSchema,
  type DocumentSummarySchema,
  type HistoryEntrySchema,
  type VersionInfoSchema,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  MAX_PAGE_SIZE,
  encodeCursor,
  readPage,
  takePage,
  type QueryHandlers,
  type Rows,
  type ServiceIo,
} from '@cim/service';
import { DocumentIndex } from './document-index.js';
import {
  EVERYONE,
  LIMITS,
  includes,
  requireContentCid,
} from './domain/rules.js';
import type { ContentOptions, ContentStores } from './prepare.js';
import {
  positionKey,
  type AnalysisRecord,
  type CidRecord,
  type CommentRecord,
  type DocumentRow,
  type HistoryRecord,
} from './projection.js';
import type { ScoredId } from './search-index.js';
import { words } from './text-terms.js';

/** Bounds of a SearchDocuments query: characters, and distinct terms. */
export const SEARCH_LIMITS = { query: 1000, terms: 16 } as const;

/** A search page token's key: `<score>~<document id>` of the last hit shown. */
const SEARCH_CURSOR = /^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)~(.+)$/;

function searchCursor(key: string): { score: number; id: string } | undefined {
  const match = SEARCH_CURSOR.exec(key);
  if (match === null || !isSubjectToken(match[2]!)) return undefined;
  const score = Number(match[1]);
  return Number.isFinite(score) ? { score, id: match[2]! } : undefined;
}

/** The distinct words of a search query; VALIDATION_FAILED when it has none or too many. */
function queryTerms(query: string): string[] {
  requireText(query, 'query', SEARCH_LIMITS.query);
  const terms = [...new Set(words(query))];
  if (terms.length === 0) invalid('query must hold at least one word');
  if (terms.length > SEARCH_LIMITS.terms) {
    invalid(
      `query must hold at most ${SEARCH_LIMITS.terms} distinct words, got ${terms.length}`,
    );
  }
  return terms;
}

/** A search hit with its row. */
interface Found {
  readonly hit: ScoredId;
  readonly row: DocumentRow;
}

/** Whether `principal`, or everyone, may read the document. */
function readableBy(row: DocumentRow, principal: string): boolean {
  return (
    includes(row.access.get(principal), Permission.READ) ||
    includes(row.access.get(EVERYONE), Permission.READ)
  );
}

/** Room a GetContent reply leaves in a NATS message for its other fields. */
const REPLY_OVERHEAD_BYTES = 4096;
/** The max_payload NATS servers default to, for a connection that reports none. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

function rowOf(rows: Rows<DocumentRow>, documentId: string): DocumentRow {
  requireId(documentId, 'document_id');
  const row = rows.get(documentId);
  if (row === undefined) {
    notFound(`document ${show(documentId)} not found`);
  }
  return row;
}

function summary(
  row: DocumentRow,
): MessageInitShape<typeof DocumentSummarySchema> {
  return {
    documentId: row.documentId,
    title: row.title,
    documentType: row.documentType,
    status: row.status,
    headCid: row.headCid,
    sizeBytes: row.sizeBytes,
    owner: row.owner,
    tags: [...row.tags],
    version: row.version,
    updatedAt: timestampFromMs(row.updatedAtMs),
  };
}

function documentView(
  row: DocumentRow,
): MessageInitShape<typeof DocumentSchema> {
  return {
    documentId: row.documentId,
    title: row.title,
    description: row.description,
    documentType: row.documentType,
    mimeType: row.mimeType,
    filename: row.filename,
    sizeBytes: row.sizeBytes,
    language: row.language,
    tags: [...row.tags],
    ...(row.custom && { custom: row.custom }),
    headCid: row.headCid,
    partition: row.partition,
    contentState: row.contentState,
    status: row.status,
    confidentiality: row.confidentiality,
    owner: row.owner,
    semanticVersion: { ...row.semver },
    access: [...row.access.entries()].map(([principal, permission]) => ({
      principal,
      permission,
    })),
    links: [...row.links.values()].map(({ targetId, linkType }) => ({
      targetId,
      linkType,
    })),
    processing: { ...row.processing },
    stageResults: row.stageResults.map((s) => ({
      stage: s.stage,
      passed: s.passed,
      details: s.details,
      threats: [...s.threats],
    })),
    commentCount: BigInt(row.comments.size),
    historyLength: BigInt(row.history.size),
    ...(row.forkedFrom && { forkedFrom: { ...row.forkedFrom } }),
    version: row.version,
    createdAt: timestampFromMs(row.createdAtMs),
    updatedAt: timestampFromMs(row.updatedAtMs),
    ...(row.analysis && { analysis: analysisView(row.analysis) }),
    reviewRound: row.reviewRound,
  };
}

function analysisView(
  analysis: AnalysisRecord,
): MessageInitShape<typeof DocumentAnalysisSchema> {
  const { contentCid, entities, summary, classification } = analysis;
  return {
    contentCid,
    entitiesExtracted: entities !== undefined,
    entities: [...(entities?.entities ?? [])],
    entitiesTruncated: entities?.truncated ?? false,
    ...(summary && { summary }),
    ...(classification && { classification }),
    contentTruncated: analysis.contentTruncated,
  };
}

function historyEntry(
  entry: HistoryRecord,
): MessageInitShape<typeof HistoryEntrySchema> {
  return {
    position: BigInt(entry.position),
    contentCid: entry.contentCid,
    predecessorCid: entry.predecessorCid,
    kind: entry.kind,
    sizeBytes: entry.sizeBytes,
    semanticVersion: { ...entry.semver },
    actor: entry.actor,
    at: timestampFromMs(entry.atMs),
  };
}

function commentView(comment: CommentRecord) {
  return {
    commentId: comment.commentId,
    author: comment.author,
    content: comment.content,
    blockId: comment.blockId,
    parentId: comment.parentId,
    at: timestampFromMs(comment.atMs),
  };
}

function cidOf(row: DocumentRow, cid: string, field: string): CidRecord {
  requireContentCid(cid, field);
  const record = row.cids.get(cid);
  if (record === undefined) {
    notFound(
      `${field} ${show(cid)} is not in the history of document ${show(row.documentId)}`,
    );
  }
  return record;
}

function versionInfo(
  row: DocumentRow,
  cid: string,
  record: CidRecord,
): MessageInitShape<typeof VersionInfoSchema> {
  const entry = row.history.get(positionKey(record.lastPosition));
  return {
    contentCid: cid,
    sizeBytes: record.sizeBytes,
    ...(entry && { entry: historyEntry(entry) }),
    tags: [...record.tags],
    isHead: cid === row.headCid,
  };
}

/** Ids of `ids` after the cursor whose rows pass `keep`, with their rows. */
function* matching(
  ids: SortedMap<true>,
  rows: Rows<DocumentRow>,
  after: string | undefined,
  keep: (row: DocumentRow) => boolean,
): Generator<[string, DocumentRow], void, undefined> {
  for (const id of ids.keys(after)) {
    const row = rows.get(id);
    if (row !== undefined && keep(row)) yield [id, row];
  }
}

function count(
  ids: SortedMap<true>,
  rows: Rows<DocumentRow>,
  keep: (row: DocumentRow) => boolean,
): number {
  let total = 0;
  for (const _ of matching(ids, rows, undefined, keep)) total++;
  return total;
}

function maxReplyBytes(io: ServiceIo): number {
  const maxPayload = io.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  return Math.max(1, maxPayload - REPLY_OVERHEAD_BYTES);
}

/**
 * The document query handlers. Single-document queries read the projection's
 * row; queries across documents use a DocumentIndex refreshed from the rows;
 * GetContent reads the object store, at most min(size limit, max_payload −
 * 4 KiB) bytes per reply. Unknown documents and CIDs answer NOT_FOUND,
 * malformed arguments VALIDATION_FAILED.
 */
export function documentQueries(
  options: ContentOptions,
  stores: ContentStores,
) {
  return (
    rows: Rows<DocumentRow>,
    io: ServiceIo,
  ): QueryHandlers<typeof DocumentQueryService> => {
    const index = new DocumentIndex(rows);
    // Open (and create) the bucket at start-up rather than on the first request; a failure is retried then.
    void stores.for(io).catch((err: unknown) => {
      io.log.warn({ err }, 'content store not open yet');
    });

    return {
      getDocument({ documentId }) {
        return { document: documentView(rowOf(rows, documentId)) };
      },

      async getContent({ contentCid, offset, length }) {
        requireContentCid(contentCid, 'content_cid');
        if (offset > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            `offset ${offset} is too large`,
          );
        }
        const budget = Math.min(options.maxContentBytes, maxReplyBytes(io));
        const want =
          length === 0n || length > BigInt(budget) ? budget : Number(length);
        const store = await stores.for(io);
        const range = await store.read(contentCid, Number(offset), want);
        if (range === undefined) {
          notFound(`content ${show(contentCid)} is not in the content store`);
        }
        if (offset > range.totalSize) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            `offset ${offset} is past the end of ${range.totalSize} bytes`,
          );
        }
        return {
          contentCid,
          data: range.data,
          offset,
          totalSize: range.totalSize,
        };
      },

      getHistory({ documentId, page }) {
        const row = rowOf(rows, documentId);
        const window = readPage(page);
        const { items, info } = takePage(
          row.history.entries(window.after),
          window,
          row.history.size,
          historyEntry,
        );
        return {
          headCid: row.headCid,
          entries: items,
          tags: [...row.versionTags.entries()].map(([tag, contentCid]) => ({
            tag,
            contentCid,
          })),
          page: info,
        };
      },

      compareVersions({ documentId, fromCid, toCid }) {
        const row = rowOf(rows, documentId);
        const from = cidOf(row, fromCid, 'from_cid');
        const to = cidOf(row, toCid, 'to_cid');
        const low = Math.min(from.lastPosition, to.lastPosition);
        const high = Math.max(from.lastPosition, to.lastPosition);
        const changes: ChangeKind[] = [];
        for (const entry of row.history.values(positionKey(low))) {
          if (entry.position > high || changes.length === MAX_PAGE_SIZE) break;
          changes.push(entry.kind);
        }
        return {
          from: versionInfo(row, fromCid, from),
          to: versionInfo(row, toCid, to),
          sameContent: fromCid === toCid,
          sizeDelta: to.sizeBytes - from.sizeBytes,
          distance: BigInt(to.lastPosition - from.lastPosition),
          changes,
        };
      },

      documentsByContentCid({ contentCid, page }, { position }) {
        requireContentCid(contentCid, 'content_cid');
        const window = readPage(page);
        index.refresh(position);
        const ids = index.holding(contentCid);
        const { items, info } = takePage(
          matching(ids, rows, window.after, () => true),
          window,
          ids.size,
          (row: DocumentRow) => ({
            document: summary(row),
            isHead: row.headCid === contentCid,
          }),
        );
        return { documents: items, page: info };
      },

      listDocuments(
        { page, tag, documentType, owner, status, titleContains },
        { position },
      ) {
        if (tag !== '') requireText(tag, 'tag', LIMITS.tag);
        if (DocumentType[documentType] === undefined) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            `document_type ${documentType} is not a known document type`,
          );
        }
        if (DocumentStatus[status] === undefined) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            `status ${status} is not a known status`,
          );
        }
        const window = readPage(page);
        index.refresh(position);
        const title = titleContains.toLowerCase();
        const keep = (row: DocumentRow): boolean =>
          (tag === '' || row.tags.includes(tag)) &&
          (documentType === DocumentType.UNSPECIFIED ||
            row.documentType === documentType) &&
          (owner === '' || row.owner === owner) &&
          (status === DocumentStatus.UNSPECIFIED || row.status === status) &&
          (title === '' || row.title.toLowerCase().includes(title));
        // Walk the narrowest index a filter names; the predicate checks the rest.
        const ids =
          tag !== ''
            ? index.withTag(tag)
            : owner !== ''
              ? index.ownedBy(owner)
              : documentType !== DocumentType.UNSPECIFIED
                ? index.ofType(documentType)
                : index.all();
        const filtered =
          status !== DocumentStatus.UNSPECIFIED ||
          title !== '' ||
          [
            tag !== '',
            owner !== '',
            documentType !== DocumentType.UNSPECIFIED,
          ].filter(Boolean).length > 1;
        const { items, info } = takePage(
          matching(ids, rows, window.after, keep),
          window,
          filtered ? count(ids, rows, keep) : ids.size,
          summary,
        );
        return { documents: items, page: info };
      },

      sharedWith({ principal, page }, { position }) {
        requireText(principal, 'principal', LIMITS.principal);
        const window = readPage(page);
        index.refresh(position);
        const ids = index.grantedTo(principal);
        const { items, info } = takePage(
          matching(ids, rows, window.after, () => true),
          window,
          ids.size,
          (row: DocumentRow) => ({
            document: summary(row),
            permission: row.access.get(principal) ?? 0,
          }),
        );
        return { documents: items, page: info };
      },

      searchDocuments(
        {
          query,
          page,
          documentType,
          tag,
          owner,
          status,
          includeArchived,
          principal,
        },
        { position },
      ) {
        const terms = queryTerms(query);
        if (tag !== '') requireText(tag, 'tag', LIMITS.tag);
        if (principal !== '')
          requireText(principal, 'principal', LIMITS.principal);
        if (DocumentType[documentType] === undefined) {
          invalid(`document_type ${documentType} is not a known document type`);
        }
        if (DocumentStatus[status] === undefined) {
          invalid(`status ${status} is not a known status`);
        }
        const window = readPage(page, (key) => searchCursor(key) !== undefined);
        const after =
          window.after === undefined ? undefined : searchCursor(window.after);
        index.refresh(position);
        const archivedToo =
          includeArchived || status === DocumentStatus.ARCHIVED;
        const keep = (id: string): boolean => {
          const row = rows.get(id);
          return (
            row !== undefined &&
            (archivedToo || row.status !== DocumentStatus.ARCHIVED) &&
            (status === DocumentStatus.UNSPECIFIED || row.status === status) &&
            (documentType === DocumentType.UNSPECIFIED ||
              row.documentType === documentType) &&
            (tag === '' || row.tags.includes(tag)) &&
            (owner === '' || row.owner === owner) &&
            (principal === '' || readableBy(row, principal))
          );
        };
        const hits = index.fullText().search(terms, keep);
        const start =
          after === undefined
            ? 0
            : hits.findIndex(
                (h) =>
                  h.score < after.score ||
                  (h.score === after.score && h.id > after.id),
              );
        const rest = start < 0 ? [] : hits.slice(start);
        const found = function* (): Generator<[string, Found]> {
          for (const hit of rest) {
            const row = rows.get(hit.id);
            if (row !== undefined) yield [hit.id, { hit, row }];
          }
        };
        const { items, info } = takePage(
          found(),
          window,
          hits.length,
          ({ hit, row }: Found) => ({
            documentId: hit.id,
            title: row.title,
            score: hit.score,
            document: summary(row),
          }),
          ({ hit }) => encodeCursor(`${hit.score}~${hit.id}`),
        );
        return { hits: items, page: info };
      },

      listComments({ documentId, page }) {
        const row = rowOf(rows, documentId);
        const window = readPage(page);
        const { items, info } = takePage(
          row.comments.entries(window.after),
          window,
          row.comments.size,
          commentView,
        );
        return { comments: items, page: info };
      },
    };
  };
}
