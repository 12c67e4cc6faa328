import { describe, expect, it } from '@jest/globals';
import {
  ChangeKind,
  ContentState,
  DocumentStatus,
  DocumentType,
  LinkType,
  MergeStrategy,
  Partition,
  Permission,
  ProcessingStage,
} from '@cim/proto/cim/document/v1/document_pb';
import { DocumentIndex } from '../src/document-index.js';
import { project, type DocumentRow } from '../src/projection.js';
import {
  CID_A,
  CID_B,
  CID_C,
  DOC_ID,
  OWNER,
  T0,
  analysis,
  commitMeta,
  evt,
  projectAll,
  rowsOf,
} from './fixtures.js';

const created = [evt.ingested()];
const edited = [...created, evt.successorCreated(), evt.edited()];

function rowOf(events: Parameters<typeof projectAll>[0]): DocumentRow {
  const row = projectAll(events);
  if (row === undefined) throw new Error('no row');
  return row;
}

describe('document projection', () => {
  describe('when the document is created', () => {
    it('makes a draft row with the content as initial history entry', () => {
      const row = rowOf(created);
      expect(row).toMatchObject({
        documentId: DOC_ID,
        title: 'Plan',
        headCid: CID_A,
        sizeBytes: 9n,
        status: DocumentStatus.DRAFT,
        contentState: ContentState.STAGED,
        partition: Partition.STAGING,
        owner: OWNER,
        semver: { major: 1, minor: 0, patch: 0 },
        version: 1n,
        createdAtMs: T0 + 1,
      });
      expect([...row.history.values()]).toEqual([
        expect.objectContaining({
          position: 0,
          contentCid: CID_A,
          kind: ChangeKind.INITIAL,
          actor: OWNER,
        }),
      ]);
      expect(row.access.get(OWNER)).toBe(Permission.ADMIN);
    });
    it('links a fork to its source', () => {
      const row = rowOf([
        evt.createdFromCid({
          forkedFrom: {
            documentId: 'src',
            contentCid: CID_A,
            forkedBy: 'user:d',
          },
          owner: 'user:d',
        }),
      ]);
      expect([...row.links.values()]).toEqual([
        { targetId: 'src', linkType: LinkType.DERIVED_FROM },
      ]);
      expect(row.forkedFrom).toEqual({
        documentId: 'src',
        contentCid: CID_A,
        forkedBy: 'user:d',
      });
    });
    it('ignores events before the creation and a second creation', () => {
      expect(projectAll([evt.archived()])).toBeUndefined();
      const row = rowOf([...created, evt.createdFromCid({ title: 'Other' })]);
      expect(row.title).toBe('Plan');
      expect(row.version).toBe(2n);
    });
  });

  describe('the CID chain', () => {
    it('appends an edit with the kind DocumentEdited names', () => {
      const row = rowOf([
        ...created,
        evt.successorCreated(),
        evt.edited({
          edit: { case: 'patch', value: { patchCid: CID_C, format: 'diff' } },
        }),
      ]);
      expect(row.headCid).toBe(CID_B);
      expect(row.history.size).toBe(2);
      expect([...row.history.values()][1]).toMatchObject({
        position: 1,
        contentCid: CID_B,
        predecessorCid: CID_A,
        kind: ChangeKind.PATCH_EDIT,
        semver: { major: 1, minor: 0, patch: 1 },
        atMs: T0 + 2,
      });
      expect(row.cids.get(CID_B)).toEqual({
        sizeBytes: 10n,
        lastPosition: 1,
        tags: [],
      });
    });
    it('records a merge that changes the head, and not one that keeps it', () => {
      expect(rowOf([...created, evt.merged()]).history.size).toBe(2);
      const kept = rowOf([
        ...created,
        evt.merged({ strategy: MergeStrategy.OURS, resultCid: CID_A }),
      ]);
      expect(kept.history.size).toBe(1);
      expect(kept.headCid).toBe(CID_A);
    });
    it('records a rollback as a new entry and moves the CID to its last position', () => {
      const row = rowOf([...edited, evt.rolledBack()]);
      expect([...row.history.values()].map((e) => e.kind)).toEqual([
        ChangeKind.INITIAL,
        ChangeKind.DIRECT_EDIT,
        ChangeKind.ROLLBACK,
      ]);
      expect(row.cids.get(CID_A)?.lastPosition).toBe(2);
      expect(row.headCid).toBe(CID_A);
    });
    it('indexes tags by CID', () => {
      const row = rowOf([
        ...edited,
        evt.versionTagged('v1', CID_A),
        evt.versionTagged('v2', CID_B),
      ]);
      expect(row.cids.get(CID_A)?.tags).toEqual(['v1']);
      expect(row.versionTags.get('v2')).toBe(CID_B);
    });
  });

  describe('content processing', () => {
    it('follows staging, processing, promotion, quarantine and release', () => {
      const { VIRUS_SCAN } = ProcessingStage;
      let row = rowOf([
        ...created,
        evt.processingStarted(),
        evt.stageCompleted(VIRUS_SCAN, true, { details: 'clean' }),
      ]);
      expect(row.contentState).toBe(ContentState.PROCESSING);
      expect(row.stageResults).toEqual([
        { stage: VIRUS_SCAN, passed: true, details: 'clean', threats: [] },
      ]);
      row = projectAll([evt.promoted()], row)!;
      expect(row).toMatchObject({
        contentState: ContentState.PROMOTED,
        partition: Partition.AGGREGATE,
      });
      row = projectAll([evt.quarantined(), evt.released()], row)!;
      expect(row).toMatchObject({
        contentState: ContentState.STAGED,
        partition: Partition.STAGING,
        stageResults: [],
      });
    });
  });

  describe('metadata, comments, grants and lifecycle', () => {
    it('updates only the fields an update carries', () => {
      const row = rowOf([
        ...created,
        evt.metadataUpdated({
          title: 'New',
          documentType: DocumentType.NOTE,
          custom: { a: 1 },
        }),
      ]);
      expect(row).toMatchObject({
        title: 'New',
        documentType: DocumentType.NOTE,
        custom: { a: 1 },
        mimeType: 'text/plain',
      });
    });
    it('keeps comments in arrival order', () => {
      const row = rowOf([
        ...created,
        evt.commentAdded({ commentId: 'z' }),
        evt.commentAdded({ commentId: 'a', parentId: 'z' }),
      ]);
      expect([...row.comments.values()].map((c) => c.commentId)).toEqual([
        'z',
        'a',
      ]);
    });
    it('raises grants and never lowers them', () => {
      const row = rowOf([
        ...created,
        evt.shared(['user:b'], Permission.WRITE),
        evt.shared(['user:b', OWNER], Permission.READ),
      ]);
      expect([...row.access.entries()]).toEqual([
        ['user:alice', Permission.ADMIN],
        ['user:b', Permission.WRITE],
      ]);
    });
    it('archives for good, in the archive partition', () => {
      const row = rowOf([
        ...created,
        evt.archived(),
        evt.stateChanged(DocumentStatus.ARCHIVED, DocumentStatus.DRAFT),
      ]);
      expect(row).toMatchObject({
        status: DocumentStatus.ARCHIVED,
        partition: Partition.ARCHIVE,
      });
    });
    it('stamps version and time on an event from a newer schema', () => {
      const row = rowOf(created);
      const next = project(row, evt.unknown(), commitMeta(2, T0 + 50));
      expect(next).toEqual({ ...row, version: 2n, updatedAtMs: T0 + 50 });
    });
  });
});

