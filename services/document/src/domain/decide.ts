import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DomainError,
  ErrorCode,
  invalid,
  limitText,
  requireId,
  requireText,
  show,
  validateTags,
  notFound,
} from '@cim/kernel';
import {
  Confidentiality,
  ContentState,
  DocumentEventSchema,
  DocumentStatus,
  LinkType,
  MergeStrategy,
  Partition,
  Permission,
  ProcessingStage,
  type AddComment,
  type ArchiveDocument,
  type ChangeDocumentState,
  type ClassifyDocument,
  type ContentAnalysis,
  type CreateDocumentFromCid,
  type DocumentCommand,
  type DocumentEvent,
  type EditDocument,
  type ExtractEntities,
  type ForkDocument,
  type GenerateSummary,
  type IngestDocumentContent,
  type LinkDocuments,
  type MergeDocumentEdits,
  type ProcessingOptions,
  type PromoteDocumentContent,
  type QuarantineDocumentContent,
  type RecordProcessingStage,
  type ReleaseDocumentContent,
  type RollbackDocument,
  type ShareDocument,
  type StoredContent,
  type TagVersion,
  type UpdateDocumentMetadata,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  EVERYONE,
  LIMITS,
  SERVICE_ACTOR,
  TRANSITIONS,
  bumpOf,
  bumped,
  confidentialityOf,
  documentTypeOf,
  everyoneMayBeGranted,
  includes,
  isTextualMimeType,
  mimeTypeOf,
  parseReviewWorkflowId,
  requireContentCid,
  requireEnum,
  requiredStages,
  storedEntry,
  termsFor,
  validateLanguage,
  validateTexts,
  type ProcessingOptionsLike,
  type SemVer,
} from './rules.js';
import {
  analysisKey,
  checkClassification,
  checkEntities,
  checkSummary,
  summaryLength,
  withMimeRule,
} from './analysis.js';
import { linkKey, type DocumentState, type PresentDocument } from './state.js';

type EventBody = NonNullable<
  MessageInitShape<typeof DocumentEventSchema>['body']
>;

const event = (body: EventBody): DocumentEvent =>
  create(DocumentEventSchema, { body });

/** Who issued the command (CommandMeta.actor). */
interface Issuer {
  readonly actor: string;
  readonly commandId: string;
}

/**
 * Decides the events for a command, or throws DomainError. Checks run in a
 * fixed order: the command's own fields (VALIDATION_FAILED), then the
 * document's existence and status (NOT_FOUND, ALREADY_EXISTS,
 * INVALID_TRANSITION), then the caller's permission (UNAUTHORIZED), then
 * what the command names (CONCURRENCY_CONFLICT for a stale head, NOT_FOUND,
 * ALREADY_EXISTS), then the remaining rules (BUSINESS_RULE_VIOLATION).
 * Content CIDs count as stored only when the service's prepare step found
 * them in the object store and said so in the command's `stored` entries.
 */
export function decide(
  command: DocumentCommand,
  state: DocumentState,
): DocumentEvent[] {
  const { body } = command;
  const issuer: Issuer = {
    actor: command.meta?.actor ?? '',
    commandId: command.meta?.commandId ?? '',
  };
  switch (body.case) {
    case 'ingest':
      return ingest(body.value, state, issuer);
    case 'createFromCid':
      return createFromCid(body.value, state, issuer);
    case 'recordProcessingStage':
      return recordProcessingStage(body.value, state);
    case 'promote':
      return [promote(body.value, state)];
    case 'quarantine':
      return [quarantine(body.value, state)];
    case 'release':
      return [release(body.value, state)];
    case 'updateMetadata':
      return [updateMetadata(body.value, state)];
    case 'edit':
      return edit(body.value, state, issuer);
    case 'merge':
      return [merge(body.value, state, issuer)];
    case 'rollback':
      return [rollback(body.value, state, issuer)];
    case 'changeState':
      return [changeState(body.value, state, issuer)];
    case 'share':
      return [share(body.value, state, issuer)];
    case 'addComment':
      return [addComment(body.value, state, issuer)];
    case 'tagVersion':
      return [tagVersion(body.value, state)];
    case 'link':
      return [link(body.value, state)];
    case 'archive':
      return [archive(body.value, state)];
    case 'fork':
      return [fork(body.value, state, issuer)];
    case 'extractEntities':
      return [extractEntities(body.value, state)];
    case 'generateSummary':
      return [generateSummary(body.value, state)];
    case 'classify':
      return [classify(body.value, state)];
    case undefined:
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'command has no body');
  }
}

