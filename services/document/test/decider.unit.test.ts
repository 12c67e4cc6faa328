import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cim/kernel';
import {
  Confidentiality,
  ContentState,
  DocumentStatus,
  DocumentType,
  EntityKind,
  LinkType,
  MergeStrategy,
  Partition,
  Permission,
  ProcessingStage,
  VersionBump,
  type DocumentCommand,
} from '@cim/proto/cim/document/v1/document_pb';
import { deciderSpec } from '@cim/testing';
import { documentDecider } from '../src/domain/index.js';
import { SERVICE_ACTOR } from '../src/domain/rules.js';
import {
  analysis,
  CID_A,
  CID_B,
  CID_C,
  COMMAND_ID,
  DOC_ID,
  OWNER,
  STRANGER,
  cidOf,
  cmd,
  evt,
  stateOf,
  stored,
} from './fixtures.js';

const given = deciderSpec(documentDecider);

const { VIRUS_SCAN, FORMAT_VALIDATION, TEXT_EXTRACTION } = ProcessingStage;
const created = [evt.ingested()];
const scanned = [evt.ingested({ processing: { scan: true, validate: true } })];
const archived = [...created, evt.archived()];
const edited = [...created, evt.successorCreated(), evt.edited()];
const promoted = [...created, evt.promoted()];
const quarantined = [...created, evt.quarantined()];
const writer = 'user:bob';

/** One command of every kind that would change the default document. */
const changes: ReadonlyArray<readonly [string, DocumentCommand]> = [
  ['RecordProcessingStage', cmd.recordStage(VIRUS_SCAN)],
  ['PromoteDocumentContent', cmd.promote()],
  ['QuarantineDocumentContent', cmd.quarantine()],
  ['ReleaseDocumentContent', cmd.release()],
  ['UpdateDocumentMetadata', cmd.updateMetadata({ title: 'New' })],
  ['EditDocument', cmd.edit()],
  ['MergeDocumentEdits', cmd.merge()],
  ['RollbackDocument', cmd.rollback(CID_A)],
  ['ChangeDocumentState', cmd.changeState(DocumentStatus.UNDER_REVIEW)],
  ['ShareDocument', cmd.share([writer])],
  ['AddComment', cmd.addComment()],
  ['TagVersion', cmd.tagVersion()],
  ['LinkDocuments', cmd.link()],
  ['ArchiveDocument', cmd.archive()],
  ['ForkDocument', cmd.fork()],
  ['ExtractEntities', cmd.extractEntities()],
  ['GenerateSummary', cmd.generateSummary()],
  ['ClassifyDocument', cmd.classify()],
];

