import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  ContentAnalysisSchema,
  StoredContentSchema,
  type ContentAnalysis,
  type DocumentCommand,
  type StoredContent,
} from '@cim/proto/cim/document/v1/document_pb';
import type { ServiceIo } from '@cim/service';
import { classifyText } from './analysis/classify.js';
import { extractEntities } from './analysis/entities.js';
import { summarize } from './analysis/summary.js';
import { ContentStore } from './content-store.js';
import { ANALYSIS_LIMITS } from './domain/analysis.js';
import { isContentCid } from './domain/cid.js';
import { TERM_LIMITS, isTextualMimeType } from './domain/rules.js';
import { decodeText, extractTerms } from './text-terms.js';

/** Default content size limit: 16 MiB. */
export const DEFAULT_MAX_CONTENT_BYTES = 16 * 1024 * 1024;

/** What the document service's edge steps need to know. */
export interface ContentOptions {
  /** Largest content IngestDocumentContent accepts, and most bytes GetContent answers at once. */
  readonly maxContentBytes: number;
  /** Object store bucket; default `cim_document_content`. */
  readonly bucket?: string;
}

/**
 * One ContentStore per started service instance (keyed by its ServiceIo, which
 * `start()` makes once and hands to both `prepare` and the query handlers). A
 * failed open is forgotten, so the next request tries again.
 */
export class ContentStores {
  private readonly stores = new WeakMap<ServiceIo, Promise<ContentStore>>();

  constructor(private readonly bucket: string | undefined) {}

  /** The store of the instance `io` belongs to, opened on first use. */
  for(io: ServiceIo): Promise<ContentStore> {
    let store = this.stores.get(io);
    if (store === undefined) {
      store = ContentStore.open(io.nc, {
        replicas: io.replicas,
        ...(this.bucket !== undefined && { bucket: this.bucket }),
      });
      this.stores.set(io, store);
      // The caller sees the rejection; this only forgets it so the next request retries.
      void store.catch(() => this.stores.delete(io));
    }
    return store;
  }
}

/**
 * The document service's `prepare`: the I/O a command needs before the pure
 * decide. IngestDocumentContent: refuse empty or oversize content
 * (VALIDATION_FAILED, before anything is stored), store the bytes under their
 * CID, and replace them by a StoredContent entry. Commands that name content
 * CIDs: look each one up and list what was found in `stored`, replacing
 * whatever the client sent there, so that decide can refuse what is missing.
 * Content that may become the head also gets its searchable terms (TextTerms)
 * when it is text: from the bytes at hand on ingest, read back from the store
 * (at most TERM_LIMITS.bytes) otherwise. Where the command names the MIME type
 * (ingest, create) only textual types are read; elsewhere decide drops terms
 * of a document whose MIME type is not textual. Analysis commands
 * (ExtractEntities, GenerateSummary, ClassifyDocument): read the named
 * content (at most ANALYSIS_LIMITS.bytes) and put what the pure analysis
 * finds in `analysis`, replacing whatever the client sent there.
 */