function existing(state: DocumentState, documentId: string): PresentDocument {
  if (state.status === 'absent') {
    notFound(`document ${show(documentId)} not found`);
  }
  return state;
}

/** A document that still accepts commands: archived is terminal. */
function live(state: DocumentState, documentId: string): PresentDocument {
  const document = existing(state, documentId);
  if (document.lifecycle === DocumentStatus.ARCHIVED) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `document ${show(documentId)} is archived and accepts no changes`,
    );
  }
  return document;
}

function absent(state: DocumentState, documentId: string): void {
  if (state.status !== 'absent') {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `document ${show(documentId)} already exists`,
    );
  }
}

function requirePermission(
  document: PresentDocument,
  actor: string,
  needed: Permission,
  action: string,
): void {
  const held = document.access.get(actor);
  const everyone = document.access.get(EVERYONE);
  if (!includes(held, needed) && !includes(everyone, needed)) {
    throw new DomainError(
      ErrorCode.UNAUTHORIZED,
      `${show(actor)} needs ${Permission[needed]} on document ${show(document.documentId)} to ${action}`,
    );
  }
}

function storedOrMissing(
  stored: readonly StoredContent[],
  cid: string,
  field: string,
): bigint {
  const entry = storedEntry(stored, cid);
  if (entry === undefined) {
    notFound(`${field} ${show(cid)} is not in the content store`);
  }
  return entry.sizeBytes;
}

function idOrDerived(id: string, commandId: string, field: string): string {
  const chosen = id !== '' ? id : commandId;
  if (chosen === '') {
    invalid(`${field} is required when the command has no command id`);
  }
  requireId(chosen, field);
  return chosen;
}

function processingOf(
  options: ProcessingOptions | undefined,
): ProcessingOptionsLike {
  return {
    scan: options?.scan ?? false,
    validate: options?.validate ?? false,
    autoPromote: options?.autoPromote ?? false,
  };
}

function semverInit(version: SemVer) {
  return { major: version.major, minor: version.minor, patch: version.patch };
}

/** Promotion that follows creation at once when nothing needs checking first. */
function promotedAtOnce(
  documentId: string,
  contentCid: string,
  processing: ProcessingOptionsLike,
): DocumentEvent[] {
  if (!processing.autoPromote || requiredStages(processing).length > 0)
    return [];
  return [
    event({
      case: 'contentPromoted',
      value: {
        documentId,
        contentCid,
        from: Partition.STAGING,
        to: Partition.AGGREGATE,
        reason: 'auto-promoted: no processing stage required',
      },
    }),
  ];
}