describe('document projection of analyses and reviews', () => {
  const promoted = [...created, evt.promoted()];

  it('gathers the analyses of the head content', () => {
    const row = rowOf([
      ...promoted,
      evt.entitiesExtracted({ entitiesTruncated: true }),
      evt.summaryGenerated({ contentTruncated: true }),
      evt.classified(),
    ]);
    const found = analysis();
    expect(row.analysis).toEqual({
      contentCid: CID_A,
      entities: { entities: found.entities, truncated: true },
      summary: found.summary,
      classification: found.classification,
      contentTruncated: true,
    });
  });
  it('drops the analyses when the head changes, and ignores those of another content', () => {
    const row = rowOf([
      ...promoted,
      evt.classified(),
      evt.successorCreated(),
      evt.edited(),
      evt.entitiesExtracted(),
    ]);
    expect(row.headCid).toBe(CID_B);
    expect(row.analysis).toBeUndefined();
  });
  it('counts review rounds', () => {
    const { DRAFT, UNDER_REVIEW, REJECTED } = DocumentStatus;
    const row = rowOf([
      ...created,
      evt.stateChanged(DRAFT, UNDER_REVIEW),
      evt.stateChanged(UNDER_REVIEW, REJECTED, 'review-1-doc-1'),
      evt.stateChanged(REJECTED, DRAFT),
      evt.stateChanged(DRAFT, UNDER_REVIEW),
    ]);
    expect(row.reviewRound).toBe(2);
  });
});

