import {
  ContentState,
  DocumentStatus,
  LinkType,
  Partition,
  Permission,
  type DocumentContentIngested,
  type DocumentCreatedFromCid,
  type DocumentEvent,
  type DocumentMetadataUpdated,
  type DocumentShared,
  type ProcessingStage,
  type SemanticVersion,
} from '@cim/proto/cim/document/v1/document_pb';
import { analysisKey } from './analysis.js';
import { includes, type SemVer } from './rules.js';
import {
  emptyCollections,
  linkKey,
  type DocumentState,
  type PresentDocument,
} from './state.js';

/**
 * Folds one event into the state. Total and non-throwing: an event that does
 * not fit the state (which `decide` never produces) or comes from a newer
 * schema leaves the state unchanged.
 */
export function evolve(
  state: DocumentState,
  { body }: DocumentEvent,
): DocumentState {
  if (body.case === 'contentIngested' || body.case === 'createdFromCid') {
    return state.status === 'absent' ? created(body.value) : state;
  }
  if (state.status === 'absent') return state;
  switch (body.case) {
    case 'processingStarted':
      return state.contentState === ContentState.STAGED
        ? { ...state, contentState: ContentState.PROCESSING }
        : state;
    case 'processingStageCompleted':
      return stageCompleted(state, body.value.stage, body.value.passed);
    case 'processingCompleted':
      return { ...state, processingDone: true };
    case 'contentPromoted':
      return {
        ...state,
        contentState: ContentState.PROMOTED,
        partition: body.value.to,
      };
    case 'contentQuarantined':
      return { ...state, contentState: ContentState.QUARANTINED };
    case 'contentReleased':
      return { ...state, ...freshContent() };
    case 'metadataUpdated':
      return metadataUpdated(state, body.value);
    case 'successorCreated':
      return newHead(
        state,
        body.value.successorCid,
        body.value.sizeBytes,
        body.value.version,
      );
    case 'edited':
      // The DocumentSuccessorCreated before it moved the head.
      return state;
    case 'editsMerged':
      return body.value.resultCid === state.headCid
        ? state
        : newHead(
            state,
            body.value.resultCid,
            body.value.sizeBytes,
            body.value.version,
          );
    case 'rolledBack':
      return newHead(
        state,
        body.value.toCid,
        body.value.sizeBytes,
        body.value.version,
      );
    case 'stateChanged':
      return lifecycle(state, body.value.to);
    case 'shared':
      return shared(state, body.value);
    case 'commentAdded':
      return {
        ...state,
        comments: state.comments.set(body.value.commentId, true),
      };
    case 'versionTagged':
      return {
        ...state,
        versionTags: state.versionTags.set(
          body.value.tag,
          body.value.contentCid,
        ),
      };
    case 'linked':
      return {
        ...state,
        links: state.links.set(
          linkKey(body.value.linkType, body.value.targetId),
          true,
        ),
      };
    case 'archived':
      return lifecycle(state, DocumentStatus.ARCHIVED);
    case 'forked':
      // The fork is a document of its own, created by the fork reaction.
      return state;
    case 'entitiesExtracted':
      return analysed(state, body.value.contentCid, analysisKey.entities());
    case 'summaryGenerated':
      return analysed(
        state,
        body.value.contentCid,
        analysisKey.summary(body.value.maxSentences),
      );
    case 'classified':
      return analysed(
        state,
        body.value.contentCid,
        analysisKey.classification(),
      );
    case undefined:
      return state; // written by a newer schema: folding never fails
  }
}