function ingest(
  command: IngestDocumentContent,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent[] {
  const { documentId, content, stored, hints } = command;
  requireId(documentId, 'document_id');
  if (content.length > 0) {
    invalid(
      'content reached the decider as bytes: it must be stored and replaced by its CID first',
    );
  }
  const [entry] = stored;
  if (entry === undefined || stored.length !== 1 || !entry.present) {
    invalid('content was not stored');
  }
  requireContentCid(entry.contentCid, 'content_cid');
  if (entry.sizeBytes === 0n) invalid('content must not be empty');
  const filename = hints?.filename ?? '';
  const title = hints?.title || filename;
  limitText(title, 'hints.title', LIMITS.title);
  limitText(filename, 'hints.filename', LIMITS.filename);
  const mimeType = mimeTypeOf(hints?.mimeType ?? '', 'hints.mime_type');
  const language = hints?.language ?? '';
  validateLanguage(language, 'hints.language');
  const description = hints?.description ?? '';
  limitText(description, 'hints.description', LIMITS.description);
  const tags = hints?.tags ?? [];
  validateTags(tags, 'hints.tags', LIMITS);
  const documentType = documentTypeOf(hints?.documentType ?? 0);
  const confidentiality = confidentialityOf(command.confidentiality);
  absent(state, documentId);
  const processing = processingOf(command.processing);
  const text = termsFor(stored, entry.contentCid, mimeType);
  return [
    event({
      case: 'contentIngested',
      value: {
        documentId,
        contentCid: entry.contentCid,
        sizeBytes: entry.sizeBytes,
        mimeType,
        partition: Partition.STAGING,
        title,
        filename,
        documentType,
        language,
        description,
        tags: [...tags],
        confidentiality,
        processing,
        owner: actor,
        ...(text && { text }),
      },
    }),
    ...promotedAtOnce(documentId, entry.contentCid, processing),
  ];
}

function createFromCid(
  command: CreateDocumentFromCid,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent[] {
  const { documentId, contentCid, title, tags, forkedFrom } = command;
  requireId(documentId, 'document_id');
  requireContentCid(contentCid, 'content_cid');
  requireText(title, 'title', LIMITS.title);
  validateTags(tags, 'tags', LIMITS);
  limitText(command.description, 'description', LIMITS.description);
  limitText(command.filename, 'filename', LIMITS.filename);
  const mimeType = mimeTypeOf(command.mimeType);
  validateLanguage(command.language);
  const documentType = documentTypeOf(command.documentType);
  const confidentiality = confidentialityOf(command.confidentiality);
  if (forkedFrom !== undefined) {
    requireId(forkedFrom.documentId, 'forked_from.document_id');
    requireContentCid(forkedFrom.contentCid, 'forked_from.content_cid');
    requireText(forkedFrom.forkedBy, 'forked_from.forked_by', LIMITS.principal);
  }
  absent(state, documentId);
  if (forkedFrom !== undefined && actor !== SERVICE_ACTOR) {
    throw new DomainError(
      ErrorCode.UNAUTHORIZED,
      'forked_from is set by the document service only; use ForkDocument',
    );
  }
  const sizeBytes = storedOrMissing(command.stored, contentCid, 'content_cid');
  const processing = processingOf(command.processing);
  const text = termsFor(command.stored, contentCid, mimeType);
  return [
    event({
      case: 'createdFromCid',
      value: {
        documentId,
        contentCid,
        sizeBytes,
        mimeType,
        partition: Partition.STAGING,
        title,
        filename: command.filename,
        documentType,
        language: command.language,
        description: command.description,
        tags: [...tags],
        confidentiality,
        processing,
        owner: forkedFrom?.forkedBy ?? actor,
        ...(forkedFrom && {
          forkedFrom: {
            documentId: forkedFrom.documentId,
            contentCid: forkedFrom.contentCid,
            forkedBy: forkedFrom.forkedBy,
          },
        }),
        ...(text && { text }),
      },
    }),
    ...promotedAtOnce(documentId, contentCid, processing),
  ];
}

function recordProcessingStage(
  command: RecordProcessingStage,
  state: DocumentState,
): DocumentEvent[] {
  const { documentId, passed, details, threats } = command;
  requireId(documentId, 'document_id');
  const stage = requireEnum(command.stage, ProcessingStage, 'stage');
  limitText(details, 'details', LIMITS.details);
  validateTexts(threats, 'threats', LIMITS.threat, LIMITS.threats);
  const document = live(state, documentId);
  if (
    document.contentState !== ContentState.STAGED &&
    document.contentState !== ContentState.PROCESSING
  ) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `content of document ${show(documentId)} is ${ContentState[document.contentState]}, not staged`,
    );
  }
  if (document.stages.some((s) => s.stage === stage)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `stage ${ProcessingStage[stage]} is already recorded for ${show(document.headCid)}`,
    );
  }
  const contentCid = document.headCid;
  const events: DocumentEvent[] = [];
  if (document.contentState === ContentState.STAGED) {
    events.push(
      event({ case: 'processingStarted', value: { documentId, contentCid } }),
    );
  }
  events.push(
    event({
      case: 'processingStageCompleted',
      value: {
        documentId,
        contentCid,
        stage,
        passed,
        details,
        threats: [...threats],
      },
    }),
  );
  const outcomes = [...document.stages, { stage, passed }];
  const required = requiredStages(document.processing);
  const completes =
    !document.processingDone &&
    required.length > 0 &&
    required.every((r) => outcomes.some((o) => o.stage === r));
  const allPassed = required.every((r) =>
    outcomes.some((o) => o.stage === r && o.passed),
  );
  if (completes) {
    events.push(
      event({
        case: 'processingCompleted',
        value: { documentId, contentCid, passed: allPassed },
      }),
    );
  }
  if (stage === ProcessingStage.VIRUS_SCAN && !passed) {
    events.push(
      event({
        case: 'contentQuarantined',
        value: {
          documentId,
          contentCid,
          reason: 'virus scan failed',
          threats: [...threats],
        },
      }),
    );
  } else if (completes && allPassed && document.processing.autoPromote) {
    events.push(
      event({
        case: 'contentPromoted',
        value: {
          documentId,
          contentCid,
          from: Partition.STAGING,
          to: Partition.AGGREGATE,
          reason: 'auto-promoted: every required stage passed',
        },
      }),
    );
  }
  return events;
}