describe('document decider', () => {
  it('rejects a command without a body with VALIDATION_FAILED', () => {
    given([])
      .when(cmd.empty())
      .thenRejects(ErrorCode.VALIDATION_FAILED, /no body/);
  });

  describe('when the document does not exist', () => {
    it.each(changes)('rejects %s with NOT_FOUND', (_name, command) => {
      given([]).when(command).thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('when the document is archived', () => {
    it.each(changes)('rejects %s with INVALID_TRANSITION', (_name, command) => {
      given(archived)
        .when(command)
        .thenRejects(ErrorCode.INVALID_TRANSITION, /archived/);
    });
    it('rejects IngestDocumentContent with ALREADY_EXISTS', () => {
      given(archived).when(cmd.ingest()).thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('IngestDocumentContent', () => {
    it('creates a draft document whose head is the stored content', () => {
      given([]).when(cmd.ingest()).then([evt.ingested()]);
    });
    it('carries the hints, the processing options and the actor as owner', () => {
      given([])
        .when(
          cmd.ingest(
            {
              hints: {
                title: 'Q3',
                filename: 'q3.pdf',
                mimeType: 'application/pdf',
                documentType: DocumentType.REPORT,
                language: 'pt-BR',
                description: 'numbers',
                tags: ['finance'],
              },
              processing: { scan: true },
              confidentiality: Confidentiality.CONFIDENTIAL,
            },
            { actor: 'user:carol' },
          ),
        )
        .then([
          evt.ingested({
            title: 'Q3',
            filename: 'q3.pdf',
            mimeType: 'application/pdf',
            documentType: DocumentType.REPORT,
            language: 'pt-BR',
            description: 'numbers',
            tags: ['finance'],
            processing: { scan: true },
            confidentiality: Confidentiality.CONFIDENTIAL,
            owner: 'user:carol',
          }),
        ]);
    });
    it('titles the document after its filename and defaults mime type, type and confidentiality', () => {
      given([])
        .when(cmd.ingest({ hints: { filename: 'notes.txt' } }))
        .then([
          evt.ingested({
            title: 'notes.txt',
            filename: 'notes.txt',
            mimeType: 'application/octet-stream',
          }),
        ]);
    });
    it('promotes at once when auto_promote requires no stage', () => {
      given([])
        .when(cmd.ingest({ processing: { autoPromote: true } }))
        .then([
          evt.ingested({ processing: { autoPromote: true } }),
          evt.promoted('auto-promoted: no processing stage required'),
        ]);
    });
    it('waits for the stages when auto_promote requires some', () => {
      given([])
        .when(cmd.ingest({ processing: { autoPromote: true, scan: true } }))
        .then([
          evt.ingested({ processing: { autoPromote: true, scan: true } }),
        ]);
    });
    it('rejects bytes that were not replaced by their CID with VALIDATION_FAILED', () => {
      given([])
        .when(cmd.ingest({ content: Uint8Array.of(1, 2, 3) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /stored and replaced/);
    });
    it('rejects content the service did not store with VALIDATION_FAILED', () => {
      given([])
        .when(cmd.ingest({ stored: [] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /not stored/);
      given([])
        .when(cmd.ingest({ stored: [stored(CID_A, 9n, false)] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /not stored/);
    });
    it('rejects empty content with VALIDATION_FAILED', () => {
      given([])
        .when(cmd.ingest({ stored: [stored(CID_A, 0n)] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /empty/);
    });
    it('rejects a malformed stored CID with VALIDATION_FAILED', () => {
      given([])
        .when(cmd.ingest({ stored: [stored('Qmabc')] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /content_cid/);
    });
    it.each([
      ['a mime type without subtype', { mimeType: 'text' }, /mime_type/],
      ['a bad language', { language: 'english!' }, /language/],
      ['an overlong title', { title: 'x'.repeat(301) }, /at most 300/],
      ['a repeated tag', { tags: ['a', 'a'] }, /repeats/],
      [
        'an unknown type',
        { documentType: 99 as DocumentType },
        /document_type/,
      ],
    ])('rejects %s with VALIDATION_FAILED', (_case, hints, message) => {
      given([])
        .when(cmd.ingest({ hints }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it.each(['a.b', 'a b', 'x'.repeat(129)])(
      'rejects the document id %j with VALIDATION_FAILED',
      (documentId) => {
        given([])
          .when(cmd.ingest({ documentId }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /document_id/);
      },
    );
    it('rejects an existing id with ALREADY_EXISTS', () => {
      given(created).when(cmd.ingest()).thenRejects(ErrorCode.ALREADY_EXISTS);
    });
  });

  describe('CreateDocumentFromCid', () => {
    it('creates a draft document from stored content', () => {
      given([]).when(cmd.createFromCid()).then([evt.createdFromCid()]);
    });
    it('rejects a CID that is not stored with NOT_FOUND', () => {
      given([])
        .when(cmd.createFromCid({ stored: [stored(CID_A, 0n, false)] }))
        .thenRejects(ErrorCode.NOT_FOUND, /not in the content store/);
      given([])
        .when(cmd.createFromCid({ stored: [] }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it.each([
      'QmYjtig7VJQ6XsnUjqqJvj7QaMcCAwtrgNdahSiFofrE7o',
      CID_A.toUpperCase(),
      CID_A.slice(0, -1),
      cidOf('x').replace(/^b/, 'z'),
      '',
    ])('rejects the content id %j with VALIDATION_FAILED', (contentCid) => {
      given([])
        .when(cmd.createFromCid({ contentCid }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /content_cid/);
    });
    it('rejects a blank title with VALIDATION_FAILED', () => {
      given([])
        .when(cmd.createFromCid({ title: ' ' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /title/);
    });
    it('rejects an existing id with ALREADY_EXISTS', () => {
      given(created)
        .when(cmd.createFromCid())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects forked_from from a client with UNAUTHORIZED', () => {
      given([])
        .when(
          cmd.createFromCid({
            forkedFrom: {
              documentId: 'src',
              contentCid: CID_A,
              forkedBy: OWNER,
            },
          }),
        )
        .thenRejects(ErrorCode.UNAUTHORIZED, /forked_from/);
    });
    it('creates a fork owned by whoever forked when the document service sends it', () => {
      const forkedFrom = {
        documentId: 'src',
        contentCid: CID_A,
        forkedBy: 'user:dave',
      };
      given([])
        .when(cmd.createFromCid({ forkedFrom }, { actor: 'service:document' }))
        .then([evt.createdFromCid({ forkedFrom, owner: 'user:dave' })]);
    });
  });

  describe('RecordProcessingStage', () => {
    it('starts processing with the first stage of staged content', () => {
      given(created)
        .when(cmd.recordStage(TEXT_EXTRACTION, true, { details: '12 pages' }))
        .then([
          evt.processingStarted(),
          evt.stageCompleted(TEXT_EXTRACTION, true, { details: '12 pages' }),
        ]);
    });
    it('records a later stage without starting again', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
      ])
        .when(cmd.recordStage(TEXT_EXTRACTION))
        .then([evt.stageCompleted(TEXT_EXTRACTION)]);
    });
    it('completes processing when every required stage has a result', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
      ])
        .when(cmd.recordStage(FORMAT_VALIDATION))
        .then([
          evt.stageCompleted(FORMAT_VALIDATION),
          evt.processingCompleted(),
        ]);
    });
    it('completes as failed when a required stage failed', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
      ])
        .when(cmd.recordStage(FORMAT_VALIDATION, false))
        .then([
          evt.stageCompleted(FORMAT_VALIDATION, false),
          evt.processingCompleted(false),
        ]);
    });
    it('promotes automatically when every required stage passed and auto_promote is on', () => {
      given([
        evt.ingested({ processing: { validate: true, autoPromote: true } }),
      ])
        .when(cmd.recordStage(FORMAT_VALIDATION))
        .then([
          evt.processingStarted(),
          evt.stageCompleted(FORMAT_VALIDATION),
          evt.processingCompleted(),
          evt.promoted('auto-promoted: every required stage passed'),
        ]);
    });
    it('quarantines content whose virus scan failed', () => {
      given([evt.ingested({ processing: { scan: true, autoPromote: true } })])
        .when(cmd.recordStage(VIRUS_SCAN, false, { threats: ['EICAR'] }))
        .then([
          evt.processingStarted(),
          evt.stageCompleted(VIRUS_SCAN, false, { threats: ['EICAR'] }),
          evt.processingCompleted(false),
          evt.quarantined('virus scan failed', ['EICAR']),
        ]);
    });
    it('rejects an unspecified stage with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.recordStage(ProcessingStage.UNSPECIFIED))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /stage/);
    });
    it('rejects too many threats with VALIDATION_FAILED', () => {
      given(created)
        .when(
          cmd.recordStage(VIRUS_SCAN, false, {
            threats: Array.from({ length: 51 }, (_, i) => `t${i}`),
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /threats/);
    });
    it('rejects a second result for a stage with ALREADY_EXISTS', () => {
      given([
        ...created,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
      ])
        .when(cmd.recordStage(VIRUS_SCAN))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects promoted content with INVALID_TRANSITION', () => {
      given(promoted)
        .when(cmd.recordStage(VIRUS_SCAN))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /not staged/);
    });
    it('rejects quarantined content with INVALID_TRANSITION', () => {
      given(quarantined)
        .when(cmd.recordStage(VIRUS_SCAN))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /not staged/);
    });
  });

  describe('PromoteDocumentContent', () => {
    it('promotes staged content that needs no stage', () => {
      given(created).when(cmd.promote()).then([evt.promoted()]);
    });
    it('promotes content whose required stages passed', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
        evt.stageCompleted(FORMAT_VALIDATION),
        evt.processingCompleted(),
      ])
        .when(cmd.promote({ from: Partition.STAGING, to: Partition.AGGREGATE }))
        .then([evt.promoted()]);
    });
    it('rejects content a required stage has no result for with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
      ])
        .when(cmd.promote())
        .thenRejects(
          ErrorCode.BUSINESS_RULE_VIOLATION,
          /FORMAT_VALIDATION has no result/,
        );
    });
    it('rejects content a required stage failed for with BUSINESS_RULE_VIOLATION', () => {
      given([
        ...scanned,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN),
        evt.stageCompleted(FORMAT_VALIDATION, false),
        evt.processingCompleted(false),
      ])
        .when(cmd.promote())
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /failed/);
    });
    it('rejects quarantined content with INVALID_TRANSITION', () => {
      given(quarantined)
        .when(cmd.promote())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /QUARANTINED/);
    });
    it('rejects promoted content with INVALID_TRANSITION', () => {
      given(promoted)
        .when(cmd.promote())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /PROMOTED/);
    });
    it('rejects a move other than staging to aggregate with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.promote({ from: Partition.ARCHIVE }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /from/);
      given(created)
        .when(cmd.promote({ to: Partition.STAGING }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /to must be AGGREGATE/);
    });
  });

  describe('QuarantineDocumentContent and ReleaseDocumentContent', () => {
    it('quarantines content in any state but quarantined', () => {
      given(promoted)
        .when(cmd.quarantine('reported', ['Trojan.X']))
        .then([evt.quarantined('reported', ['Trojan.X'])]);
    });
    it('rejects Quarantine of quarantined content with INVALID_TRANSITION', () => {
      given(quarantined)
        .when(cmd.quarantine())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects a blank reason with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.quarantine(' '))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /reason/);
      given(quarantined)
        .when(cmd.release(''))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /reason/);
    });
    it('releases quarantined content back to staging without its stage results', () => {
      const history = [
        ...created,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN, false),
        evt.quarantined(),
      ];
      given(history).when(cmd.release()).then([evt.released()]);
      given([...history, evt.released()])
        .when(cmd.recordStage(VIRUS_SCAN))
        .then([evt.processingStarted(), evt.stageCompleted(VIRUS_SCAN)]);
    });
    it('rejects Release of content that is not quarantined with INVALID_TRANSITION', () => {
      given(created)
        .when(cmd.release())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /not quarantined/);
    });
  });

  describe('UpdateDocumentMetadata', () => {
    it('records only the fields that are set', () => {
      const fields = {
        title: 'Renamed',
        tags: { values: ['x'] },
        custom: { reviewed: true },
        confidentiality: Confidentiality.PUBLIC,
      };
      given(created)
        .when(cmd.updateMetadata(fields))
        .then([evt.metadataUpdated(fields)]);
    });
    it('records an unspecified type as OTHER', () => {
      given(created)
        .when(cmd.updateMetadata({ documentType: DocumentType.UNSPECIFIED }))
        .then([evt.metadataUpdated({ documentType: DocumentType.OTHER })]);
    });
    it('rejects an update that sets nothing with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.updateMetadata())
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at least one/);
    });
    it('rejects a blank title with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.updateMetadata({ title: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /title/);
    });
  });

  describe('EditDocument', () => {
    it('creates a successor of the head and records the edit', () => {
      given(created)
        .when(cmd.edit())
        .then([evt.successorCreated(), evt.edited()]);
    });
    it('records a patch edit when the patch is stored', () => {
      const edit = {
        case: 'patch' as const,
        value: { patchCid: CID_C, format: 'unified-diff' },
      };
      given(created)
        .when(
          cmd.edit({
            edit,
            bump: VersionBump.MINOR,
            stored: [stored(CID_B, 10n), stored(CID_C)],
          }),
        )
        .then([
          evt.successorCreated({ version: { major: 1, minor: 1, patch: 0 } }),
          evt.edited({ edit }),
        ]);
    });
    it('bumps the major version on request', () => {
      const [successor] = given(edited)
        .when(
          cmd.edit({
            expectedHeadCid: CID_B,
            successorCid: CID_C,
            bump: VersionBump.MAJOR,
            stored: [stored(CID_C)],
          }),
        )
        .events();
      expect(
        successor?.body.case === 'successorCreated' &&
          successor.body.value.version,
      ).toMatchObject({ major: 2, minor: 0, patch: 0 });
    });
    it('lets a principal with write access edit', () => {
      given([...created, evt.shared([writer], Permission.WRITE)])
        .when(cmd.edit({}, { actor: writer }))
        .then([evt.successorCreated({ editedBy: writer }), evt.edited()]);
    });
    it('lets anyone edit when everyone holds write', () => {
      given([...created, evt.shared(['*'], Permission.WRITE)])
        .when(cmd.edit({}, { actor: STRANGER }))
        .then([evt.successorCreated({ editedBy: STRANGER }), evt.edited()]);
    });
    it('rejects an edit without write access with UNAUTHORIZED', () => {
      given(created)
        .when(cmd.edit({}, { actor: STRANGER }))
        .thenRejects(ErrorCode.UNAUTHORIZED, /WRITE/);
      given([...created, evt.shared([writer], Permission.COMMENT)])
        .when(cmd.edit({}, { actor: writer }))
        .thenRejects(ErrorCode.UNAUTHORIZED);
    });
    it('rejects a stale head with CONCURRENCY_CONFLICT', () => {
      given(edited)
        .when(cmd.edit({ successorCid: CID_C, stored: [stored(CID_C)] }))
        .thenRejects(ErrorCode.CONCURRENCY_CONFLICT, /head/);
    });
    it('rejects a successor that is not stored with NOT_FOUND', () => {
      given(created)
        .when(cmd.edit({ stored: [] }))
        .thenRejects(ErrorCode.NOT_FOUND, /successor_cid/);
    });
    it('rejects a patch that is not stored with NOT_FOUND', () => {
      given(created)
        .when(
          cmd.edit({
            edit: { case: 'patch', value: { patchCid: CID_C, format: 'diff' } },
          }),
        )
        .thenRejects(ErrorCode.NOT_FOUND, /patch_cid/);
    });
    it('rejects a successor equal to the head with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.edit({ successorCid: CID_A }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /differ/);
    });
    it('rejects an edit without a kind with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.edit({ edit: { case: undefined } }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /direct, patch, structured/);
    });
    it('stages the new head again', () => {
      const state = stateOf([
        ...promoted,
        evt.successorCreated(),
        evt.edited(),
      ]);
      expect(state.status === 'present' && state.contentState).toBe(
        ContentState.STAGED,
      );
      given([...promoted, evt.successorCreated(), evt.edited()])
        .when(cmd.promote())
        .then([evt.promoted('checked', CID_B)]);
    });
  });

  describe('MergeDocumentEdits', () => {
    it('takes theirs with THEIRS', () => {
      given(created).when(cmd.merge()).then([evt.merged()]);
    });
    it('keeps the head and the version with OURS', () => {
      given(created)
        .when(cmd.merge({ strategy: MergeStrategy.OURS }))
        .then([
          evt.merged({
            strategy: MergeStrategy.OURS,
            resultCid: CID_A,
            sizeBytes: 9n,
            version: { major: 1, minor: 0, patch: 0 },
          }),
        ]);
    });
    it('records a three-way merge with its base and result', () => {
      given(edited)
        .when(
          cmd.merge({
            expectedHeadCid: CID_B,
            theirsCid: CID_C,
            baseCid: CID_A,
            resultCid: cidOf('merged'),
            strategy: MergeStrategy.THREE_WAY,
            stored: [
              stored(CID_C),
              stored(CID_A),
              stored(cidOf('merged'), 20n),
            ],
          }),
        )
        .then([
          evt.merged({
            strategy: MergeStrategy.THREE_WAY,
            oursCid: CID_B,
            theirsCid: CID_C,
            baseCid: CID_A,
            resultCid: cidOf('merged'),
            sizeBytes: 20n,
            version: { major: 1, minor: 0, patch: 2 },
          }),
        ]);
    });
    it('rejects a manual merge with unresolved conflicts with BUSINESS_RULE_VIOLATION', () => {
      given(created)
        .when(
          cmd.merge({
            strategy: MergeStrategy.MANUAL,
            resultCid: CID_C,
            unresolvedConflicts: ['§2'],
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /unresolved/);
    });
    it.each([
      [
        'THREE_WAY without base',
        { strategy: MergeStrategy.THREE_WAY, resultCid: CID_C },
        /base_cid/,
      ],
      [
        'THREE_WAY without result',
        { strategy: MergeStrategy.THREE_WAY, baseCid: CID_C },
        /result_cid/,
      ],
      [
        'MANUAL without result',
        { strategy: MergeStrategy.MANUAL },
        /result_cid/,
      ],
      [
        'OURS with another result',
        { strategy: MergeStrategy.OURS, resultCid: CID_C },
        /OURS/,
      ],
      ['THEIRS with another result', { resultCid: CID_C }, /THEIRS/],
      ['no strategy', { strategy: MergeStrategy.UNSPECIFIED }, /strategy/],
    ])('rejects %s with VALIDATION_FAILED', (_case, fields, message) => {
      given(created)
        .when(cmd.merge(fields))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it('rejects content that is not stored with NOT_FOUND', () => {
      given(created)
        .when(cmd.merge({ stored: [] }))
        .thenRejects(ErrorCode.NOT_FOUND, /theirs_cid/);
      given(created)
        .when(
          cmd.merge({
            strategy: MergeStrategy.MANUAL,
            resultCid: cidOf('other'),
          }),
        )
        .thenRejects(ErrorCode.NOT_FOUND, /result_cid/);
    });
    it('rejects merging the head into itself with BUSINESS_RULE_VIOLATION', () => {
      given(created)
        .when(cmd.merge({ theirsCid: CID_A }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /already the head/);
    });
    it('rejects a stale head with CONCURRENCY_CONFLICT', () => {
      given(edited)
        .when(cmd.merge({ theirsCid: CID_C }))
        .thenRejects(ErrorCode.CONCURRENCY_CONFLICT);
    });
    it('rejects a merge without write access with UNAUTHORIZED', () => {
      given(created)
        .when(cmd.merge({}, { actor: STRANGER }))
        .thenRejects(ErrorCode.UNAUTHORIZED);
    });
  });

  describe('RollbackDocument', () => {
    it('makes an earlier content the head again', () => {
      given(edited).when(cmd.rollback(CID_A)).then([evt.rolledBack()]);
    });
    it('rejects a CID outside the history with NOT_FOUND', () => {
      given(edited)
        .when(cmd.rollback(CID_C))
        .thenRejects(ErrorCode.NOT_FOUND, /not in the history/);
    });
    it('rejects the head itself with BUSINESS_RULE_VIOLATION', () => {
      given(edited)
        .when(cmd.rollback(CID_B))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /already the head/);
    });
    it('rejects a rollback without write access with UNAUTHORIZED', () => {
      given(edited)
        .when(cmd.rollback(CID_A, { actor: STRANGER }))
        .thenRejects(ErrorCode.UNAUTHORIZED);
    });
    it('rejects a malformed CID with VALIDATION_FAILED', () => {
      given(edited)
        .when(cmd.rollback('nope'))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /target_cid/);
    });
  });

  describe('ChangeDocumentState', () => {
    const { DRAFT, UNDER_REVIEW, PUBLISHED, REJECTED, ARCHIVED, SUPERSEDED } =
      DocumentStatus;
    const reach = {
      [DRAFT]: [],
      [UNDER_REVIEW]: [evt.stateChanged(DRAFT, UNDER_REVIEW)],
      [PUBLISHED]: [
        evt.stateChanged(DRAFT, UNDER_REVIEW),
        evt.stateChanged(UNDER_REVIEW, PUBLISHED),
      ],
      [REJECTED]: [
        evt.stateChanged(DRAFT, UNDER_REVIEW),
        evt.stateChanged(UNDER_REVIEW, REJECTED),
      ],
      [SUPERSEDED]: [
        evt.stateChanged(DRAFT, UNDER_REVIEW),
        evt.stateChanged(UNDER_REVIEW, PUBLISHED),
        evt.stateChanged(PUBLISHED, SUPERSEDED),
      ],
    };
    const allowed = new Set([
      `${DRAFT}>${UNDER_REVIEW}`,
      `${UNDER_REVIEW}>${PUBLISHED}`,
      `${UNDER_REVIEW}>${REJECTED}`,
      `${REJECTED}>${DRAFT}`,
      `${PUBLISHED}>${ARCHIVED}`,
      `${PUBLISHED}>${SUPERSEDED}`,
    ]);
    const pairs = Object.keys(reach).flatMap((from) =>
      [DRAFT, UNDER_REVIEW, PUBLISHED, REJECTED, ARCHIVED, SUPERSEDED].map(
        (to) => [Number(from) as keyof typeof reach, to] as const,
      ),
    );
    it.each(pairs)('from %s to %s follows the transition table', (from, to) => {
      const history = [...created, ...reach[from]];
      if (allowed.has(`${from}>${to}`)) {
        given(history)
          .when(cmd.changeState(to))
          .then([evt.stateChanged(from, to)]);
      } else {
        given(history)
          .when(cmd.changeState(to))
          .thenRejects(ErrorCode.INVALID_TRANSITION, /cannot go from/);
      }
    });
    it('makes a published document archived and terminal', () => {
      const history = [
        ...created,
        ...reach[PUBLISHED],
        evt.stateChanged(PUBLISHED, ARCHIVED),
      ];
      given(history)
        .when(cmd.addComment())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /archived/);
    });
    it('rejects an unspecified or unknown target with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.changeState(DocumentStatus.UNSPECIFIED))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /to/);
      given(created)
        .when(cmd.changeState(42 as DocumentStatus))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /to/);
    });
  });

  describe('ShareDocument', () => {
    it('lets the owner grant permissions', () => {
      given(created)
        .when(cmd.share([writer, 'user:carol'], Permission.WRITE))
        .then([evt.shared([writer, 'user:carol'], Permission.WRITE)]);
    });
    it('records only the principals whose permission rises', () => {
      given([...created, evt.shared([writer], Permission.WRITE)])
        .when(cmd.share([writer, 'user:carol'], Permission.READ))
        .then([evt.shared(['user:carol'], Permission.READ)]);
    });
    it('lets a principal granted admin share', () => {
      given([...created, evt.shared([writer], Permission.ADMIN)])
        .when(cmd.share(['user:carol'], Permission.READ, { actor: writer }))
        .then([evt.shared(['user:carol'], Permission.READ, writer)]);
    });
    it('shares with everyone on an internal document', () => {
      given(created)
        .when(cmd.share(['*']))
        .then([evt.shared(['*'])]);
    });
    it('rejects a caller who is not an admin with UNAUTHORIZED', () => {
      given(created)
        .when(cmd.share(['user:carol'], Permission.READ, { actor: STRANGER }))
        .thenRejects(ErrorCode.UNAUTHORIZED, /ADMIN/);
      given([...created, evt.shared([writer], Permission.WRITE)])
        .when(cmd.share(['user:carol'], Permission.READ, { actor: writer }))
        .thenRejects(ErrorCode.UNAUTHORIZED);
    });
    it('rejects sharing a confidential document with everyone with BUSINESS_RULE_VIOLATION', () => {
      given([evt.ingested({ confidentiality: Confidentiality.CONFIDENTIAL })])
        .when(cmd.share(['*']))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /everyone/);
    });
    it('rejects grants everybody already holds with ALREADY_EXISTS', () => {
      given(created)
        .when(cmd.share([OWNER], Permission.WRITE))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects more than 500 grants with BUSINESS_RULE_VIOLATION', () => {
      const many = Array.from({ length: 499 }, (_, i) => `user:${i}`);
      given([...created, evt.shared(many)])
        .when(cmd.share(['user:x', 'user:y']))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /500/);
    });
    it.each([
      ['no principal', [], Permission.READ, /at least one/],
      ['a blank principal', [' '], Permission.READ, /principals\[0\]/],
      ['a repeated principal', ['a', 'a'], Permission.READ, /distinct/],
      ['no permission', ['a'], Permission.UNSPECIFIED, /permission/],
    ])(
      'rejects %s with VALIDATION_FAILED',
      (_case, principals, permission, message) => {
        given(created)
          .when(cmd.share(principals, permission))
          .thenRejects(ErrorCode.VALIDATION_FAILED, message);
      },
    );
  });

  describe('AddComment', () => {
    it('adds a comment by the actor', () => {
      given(created)
        .when(cmd.addComment({ blockId: 'p3' }, { actor: 'user:carol' }))
        .then([evt.commentAdded({ blockId: 'p3', author: 'user:carol' })]);
    });
    it('derives the comment id from the command id when empty', () => {
      given(created)
        .when(cmd.addComment({ commentId: '' }))
        .then([evt.commentAdded({ commentId: COMMAND_ID })]);
    });
    it('answers an existing comment', () => {
      given([...created, evt.commentAdded()])
        .when(cmd.addComment({ commentId: 'c2', parentId: 'c1' }))
        .then([evt.commentAdded({ commentId: 'c2', parentId: 'c1' })]);
    });
    it('rejects an unknown parent with NOT_FOUND', () => {
      given(created)
        .when(cmd.addComment({ parentId: 'nope' }))
        .thenRejects(ErrorCode.NOT_FOUND, /parent/);
    });
    it('rejects a repeated comment id with ALREADY_EXISTS', () => {
      given([...created, evt.commentAdded()])
        .when(cmd.addComment())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects a blank comment with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addComment({ content: '  ' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /content/);
    });
  });

  describe('TagVersion', () => {
    it('tags the head when no CID is named', () => {
      given(edited)
        .when(cmd.tagVersion('v2'))
        .then([evt.versionTagged('v2', CID_B)]);
    });
    it('tags an earlier content of the history', () => {
      given(edited)
        .when(cmd.tagVersion('v1', CID_A))
        .then([evt.versionTagged('v1', CID_A)]);
    });
    it('rejects a tag in use with ALREADY_EXISTS', () => {
      given([...created, evt.versionTagged()])
        .when(cmd.tagVersion('v1'))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects a CID outside the history with NOT_FOUND', () => {
      given(created)
        .when(cmd.tagVersion('v1', CID_C))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
    it('rejects a blank tag with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.tagVersion(''))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /tag/);
    });
    it('rejects a 501st tag with BUSINESS_RULE_VIOLATION', () => {
      const tags = Array.from({ length: 500 }, (_, i) =>
        evt.versionTagged(`t${i}`),
      );
      given([...created, ...tags])
        .when(cmd.tagVersion('one-more'))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /500/);
    });
  });

  describe('LinkDocuments', () => {
    it('links to another document', () => {
      given(created)
        .when(cmd.link('doc-2', LinkType.REFERENCES))
        .then([evt.linked('doc-2', LinkType.REFERENCES)]);
    });
    it('allows one target under several link types', () => {
      given([...created, evt.linked('doc-2', LinkType.REFERENCES)])
        .when(cmd.link('doc-2', LinkType.PART_OF))
        .then([evt.linked('doc-2', LinkType.PART_OF)]);
    });
    it('rejects a self-link with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.link(DOC_ID))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /itself/);
    });
    it('rejects a repeated link with ALREADY_EXISTS', () => {
      given([...created, evt.linked()])
        .when(cmd.link())
        .thenRejects(ErrorCode.ALREADY_EXISTS);
    });
    it('rejects an unspecified link type or a bad target with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.link('doc-2', LinkType.UNSPECIFIED))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /link_type/);
      given(created)
        .when(cmd.link('doc 2'))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /target_id/);
    });
    it('rejects a 501st link with BUSINESS_RULE_VIOLATION', () => {
      const links = Array.from({ length: 500 }, (_, i) => evt.linked(`d${i}`));
      given([...created, ...links])
        .when(cmd.link('one-more'))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /500/);
    });
  });

  describe('ArchiveDocument', () => {
    it('archives a document in any status', () => {
      given(created)
        .when(cmd.archive('done'))
        .then([evt.archived('done')]);
    });
    it('rejects an archived document with INVALID_TRANSITION', () => {
      given(archived)
        .when(cmd.archive())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
  });

  describe('ForkDocument', () => {
    it('records the fork with the head and metadata it starts from', () => {
      given([...edited, evt.metadataUpdated({ tags: { values: ['t'] } })])
        .when(cmd.fork({}, { actor: writer }))
        .then([
          evt.forked({ contentCid: CID_B, tags: ['t'], forkedBy: writer }),
        ]);
    });
    it('derives the fork id from the command id and takes a given title', () => {
      given(created)
        .when(cmd.fork({ forkId: '', title: 'Mine' }))
        .then([evt.forked({ forkId: COMMAND_ID, title: 'Mine' })]);
    });
    it('titles a fork of an untitled document after its id', () => {
      given([evt.ingested({ title: '' })])
        .when(cmd.fork())
        .then([evt.forked({ title: `Fork of ${DOC_ID}` })]);
    });
    it('rejects a fork id equal to the document id with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.fork({ forkId: DOC_ID }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /fork_id/);
    });
  });

  describe('content analysis', () => {
    const analyses = [
      ['ExtractEntities', cmd.extractEntities],
      ['GenerateSummary', cmd.generateSummary],
      ['ClassifyDocument', cmd.classify],
    ] as const;

    it('records the entities of the promoted head', () => {
      given(promoted)
        .when(cmd.extractEntities())
        .then([evt.entitiesExtracted()]);
    });
    it('records a summary of the asked length, 3 sentences by default', () => {
      given(promoted)
        .when(cmd.generateSummary())
        .then([evt.summaryGenerated()]);
      given(promoted)
        .when(cmd.generateSummary({ maxSentences: 10 }))
        .then([evt.summaryGenerated({ maxSentences: 10 })]);
    });
    it('records the classification the text gave when no MIME type rule applies', () => {
      given(promoted).when(cmd.classify()).then([evt.classified()]);
    });
    it.each([
      ['text/csv', DocumentType.SPREADSHEET, 0.95],
      [
        'text/tab-separated-values; charset=utf-8',
        DocumentType.SPREADSHEET,
        0.95,
      ],
      ['application/json', DocumentType.OTHER, 0.9],
      ['application/vnd.api+json', DocumentType.OTHER, 0.9],
    ])(
      'lets the MIME type %s outrank the lexicons, keeping the topics',
      (mimeType, documentType, confidence) => {
        const essence = mimeType.split(';')[0]!;
        given([evt.ingested({ mimeType }), evt.promoted()])
          .when(cmd.classify())
          .then([
            evt.classified({
              classification: {
                ...analysis().classification!,
                documentType,
                confidence,
                rule: `mime:${essence}`,
              },
            }),
          ]);
      },
    );
    it('marks what was analysed of content longer than analysis reads', () => {
      given(promoted)
        .when(
          cmd.extractEntities({
            analysis: analysis({ truncated: true, entitiesTruncated: true }),
          }),
        )
        .then([
          evt.entitiesExtracted({
            entitiesTruncated: true,
            contentTruncated: true,
          }),
        ]);
    });

    describe.each(analyses)('%s', (_name, build) => {
      it('rejects staged content with INVALID_TRANSITION', () => {
        given(created)
          .when(build())
          .thenRejects(ErrorCode.INVALID_TRANSITION, /not promoted/);
      });
      it('rejects quarantined content with INVALID_TRANSITION', () => {
        given([...promoted, evt.quarantined()])
          .when(build())
          .thenRejects(ErrorCode.INVALID_TRANSITION, /QUARANTINED/);
      });
      it('rejects a document whose MIME type is not text with BUSINESS_RULE_VIOLATION', () => {
        given([evt.ingested({ mimeType: 'image/png' }), evt.promoted()])
          .when(build())
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /image\/png/);
      });
      it('rejects content that is not UTF-8 text with BUSINESS_RULE_VIOLATION', () => {
        given(promoted)
          .when(build({ analysis: analysis({ text: false }) }))
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /not UTF-8/);
      });
      it('rejects another content than the head with CONCURRENCY_CONFLICT', () => {
        given(promoted)
          .when(
            build({
              contentCid: CID_B,
              analysis: analysis({ contentCid: CID_B }),
            }),
          )
          .thenRejects(ErrorCode.CONCURRENCY_CONFLICT);
      });
      it('rejects content the store does not hold, or that was never read, with NOT_FOUND', () => {
        given(promoted)
          .when(build({ analysis: analysis({ present: false, text: false }) }))
          .thenRejects(ErrorCode.NOT_FOUND, /content store/);
        given(promoted)
          .when(build({ analysis: undefined }))
          .thenRejects(ErrorCode.NOT_FOUND, /content store/);
      });
      it('rejects malformed ids with VALIDATION_FAILED', () => {
        given(promoted)
          .when(build({ contentCid: 'Qm1' }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /content_cid/);
        given(promoted)
          .when(build({ documentId: 'a b' }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /document_id/);
      });
      it('rejects a second run on the same head with ALREADY_EXISTS, and runs again on a new head', () => {
        const once = stateOf(promoted);
        const [first] = documentDecider.decide(build(), once);
        const twice = documentDecider.evolve(once, first!);
        expect(() => documentDecider.decide(build(), twice)).toThrow(
          /already has this analysis/,
        );
        const newHead = stateOf(
          [
            evt.successorCreated(),
            evt.edited(),
            evt.promoted('checked', CID_B),
          ],
          twice,
        );
        expect(
          documentDecider.decide(
            build({
              contentCid: CID_B,
              analysis: analysis({ contentCid: CID_B }),
            }),
            newHead,
          ),
        ).toHaveLength(1);
      });
    });

    it('rejects a second summary of the same length with ALREADY_EXISTS but not one of another length', () => {
      given([...promoted, evt.summaryGenerated()])
        .when(cmd.generateSummary({ maxSentences: 3 }))
        .thenRejects(ErrorCode.ALREADY_EXISTS);
      given([...promoted, evt.summaryGenerated()])
        .when(cmd.generateSummary({ maxSentences: 1 }))
        .then([evt.summaryGenerated({ maxSentences: 1 })]);
    });
    it('rejects max_sentences over 10 with VALIDATION_FAILED', () => {
      given(promoted)
        .when(cmd.generateSummary({ maxSentences: 11 }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /max_sentences/);
    });
    it('rejects results that break their bounds with VALIDATION_FAILED', () => {
      const sentence = { text: 'One.', offset: 0n, score: 1 };
      given(promoted)
        .when(
          cmd.generateSummary({
            maxSentences: 1,
            analysis: analysis({
              summary: { sentences: [sentence, sentence], sentenceCount: 2 },
            }),
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /bounds/);
      given(promoted)
        .when(
          cmd.extractEntities({
            analysis: analysis({
              entities: [{ kind: EntityKind.UNSPECIFIED, text: 'x', count: 1 }],
            }),
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /bounds/);
      given(promoted)
        .when(
          cmd.classify({
            analysis: analysis({
              classification: {
                ...analysis().classification!,
                confidence: 2,
              },
            }),
          }),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /bounds/);
    });
  });

  describe('ChangeDocumentState from a review workflow', () => {
    const { DRAFT, UNDER_REVIEW, PUBLISHED, REJECTED } = DocumentStatus;
    const underReview = [...created, evt.stateChanged(DRAFT, UNDER_REVIEW)];
    const review = 'review-1-doc-1';
    const asService = { actor: SERVICE_ACTOR };

    it.each([PUBLISHED, REJECTED])(
      'moves a document under review to %s',
      (to) => {
        given(underReview)
          .when(cmd.changeState(to, review, asService))
          .then([evt.stateChanged(UNDER_REVIEW, to, review)]);
      },
    );
    it('rejects review_workflow_id from anyone but the service with UNAUTHORIZED', () => {
      given(underReview)
        .when(cmd.changeState(PUBLISHED, review))
        .thenRejects(ErrorCode.UNAUTHORIZED, /review_workflow_id/);
    });
    it('rejects a workflow id that does not review this document, or a target other than published or rejected, with VALIDATION_FAILED', () => {
      for (const id of [
        'review-1-doc-2',
        'review-0-doc-1',
        'reviewer-1-doc-1',
      ]) {
        given(underReview)
          .when(cmd.changeState(PUBLISHED, id, asService))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /review_workflow_id/);
      }
      given(underReview)
        .when(cmd.changeState(DRAFT, review, asService))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /PUBLISHED or REJECTED/);
    });
    it('rejects an unknown document with NOT_FOUND and an archived one with INVALID_TRANSITION', () => {
      given([])
        .when(cmd.changeState(PUBLISHED, review, asService))
        .thenRejects(ErrorCode.NOT_FOUND);
      given([...underReview, evt.archived()])
        .when(cmd.changeState(PUBLISHED, review, asService))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /archived/);
    });
    it('rejects a document no longer under review with INVALID_TRANSITION: applied twice, it changes nothing', () => {
      given([...underReview, evt.stateChanged(UNDER_REVIEW, PUBLISHED, review)])
        .when(cmd.changeState(PUBLISHED, review, asService))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /cannot go from/);
      given([...underReview, evt.stateChanged(UNDER_REVIEW, REJECTED)])
        .when(cmd.changeState(REJECTED, review, asService))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /cannot go from/);
    });
    it('rejects the workflow of an earlier round with BUSINESS_RULE_VIOLATION', () => {
      const secondRound = [
        ...underReview,
        evt.stateChanged(UNDER_REVIEW, REJECTED, review),
        evt.stateChanged(REJECTED, DRAFT),
        evt.stateChanged(DRAFT, UNDER_REVIEW),
      ];
      given(secondRound)
        .when(cmd.changeState(PUBLISHED, review, asService))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /round 2/);
      given(secondRound)
        .when(cmd.changeState(PUBLISHED, 'review-2-doc-1', asService))
        .then([evt.stateChanged(UNDER_REVIEW, PUBLISHED, 'review-2-doc-1')]);
    });
  });

  describe('evolve', () => {
    it('counts review rounds: each move to under review opens one', () => {
      const { DRAFT, UNDER_REVIEW, REJECTED } = DocumentStatus;
      const state = stateOf([
        ...created,
        evt.stateChanged(DRAFT, UNDER_REVIEW),
        evt.stateChanged(UNDER_REVIEW, REJECTED),
        evt.stateChanged(REJECTED, DRAFT),
        evt.stateChanged(DRAFT, UNDER_REVIEW),
      ]);
      expect(state.status === 'present' && state.reviewRound).toBe(2);
    });
    it('ignores an analysis of another content than the head', () => {
      const state = stateOf(promoted);
      expect(
        documentDecider.evolve(
          state,
          evt.entitiesExtracted({ contentCid: CID_B }),
        ),
      ).toBe(state);
    });
    it('ignores an event from a newer schema', () => {
      const state = stateOf(created);
      expect(documentDecider.evolve(state, evt.unknown())).toBe(state);
    });
    it('ignores events of a document that does not exist', () => {
      const state = stateOf([evt.archived(), evt.commentAdded()]);
      expect(state.status).toBe('absent');
    });
    it('leaves an archived document archived', () => {
      const state = stateOf([
        ...archived,
        evt.stateChanged(DocumentStatus.ARCHIVED, DocumentStatus.DRAFT),
      ]);
      expect(state.status === 'present' && state.lifecycle).toBe(
        DocumentStatus.ARCHIVED,
      );
    });
  });
});
