import { create } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  StoredContentSchema,
  type DocumentCommand,
  type StoredContent,
} from '@cim/proto/cim/document/v1/document_pb';
import type { ServiceIo } from '@cim/service';
import { ContentStore } from './content-store.js';
import { isContentCid } from './domain/cid.js';

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
        const stored = await (await stores.for(io)).put(content);
        body.value.content = new Uint8Array(0);
        body.value.stored = [
          create(StoredContentSchema, {
            contentCid: stored.cid,
            present: true,
            sizeBytes: stored.sizeBytes,
          }),
        ];
        return command;
      }
      case 'createFromCid':
        body.value.stored = await lookUp(stores, io, [body.value.contentCid]);
        return command;
      case 'edit': {
        const { edit } = body.value;
        body.value.stored = await lookUp(stores, io, [
          body.value.successorCid,
          edit.case === 'patch' ? edit.value.patchCid : '',
        ]);
        return command;
      }
      case 'merge':
        body.value.stored = await lookUp(stores, io, [
          body.value.theirsCid,
          body.value.baseCid,
          body.value.resultCid,
        ]);
        return command;
      default:
        return command;
    }
  };
}

/** The store's findings for each distinct well-formed CID; malformed ones are left for decide to refuse. */
async function lookUp(
  stores: ContentStores,
  io: ServiceIo,
  cids: readonly string[],
): Promise<StoredContent[]> {
  const wanted = [...new Set(cids.filter(isContentCid))];
  if (wanted.length === 0) return [];
  const store = await stores.for(io);
  return Promise.all(
    wanted.map(async (contentCid) => {
      const { present, sizeBytes } = await store.stat(contentCid);
      return create(StoredContentSchema, { contentCid, present, sizeBytes });
    }),
  );
}