function promote(
  { documentId, from, to, reason }: PromoteDocumentContent,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  if (from !== Partition.UNSPECIFIED && from !== Partition.STAGING) {
    invalid(`from must be STAGING, got ${Partition[from] ?? from}`);
  }
  if (to !== Partition.UNSPECIFIED && to !== Partition.AGGREGATE) {
    invalid(`to must be AGGREGATE, got ${Partition[to] ?? to}`);
  }
  limitText(reason, 'reason', LIMITS.reason);
  const document = live(state, documentId);
  if (
    document.contentState === ContentState.QUARANTINED ||
    document.contentState === ContentState.PROMOTED
  ) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `content of document ${show(documentId)} is ${ContentState[document.contentState]}`,
    );
  }
  for (const stage of requiredStages(document.processing)) {
    const outcome = document.stages.find((s) => s.stage === stage);
    if (outcome === undefined || !outcome.passed) {
      throw new DomainError(
        ErrorCode.BUSINESS_RULE_VIOLATION,
        `required stage ${ProcessingStage[stage]} ${outcome === undefined ? 'has no result' : 'failed'} for ${show(document.headCid)}`,
      );
    }
  }
  return event({
    case: 'contentPromoted',
    value: {
      documentId,
      contentCid: document.headCid,
      from: Partition.STAGING,
      to: Partition.AGGREGATE,
      reason,
    },
  });
}

function quarantine(
  { documentId, reason, threats }: QuarantineDocumentContent,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  requireText(reason, 'reason', LIMITS.reason);
  validateTexts(threats, 'threats', LIMITS.threat, LIMITS.threats);
  const document = live(state, documentId);
  if (document.contentState === ContentState.QUARANTINED) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `content of document ${show(documentId)} is already quarantined`,
    );
  }
  return event({
    case: 'contentQuarantined',
    value: {
      documentId,
      contentCid: document.headCid,
      reason,
      threats: [...threats],
    },
  });
}

function release(
  { documentId, reason }: ReleaseDocumentContent,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  requireText(reason, 'reason', LIMITS.reason);
  const document = live(state, documentId);
  if (document.contentState !== ContentState.QUARANTINED) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `content of document ${show(documentId)} is not quarantined`,
    );
  }
  return event({
    case: 'contentReleased',
    value: { documentId, contentCid: document.headCid, reason },
  });
}

function updateMetadata(
  command: UpdateDocumentMetadata,
  state: DocumentState,
): DocumentEvent {
  const { documentId, title, description, filename, language, tags, custom } =
    command;
  requireId(documentId, 'document_id');
  if (
    title === undefined &&
    description === undefined &&
    command.documentType === undefined &&
    filename === undefined &&
    language === undefined &&
    tags === undefined &&
    custom === undefined &&
    command.confidentiality === undefined
  ) {
    invalid(
      'UpdateDocumentMetadata must set at least one of title, description, document_type, filename, language, tags, custom, confidentiality',
    );
  }
  if (title !== undefined) requireText(title, 'title', LIMITS.title);
  if (description !== undefined)
    limitText(description, 'description', LIMITS.description);
  if (filename !== undefined) limitText(filename, 'filename', LIMITS.filename);
  if (language !== undefined) validateLanguage(language);
  if (tags !== undefined) validateTags(tags.values, 'tags', LIMITS);
  const documentType =
    command.documentType === undefined
      ? undefined
      : documentTypeOf(command.documentType);
  const confidentiality =
    command.confidentiality === undefined
      ? undefined
      : confidentialityOf(command.confidentiality);
  live(state, documentId);
  return event({
    case: 'metadataUpdated',
    value: {
      documentId,
      ...(title !== undefined && { title }),
      ...(description !== undefined && { description }),
      ...(documentType !== undefined && { documentType }),
      ...(filename !== undefined && { filename }),
      ...(language !== undefined && { language }),
      ...(tags && { tags: { values: [...tags.values] } }),
      ...(custom && { custom }),
      ...(confidentiality !== undefined && { confidentiality }),
    },
  });
}