export function prepareDocumentCommand(
  options: ContentOptions,
  stores: ContentStores,
) {
  return async (
    command: DocumentCommand,
    io: ServiceIo,
  ): Promise<DocumentCommand> => {
    const { body } = command;
    switch (body.case) {
      case 'ingest': {
        const { content } = body.value;
        if (content.length === 0) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            'content must not be empty',
          );
        }
        if (content.length > options.maxContentBytes) {
          throw new DomainError(
            ErrorCode.VALIDATION_FAILED,
            `content is ${content.length} bytes; the limit is ${options.maxContentBytes} (CIM_DOCUMENT_MAX_BYTES)`,
            {
              details: {
                size: String(content.length),
                limit: String(options.maxContentBytes),
              },
            },
          );
        }
        const text = isTextualMimeType(body.value.hints?.mimeType ?? '')
          ? extractTerms(content)
          : undefined;
        const stored = await (await stores.for(io)).put(content);
        body.value.content = new Uint8Array(0);
        body.value.stored = [
          create(StoredContentSchema, {
            contentCid: stored.cid,
            present: true,
            sizeBytes: stored.sizeBytes,
            ...(text && { text }),
          }),
        ];
        return command;
      }
      case 'createFromCid': {
        const { contentCid, mimeType } = body.value;
        body.value.stored = await lookUp(
          stores,
          io,
          [contentCid],
          isTextualMimeType(mimeType) ? [contentCid] : [],
        );
        return command;
      }
      case 'edit': {
        const { edit, successorCid } = body.value;
        body.value.stored = await lookUp(
          stores,
          io,
          [successorCid, edit.case === 'patch' ? edit.value.patchCid : ''],
          [successorCid],
        );
        return command;
      }
      case 'merge': {
        const { theirsCid, baseCid, resultCid } = body.value;
        // The new head is result_cid, or theirs_cid for a THEIRS merge without one.
        body.value.stored = await lookUp(
          stores,
          io,
          [theirsCid, baseCid, resultCid],
          [resultCid === '' ? theirsCid : resultCid],
        );
        return command;
      }
      case 'rollback':
        // Only for the terms: the history already vouches for the target.
        body.value.stored = await lookUp(
          stores,
          io,
          [body.value.targetCid],
          [body.value.targetCid],
        );
        return command;
      case 'extractEntities':
        body.value.analysis = await analyse(
          stores,
          io,
          body.value.contentCid,
          (text) => {
            const { entities, truncated } = extractEntities(text);
            return {
              entities: entities.map((e) => ({
                ...e,
                firstOffset: BigInt(e.firstOffset),
              })),
              entitiesTruncated: truncated,
            };
          },
        );
        return command;
      case 'generateSummary': {
        // Out-of-range lengths are decide's to refuse; this only bounds the work.
        const { maxSentences } = body.value;
        const length =
          maxSentences === 0
            ? ANALYSIS_LIMITS.defaultSentences
            : Math.min(maxSentences, ANALYSIS_LIMITS.sentences);
        body.value.analysis = await analyse(
          stores,
          io,
          body.value.contentCid,
          (text) => {
            const { sentences, sentenceCount } = summarize(text, length);
            return {
              summary: {
                sentences: sentences.map((s) => ({
                  ...s,
                  offset: BigInt(s.offset),
                })),
                sentenceCount,
              },
            };
          },
        );
        return command;
      }
      case 'classify':
        body.value.analysis = await analyse(
          stores,
          io,
          body.value.contentCid,
          (text) => ({ classification: classifyText(text) }),
        );
        return command;
      default:
        return command;
    }
  };
}

/** What one analysis computes from text: the results part of ContentAnalysis. */
type Findings = Pick<
  Exclude<MessageInitShape<typeof ContentAnalysisSchema>, ContentAnalysis>,
  'entities' | 'entitiesTruncated' | 'summary' | 'classification'
>;

/**
 * Reads the first ANALYSIS_LIMITS.bytes of stored content and, when they are
 * text, analyses them with `compute`. Undefined for a malformed CID (decide
 * refuses it); `present: false` when the store lacks the content.
 */
async function analyse(
  stores: ContentStores,
  io: ServiceIo,
  contentCid: string,
  compute: (text: string) => Findings,
): Promise<ContentAnalysis | undefined> {
  if (!isContentCid(contentCid)) return undefined;
  const store = await stores.for(io);
  // One more byte than analysis reads tells it the content goes on.
  const range = await store.read(contentCid, 0, ANALYSIS_LIMITS.bytes + 1);
  if (range === undefined) {
    return create(ContentAnalysisSchema, { contentCid, present: false });
  }
  const decoded = decodeText(range.data, ANALYSIS_LIMITS.bytes);
  return create(ContentAnalysisSchema, {
    contentCid,
    present: true,
    text: decoded !== undefined,
    truncated: range.totalSize > BigInt(ANALYSIS_LIMITS.bytes),
    ...(decoded && compute(decoded.text)),
  });
}

/**
 * The store's findings for each distinct well-formed CID, with the terms of
 * those in `texts` that are stored text; malformed CIDs are left for decide
 * to refuse.
 */
async function lookUp(
  stores: ContentStores,
  io: ServiceIo,
  cids: readonly string[],
  texts: readonly string[] = [],
): Promise<StoredContent[]> {
  const wanted = [...new Set(cids.filter(isContentCid))];
  if (wanted.length === 0) return [];
  const store = await stores.for(io);
  return Promise.all(
    wanted.map(async (contentCid) => {
      if (texts.includes(contentCid)) {
        // One more byte than extraction reads tells it the content goes on.
        const range = await store.read(contentCid, 0, TERM_LIMITS.bytes + 1);
        if (range === undefined) {
          return create(StoredContentSchema, { contentCid, present: false });
        }
        const text = extractTerms(range.data);
        return create(StoredContentSchema, {
          contentCid,
          present: true,
          sizeBytes: range.totalSize,
          ...(text && { text }),
        });
      }
      const { present, sizeBytes } = await store.stat(contentCid);
      return create(StoredContentSchema, { contentCid, present, sizeBytes });
    }),
  );
}
