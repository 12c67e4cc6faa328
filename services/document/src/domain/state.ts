import type {
  Confidentiality,
  ContentState,
  DocumentStatus,
  DocumentType,
  Partition,
  Permission,
  ProcessingStage,
} from '@cim/proto/cim/document/v1/document_pb';
import type { ProcessingOptionsLike, SemVer } from './rules.js';
import { SortedMap } from '@cim/kernel';

/** One recorded processing stage of the head content. */
export interface StageOutcome {
  readonly stage: ProcessingStage;
  readonly passed: boolean;
}

/** What a document that exists holds, as the decider needs it. */
export interface DocumentData {
  readonly documentId: string;
  readonly lifecycle: DocumentStatus;
  readonly title: string;
  readonly description: string;
  readonly documentType: DocumentType;
  readonly mimeType: string;
  readonly filename: string;
  readonly language: string;
  readonly tags: readonly string[];
  readonly confidentiality: Confidentiality;
  readonly owner: string;
  readonly headCid: string;
  readonly headSize: bigint;
  readonly contentState: ContentState;
  readonly partition: Partition;
  readonly processing: ProcessingOptionsLike;
  /** Results for the head content, at most one per stage. */
  readonly stages: readonly StageOutcome[];
  /** DocumentProcessingCompleted was recorded for the head content. */
  readonly processingDone: boolean;
  readonly semver: SemVer;
  /** Highest permission per principal (the owner holds admin). */
  readonly access: SortedMap<Permission>;
  /** Every CID that has been the head, with its size: what rollbacks and tags may name. */
  readonly history: SortedMap<bigint>;
  readonly comments: SortedMap<true>;
  /** Version tag → CID. */
  readonly versionTags: SortedMap<string>;
  /** `<link type>:<target id>` of every link. */
  readonly links: SortedMap<true>;
  /** Times the document went under review: the round of its current or last review. */
  readonly reviewRound: number;
  /** The analyses recorded for the head content (keys of `analysisKey`). */
  readonly analysed: readonly string[];
}

/**
 * The document aggregate. Comments, grants, tags, links and the CID history
 * live in persistent sorted maps, so `evolve` costs O(log n) per event and
 * every state it has returned stays valid.
 */
export type DocumentState =
  | { readonly status: 'absent' }
  | (DocumentData & { readonly status: 'present' });

/** A document that exists. */
export type PresentDocument = Exclude<
  DocumentState,
  { readonly status: 'absent' }
>;

const ABSENT: DocumentState = { status: 'absent' };

/** The state before the first event. */
export const initialState = (): DocumentState => ABSENT;

/** The key of a link in DocumentData.links. */
export const linkKey = (linkType: number, targetId: string): string =>
  `${linkType}:${targetId}`;

/** The empty persistent maps a new document starts with. */
export function emptyCollections(): Pick<
  DocumentData,
  'access' | 'history' | 'comments' | 'versionTags' | 'links'
> {
  return {
    access: SortedMap.empty(),
    history: SortedMap.empty(),
    comments: SortedMap.empty(),
    versionTags: SortedMap.empty(),
    links: SortedMap.empty(),
  };
}

/**
 * Restores a state from its structured clone (the runtime's node:v8
 * snapshots keep plain data but not the SortedMap class); pass it to
 * defineService as `revive.state`. O(1) per map.
 */
export function reviveDocumentState(cloned: unknown): DocumentState {
  const state = cloned as DocumentState;
  if (state.status === 'absent') return state;
  return {
    ...state,
    access: SortedMap.revive<Permission>(state.access),
    history: SortedMap.revive<bigint>(state.history),
    comments: SortedMap.revive<true>(state.comments),
    versionTags: SortedMap.revive<string>(state.versionTags),
    links: SortedMap.revive<true>(state.links),
  };
}