function requireHead(document: PresentDocument, expectedHeadCid: string): void {
  if (document.headCid !== expectedHeadCid) {
    throw new DomainError(
      ErrorCode.CONCURRENCY_CONFLICT,
      `the head of document ${show(document.documentId)} is ${show(document.headCid)}, not ${show(expectedHeadCid)}`,
      { details: { expected: expectedHeadCid, current: document.headCid } },
    );
  }
}

function edit(
  command: EditDocument,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent[] {
  const { documentId, expectedHeadCid, successorCid, stored } = command;
  const change = command.edit;
  requireId(documentId, 'document_id');
  requireContentCid(expectedHeadCid, 'expected_head_cid');
  requireContentCid(successorCid, 'successor_cid');
  if (successorCid === expectedHeadCid) {
    invalid('successor_cid must differ from expected_head_cid');
  }
  if (change.case === undefined) {
    invalid('edit must be one of direct, patch, structured');
  }
  if (change.case === 'patch') {
    requireContentCid(change.value.patchCid, 'patch.patch_cid');
    requireText(change.value.format, 'patch.format', LIMITS.format);
  }
  const bump = bumpOf(command.bump);
  const document = live(state, documentId);
  requirePermission(document, actor, Permission.WRITE, 'edit it');
  requireHead(document, expectedHeadCid);
  const sizeBytes = storedOrMissing(stored, successorCid, 'successor_cid');
  if (change.case === 'patch') {
    storedOrMissing(stored, change.value.patchCid, 'patch.patch_cid');
  }
  const text = termsFor(stored, successorCid, document.mimeType);
  return [
    event({
      case: 'successorCreated',
      value: {
        documentId,
        predecessorCid: expectedHeadCid,
        successorCid,
        sizeBytes,
        editedBy: actor,
        version: semverInit(bumped(document.semver, bump)),
        ...(text && { text }),
      },
    }),
    event({
      case: 'edited',
      value: { documentId, successorCid, edit: change },
    }),
  ];
}

function merge(
  command: MergeDocumentEdits,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent {
  const { documentId, expectedHeadCid, theirsCid, baseCid, stored } = command;
  requireId(documentId, 'document_id');
  requireContentCid(expectedHeadCid, 'expected_head_cid');
  requireContentCid(theirsCid, 'theirs_cid');
  const strategy = requireEnum(command.strategy, MergeStrategy, 'strategy');
  if (baseCid !== '') requireContentCid(baseCid, 'base_cid');
  if (command.resultCid !== '')
    requireContentCid(command.resultCid, 'result_cid');
  validateTexts(
    command.unresolvedConflicts,
    'unresolved_conflicts',
    LIMITS.conflict,
    LIMITS.conflicts,
  );
  const resultCid = mergeResult(command, strategy);
  const bump = bumpOf(command.bump);
  const document = live(state, documentId);
  requirePermission(document, actor, Permission.WRITE, 'merge into it');
  requireHead(document, expectedHeadCid);
  if (theirsCid === document.headCid) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `theirs_cid ${show(theirsCid)} is already the head: nothing to merge`,
    );
  }
  storedOrMissing(stored, theirsCid, 'theirs_cid');
  if (baseCid !== '') storedOrMissing(stored, baseCid, 'base_cid');
  const sizeBytes =
    resultCid === document.headCid
      ? document.headSize
      : storedOrMissing(stored, resultCid, 'result_cid');
  if (command.unresolvedConflicts.length > 0) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `the merge has ${command.unresolvedConflicts.length} unresolved conflict(s)`,
    );
  }
  const version =
    resultCid === document.headCid
      ? document.semver
      : bumped(document.semver, bump);
  const text =
    resultCid === document.headCid
      ? undefined
      : termsFor(stored, resultCid, document.mimeType);
  return event({
    case: 'editsMerged',
    value: {
      documentId,
      strategy,
      oursCid: document.headCid,
      theirsCid,
      baseCid,
      resultCid,
      sizeBytes,
      mergedBy: actor,
      version: semverInit(version),
      ...(text && { text }),
    },
  });
}