function created(
  value: DocumentContentIngested | DocumentCreatedFromCid,
): DocumentState {
  const empty = emptyCollections();
  const forkedFrom =
    value.$typeName === 'cim.document.v1.DocumentCreatedFromCid'
      ? value.forkedFrom
      : undefined;
  return {
    status: 'present',
    documentId: value.documentId,
    lifecycle: DocumentStatus.DRAFT,
    title: value.title,
    description: value.description,
    documentType: value.documentType,
    mimeType: value.mimeType,
    filename: value.filename,
    language: value.language,
    tags: value.tags,
    confidentiality: value.confidentiality,
    owner: value.owner,
    headCid: value.contentCid,
    headSize: value.sizeBytes,
    ...freshContent(),
    processing: {
      scan: value.processing?.scan ?? false,
      validate: value.processing?.validate ?? false,
      autoPromote: value.processing?.autoPromote ?? false,
    },
    semver: { major: 1, minor: 0, patch: 0 },
    reviewRound: 0,
    analysed: [],
    ...empty,
    access: empty.access.set(value.owner, Permission.ADMIN),
    history: empty.history.set(value.contentCid, value.sizeBytes),
    links:
      forkedFrom === undefined
        ? empty.links
        : empty.links.set(
            linkKey(LinkType.DERIVED_FROM, forkedFrom.documentId),
            true,
          ),
  };
}

/** What new head content starts with: staged, no stage results. */
function freshContent() {
  return {
    contentState: ContentState.STAGED,
    partition: Partition.STAGING,
    stages: [],
    processingDone: false,
  } as const;
}

function stageCompleted(
  state: PresentDocument,
  stage: ProcessingStage,
  passed: boolean,
): DocumentState {
  return {
    ...state,
    contentState:
      state.contentState === ContentState.STAGED
        ? ContentState.PROCESSING
        : state.contentState,
    stages: [
      ...state.stages.filter((s) => s.stage !== stage),
      { stage, passed },
    ],
  };
}

function metadataUpdated(
  state: PresentDocument,
  update: DocumentMetadataUpdated,
): DocumentState {
  return { ...state, ...metadataChanges(update) };
}

/** The fields a metadata update sets (only those it carries), for the decider's state and the read model alike. */
export function metadataChanges(update: DocumentMetadataUpdated) {
  return {
    ...(update.title !== undefined && { title: update.title }),
    ...(update.description !== undefined && {
      description: update.description,
    }),
    ...(update.documentType !== undefined && {
      documentType: update.documentType,
    }),
    ...(update.filename !== undefined && { filename: update.filename }),
    ...(update.language !== undefined && { language: update.language }),
    ...(update.tags !== undefined && { tags: update.tags.values }),
    ...(update.confidentiality !== undefined && {
      confidentiality: update.confidentiality,
    }),
  };
}

function semverOf(
  version: SemanticVersion | undefined,
  fallback: SemVer,
): SemVer {
  return version === undefined
    ? fallback
    : { major: version.major, minor: version.minor, patch: version.patch };
}

function newHead(
  state: PresentDocument,
  cid: string,
  sizeBytes: bigint,
  version: SemanticVersion | undefined,
): DocumentState {
  return {
    ...state,
    headCid: cid,
    headSize: sizeBytes,
    history: state.history.set(cid, sizeBytes),
    semver: semverOf(version, state.semver),
    analysed: [],
    ...freshContent(),
  };
}

/** Records an analysis of the head; one of an earlier head changes nothing. */
function analysed(
  state: PresentDocument,
  contentCid: string,
  key: string,
): DocumentState {
  if (contentCid !== state.headCid || state.analysed.includes(key)) {
    return state;
  }
  return { ...state, analysed: [...state.analysed, key] };
}

function lifecycle(state: PresentDocument, to: DocumentStatus): DocumentState {
  if (state.lifecycle === DocumentStatus.ARCHIVED) return state;
  if (DocumentStatus[to] === undefined || to === DocumentStatus.UNSPECIFIED)
    return state;
  return {
    ...state,
    lifecycle: to,
    ...(to === DocumentStatus.ARCHIVED && { partition: Partition.ARCHIVE }),
    // Every move to under review opens the next review round.
    ...(to === DocumentStatus.UNDER_REVIEW &&
      state.lifecycle !== DocumentStatus.UNDER_REVIEW && {
        reviewRound: state.reviewRound + 1,
      }),
  };
}

function shared(
  state: PresentDocument,
  { principals, permission }: DocumentShared,
): DocumentState {
  let access = state.access;
  for (const principal of principals) {
    if (!includes(access.get(principal), permission)) {
      access = access.set(principal, permission);
    }
  }
  return { ...state, access };
}