describe('document index', () => {
  const doc = (id: string, extra: Parameters<typeof projectAll>[0] = []) =>
    projectAll(
      [evt.ingested({ documentId: id, tags: ['t'] }), ...extra].map((e) => {
        const value = e.body.value as { documentId: string } | undefined;
        if (value !== undefined) value.documentId = id;
        return e;
      }),
    )!;

  it('finds documents by tag, type, owner, CID and principal, and follows changes', () => {
    const rows = rowsOf(
      doc('d1'),
      doc('d2', [evt.successorCreated(), evt.edited()]),
      doc('d3', [evt.shared(['user:b'])]),
    );
    const index = new DocumentIndex(rows);
    index.refresh(1n);
    expect([...index.all().keys()]).toEqual(['d1', 'd2', 'd3']);
    expect([...index.withTag('t').keys()]).toEqual(['d1', 'd2', 'd3']);
    expect([...index.ofType(DocumentType.OTHER).keys()]).toEqual([
      'd1',
      'd2',
      'd3',
    ]);
    expect([...index.ownedBy(OWNER).keys()]).toEqual(['d1', 'd2', 'd3']);
    expect([...index.holding(CID_A).keys()]).toEqual(['d1', 'd2', 'd3']);
    expect([...index.holding(CID_B).keys()]).toEqual(['d2']);
    expect([...index.grantedTo('user:b').keys()]).toEqual(['d3']);

    rows.set(
      'd1',
      projectAll(
        [
          evt.metadataUpdated({ documentId: 'd1', tags: { values: ['u'] } }),
          evt.successorCreated({ documentId: 'd1', successorCid: CID_C }),
          evt.rolledBack({ documentId: 'd1', fromCid: CID_C, toCid: CID_A }),
          evt.successorCreated({
            documentId: 'd1',
            predecessorCid: CID_A,
            successorCid: CID_B,
          }),
        ],
        rows.get('d1'),
      )!,
    );
    index.refresh(1n);
    expect([...index.withTag('u').keys()]).toEqual([]);
    index.refresh(2n);
    expect([...index.withTag('t').keys()]).toEqual(['d2', 'd3']);
    expect([...index.withTag('u').keys()]).toEqual(['d1']);
    expect([...index.holding(CID_B).keys()]).toEqual(['d1', 'd2']);
    expect([...index.holding(CID_C).keys()]).toEqual(['d1']);
  });

  it('starts over when rows are replaced by fewer', () => {
    const rows = rowsOf(doc('d1'), doc('d2'));
    const index = new DocumentIndex(rows);
    index.refresh(1n);
    rows.delete('d1');
    index.refresh(2n);
    expect([...index.all().keys()]).toEqual(['d2']);
    expect([...index.withTag('t').keys()]).toEqual(['d2']);
  });
});