/** The head a merge leaves, by strategy; VALIDATION_FAILED when the fields do not fit it. */
function mergeResult(
  { expectedHeadCid, theirsCid, baseCid, resultCid }: MergeDocumentEdits,
  strategy: MergeStrategy,
): string {
  switch (strategy) {
    case MergeStrategy.OURS:
      if (resultCid !== '' && resultCid !== expectedHeadCid) {
        invalid(
          'an OURS merge keeps the head: result_cid must be empty or the head',
        );
      }
      return expectedHeadCid;
    case MergeStrategy.THEIRS:
      if (resultCid !== '' && resultCid !== theirsCid) {
        invalid(
          'a THEIRS merge takes theirs_cid: result_cid must be empty or theirs_cid',
        );
      }
      return theirsCid;
    case MergeStrategy.THREE_WAY:
      if (baseCid === '') invalid('a THREE_WAY merge needs base_cid');
      if (resultCid === '') invalid('a THREE_WAY merge needs result_cid');
      return resultCid;
    case MergeStrategy.MANUAL:
      if (resultCid === '') invalid('a MANUAL merge needs result_cid');
      return resultCid;
    default:
      return invalid(`strategy ${strategy} is not a known merge strategy`);
  }
}

function rollback(
  { documentId, targetCid, bump: requested, stored }: RollbackDocument,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent {
  requireId(documentId, 'document_id');
  requireContentCid(targetCid, 'target_cid');
  const bump = bumpOf(requested);
  const document = live(state, documentId);
  requirePermission(document, actor, Permission.WRITE, 'roll it back');
  const sizeBytes = document.history.get(targetCid);
  if (sizeBytes === undefined) {
    notFound(
      `target_cid ${show(targetCid)} is not in the history of document ${show(documentId)}`,
    );
  }
  if (targetCid === document.headCid) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `target_cid ${show(targetCid)} is already the head`,
    );
  }
  const text = termsFor(stored, targetCid, document.mimeType);
  return event({
    case: 'rolledBack',
    value: {
      documentId,
      fromCid: document.headCid,
      toCid: targetCid,
      sizeBytes,
      rolledBackBy: actor,
      version: semverInit(bumped(document.semver, bump)),
      ...(text && { text }),
    },
  });
}

function changeState(
  { documentId, to: requested, reviewWorkflowId }: ChangeDocumentState,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent {
  requireId(documentId, 'document_id');
  const to = requireEnum(requested, DocumentStatus, 'to');
  const review =
    reviewWorkflowId === ''
      ? undefined
      : reviewOf(reviewWorkflowId, documentId, to);
  const document = live(state, documentId);
  if (review !== undefined && actor !== SERVICE_ACTOR) {
    throw new DomainError(
      ErrorCode.UNAUTHORIZED,
      'review_workflow_id is set by the document service only, when the review workflow ends',
    );
  }
  const from = document.lifecycle;
  if (!(TRANSITIONS[from] ?? []).includes(to)) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `document ${show(documentId)} cannot go from ${DocumentStatus[from]} to ${DocumentStatus[to]}`,
    );
  }
  if (review !== undefined && review.round !== document.reviewRound) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `workflow ${show(reviewWorkflowId)} reviewed round ${review.round} of document ${show(documentId)}, which is in round ${document.reviewRound}`,
    );
  }
  return event({
    case: 'stateChanged',
    value: { documentId, from, to, reviewWorkflowId },
  });
}

/** The round a review workflow names; VALIDATION_FAILED unless it reviews this document and ends the review. */
function reviewOf(
  reviewWorkflowId: string,
  documentId: string,
  to: DocumentStatus,
): { readonly round: number } {
  const review = parseReviewWorkflowId(reviewWorkflowId);
  if (review === undefined || review.documentId !== documentId) {
    invalid(
      `review_workflow_id must be review-<round>-${documentId}, got ${show(reviewWorkflowId)}`,
    );
  }
  if (to !== DocumentStatus.PUBLISHED && to !== DocumentStatus.REJECTED) {
    invalid(`a review ends PUBLISHED or REJECTED, not ${DocumentStatus[to]}`);
  }
  return review;
}

function share(
  { documentId, principals, permission: requested }: ShareDocument,
  state: DocumentState,
  { actor }: Issuer,
): DocumentEvent {
  requireId(documentId, 'document_id');
  if (principals.length === 0) invalid('principals must name at least one');
  validateTexts(
    principals,
    'principals',
    LIMITS.principal,
    LIMITS.principalsPerShare,
  );
  if (new Set(principals).size !== principals.length) {
    invalid('principals must be distinct');
  }
  const permission = requireEnum(requested, Permission, 'permission');
  const document = live(state, documentId);
  requirePermission(document, actor, Permission.ADMIN, 'share it');
  if (
    principals.includes(EVERYONE) &&
    !everyoneMayBeGranted(document.confidentiality)
  ) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `document ${show(documentId)} is ${Confidentiality[document.confidentiality]}: it cannot be shared with everyone`,
    );
  }
  const rising = principals.filter(
    (p) => !includes(document.access.get(p), permission),
  );
  if (rising.length === 0) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `every principal already holds ${Permission[permission]} on document ${show(documentId)}`,
    );
  }
  const added = rising.filter((p) => !document.access.has(p)).length;
  if (document.access.size + added > LIMITS.grants) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `document ${show(documentId)} may have at most ${LIMITS.grants} grants`,
    );
  }
  return event({
    case: 'shared',
    value: { documentId, principals: rising, permission, sharedBy: actor },
  });
}

function addComment(
  command: AddComment,
  state: DocumentState,
  { actor, commandId }: Issuer,
): DocumentEvent {
  const { documentId, content, blockId, parentId } = command;
  requireId(documentId, 'document_id');
  const commentId = idOrDerived(command.commentId, commandId, 'comment_id');
  requireText(content, 'content', LIMITS.comment);
  limitText(blockId, 'block_id', LIMITS.blockId);
  if (parentId !== '') requireId(parentId, 'parent_id');
  const document = live(state, documentId);
  if (document.comments.has(commentId)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `comment ${show(commentId)} already exists on document ${show(documentId)}`,
    );
  }
  if (parentId !== '' && !document.comments.has(parentId)) {
    notFound(
      `parent comment ${show(parentId)} not found on document ${show(documentId)}`,
    );
  }
  return event({
    case: 'commentAdded',
    value: { documentId, commentId, author: actor, content, blockId, parentId },
  });
}

function tagVersion(
  { documentId, tag, contentCid }: TagVersion,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  requireText(tag, 'tag', LIMITS.tag);
  if (contentCid !== '') requireContentCid(contentCid, 'content_cid');
  const document = live(state, documentId);
  const cid = contentCid === '' ? document.headCid : contentCid;
  if (document.versionTags.has(tag)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `tag ${show(tag)} already names a version of document ${show(documentId)}`,
    );
  }
  if (!document.history.has(cid)) {
    notFound(
      `content_cid ${show(cid)} is not in the history of document ${show(documentId)}`,
    );
  }
  if (document.versionTags.size >= LIMITS.versionTags) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `document ${show(documentId)} may have at most ${LIMITS.versionTags} version tags`,
    );
  }
  return event({
    case: 'versionTagged',
    value: { documentId, tag, contentCid: cid },
  });
}

function link(
  { documentId, targetId, linkType: requested }: LinkDocuments,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  requireId(targetId, 'target_id');
  const linkType = requireEnum(requested, LinkType, 'link_type');
  if (targetId === documentId) invalid('a document cannot link to itself');
  const document = live(state, documentId);
  if (document.links.has(linkKey(linkType, targetId))) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `document ${show(documentId)} already ${LinkType[linkType]} ${show(targetId)}`,
    );
  }
  if (document.links.size >= LIMITS.links) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `document ${show(documentId)} may have at most ${LIMITS.links} links`,
    );
  }
  return event({ case: 'linked', value: { documentId, targetId, linkType } });
}

function archive(
  { documentId, reason }: ArchiveDocument,
  state: DocumentState,
): DocumentEvent {
  requireId(documentId, 'document_id');
  limitText(reason, 'reason', LIMITS.reason);
  live(state, documentId);
  return event({ case: 'archived', value: { documentId, reason } });
}

function fork(
  command: ForkDocument,
  state: DocumentState,
  { actor, commandId }: Issuer,
): DocumentEvent {
  const { documentId } = command;
  requireId(documentId, 'document_id');
  const forkId = idOrDerived(command.forkId, commandId, 'fork_id');
  if (forkId === documentId) invalid('fork_id must differ from document_id');
  if (command.title !== '') requireText(command.title, 'title', LIMITS.title);
  const document = live(state, documentId);
  const title =
    command.title || document.title || `Fork of ${document.documentId}`;
  return event({
    case: 'forked',
    value: {
      documentId,
      forkId,
      contentCid: document.headCid,
      title,
      forkedBy: actor,
      description: document.description,
      documentType: document.documentType,
      mimeType: document.mimeType,
      filename: document.filename,
      language: document.language,
      tags: [...document.tags],
      confidentiality: document.confidentiality,
      processing: { ...document.processing },
    },
  });
}

/** The fields every analysis command carries. */
interface AnalysisCommand {
  readonly documentId: string;
  readonly contentCid: string;
  readonly analysis?: ContentAnalysis | undefined;
}

/**
 * The rules every analysis command shares: the head content, promoted, of a
 * live document with a textual MIME type, read by the service as text, and
 * not analysed this way yet. Returns the service's findings.
 */
function analysable(
  { documentId, contentCid, analysis }: AnalysisCommand,
  state: DocumentState,
  key: string,
): { document: PresentDocument; analysis: ContentAnalysis } {
  const document = live(state, documentId);
  if (document.contentState !== ContentState.PROMOTED) {
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `content of document ${show(documentId)} is ${ContentState[document.contentState]}, not promoted: promote it before analysing it`,
    );
  }
  requireHead(document, contentCid);
  if (
    analysis === undefined ||
    analysis.contentCid !== contentCid ||
    !analysis.present
  ) {
    notFound(`content_cid ${show(contentCid)} is not in the content store`);
  }
  if (!isTextualMimeType(document.mimeType) || !analysis.text) {
    throw new DomainError(
      ErrorCode.BUSINESS_RULE_VIOLATION,
      `document ${show(documentId)} is not text (${document.mimeType}${isTextualMimeType(document.mimeType) ? ', not UTF-8' : ''}): only text is analysed`,
    );
  }
  if (document.analysed.includes(key)) {
    throw new DomainError(
      ErrorCode.ALREADY_EXISTS,
      `content ${show(contentCid)} of document ${show(documentId)} already has this analysis`,
    );
  }
  return { document, analysis };
}

function requireAnalysisFields({ documentId, contentCid }: AnalysisCommand) {
  requireId(documentId, 'document_id');
  requireContentCid(contentCid, 'content_cid');
}

function extractEntities(
  command: ExtractEntities,
  state: DocumentState,
): DocumentEvent {
  requireAnalysisFields(command);
  const { analysis } = analysable(command, state, analysisKey.entities());
  return event({
    case: 'entitiesExtracted',
    value: {
      documentId: command.documentId,
      contentCid: command.contentCid,
      entities: checkEntities(analysis),
      entitiesTruncated: analysis.entitiesTruncated,
      contentTruncated: analysis.truncated,
    },
  });
}

function generateSummary(
  command: GenerateSummary,
  state: DocumentState,
): DocumentEvent {
  requireAnalysisFields(command);
  const maxSentences = summaryLength(command.maxSentences);
  const { analysis } = analysable(
    command,
    state,
    analysisKey.summary(maxSentences),
  );
  return event({
    case: 'summaryGenerated',
    value: {
      documentId: command.documentId,
      contentCid: command.contentCid,
      summary: checkSummary(command.contentCid, analysis.summary, maxSentences),
      maxSentences,
      contentTruncated: analysis.truncated,
    },
  });
}

function classify(
  command: ClassifyDocument,
  state: DocumentState,
): DocumentEvent {
  requireAnalysisFields(command);
  const { document, analysis } = analysable(
    command,
    state,
    analysisKey.classification(),
  );
  return event({
    case: 'classified',
    value: {
      documentId: command.documentId,
      contentCid: command.contentCid,
      classification: withMimeRule(
        document.mimeType,
        checkClassification(command.contentCid, analysis.classification),
      ),
      contentTruncated: analysis.truncated,
    },
  });
}
