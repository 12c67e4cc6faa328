import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  DocumentStatus,
  MergeStrategy,
  Permission,
  type DocumentCommand,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  documentDecider,
  reviveDocumentState,
  type DocumentState,
} from '../src/domain/index.js';
import { TRANSITIONS } from '../src/domain/rules.js';
import {
  positionKey,
  reviveDocumentRow,
  type DocumentRow,
} from '../src/projection.js';
import {
  CID_A,
  OWNER,
  cidOf,
  cmd,
  commitMeta,
  evt,
  stored,
} from './fixtures.js';
import { project } from '../src/projection.js';

/** Decides and folds one command into state and row; refusals leave both as they were. */
class Run {
  state: DocumentState = documentDecider.initialState();
  row: DocumentRow | undefined;
  version = 0;

  constructor(initial: readonly DocumentEvent[]) {
    for (const e of initial) this.fold([e]);
  }

  apply(command: DocumentCommand): readonly DocumentEvent[] | ErrorCode {
    let events: readonly DocumentEvent[];
    try {
      events = documentDecider.decide(command, this.state);
    } catch (error) {
      if (!DomainError.is(error)) throw error;
      return error.code;
    }
    this.fold(events);
    return events;
  }

  private fold(events: readonly DocumentEvent[]): void {
    for (const e of events) {
      this.state = documentDecider.evolve(this.state, e);
      this.row = project(this.row, e, commitMeta(++this.version));
    }
  }

  get present() {
    if (this.state.status !== 'present') throw new Error('no document');
    return this.state;
  }
}

const contents = fc
  .integer({ min: 0, max: 5 })
  .map((i) => cidOf(`content ${i}`));

type Step =
  | { readonly kind: 'edit'; readonly cid: string; readonly bump: number }
  | { readonly kind: 'rollback'; readonly cid: string }
  | { readonly kind: 'merge'; readonly cid: string; readonly ours: boolean }
  | { readonly kind: 'tag'; readonly tag: string; readonly cid: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('edit' as const),
    cid: contents,
    bump: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('rollback' as const), cid: contents }),
  fc.record({
    kind: fc.constant('merge' as const),
    cid: contents,
    ours: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('tag' as const),
    tag: fc.constantFrom('a', 'b', 'c'),
    cid: contents,
  }),
);

function commandFor(s: Step, head: string): DocumentCommand {
  switch (s.kind) {
    case 'edit':
      return cmd.edit({
        expectedHeadCid: head,
        successorCid: s.cid,
        bump: s.bump,
        stored: [stored(s.cid, BigInt(s.cid.length))],
      });
    case 'rollback':
      return cmd.rollback(s.cid);
    case 'merge':
      return cmd.merge({
        expectedHeadCid: head,
        theirsCid: s.cid,
        strategy: s.ours ? MergeStrategy.OURS : MergeStrategy.THEIRS,
        stored: [stored(s.cid, BigInt(s.cid.length))],
      });
    case 'tag':
      return cmd.tagVersion(s.tag, s.cid);
  }
}

const semverKey = ({
  major,
  minor,
  patch,
}: {
  major: number;
  minor: number;
  patch: number;
}) => major * 1e8 + minor * 1e4 + patch;

describe('document properties', () => {
  it('moves the lifecycle only along the transition table, and archived stays archived', () => {
    const statuses = fc.constantFrom(
      DocumentStatus.DRAFT,
      DocumentStatus.UNDER_REVIEW,
      DocumentStatus.PUBLISHED,
      DocumentStatus.REJECTED,
      DocumentStatus.ARCHIVED,
      DocumentStatus.SUPERSEDED,
    );
    fc.assert(
      fc.property(fc.array(statuses, { maxLength: 30 }), (targets) => {
        const run = new Run([evt.ingested()]);
        for (const to of targets) {
          const before = run.present.lifecycle;
          const outcome = run.apply(cmd.changeState(to));
          const allowed = (TRANSITIONS[before] ?? []).includes(to);
          if (allowed) {
            expect(outcome).toEqual([evt.stateChanged(before, to)]);
            expect(run.present.lifecycle).toBe(to);
          } else {
            expect(outcome).toBe(ErrorCode.INVALID_TRANSITION);
            expect(run.present.lifecycle).toBe(before);
          }
          expect(run.row?.status).toBe(run.present.lifecycle);
        }
      }),
    );
  });

  it('keeps the CID chain consistent between decider and read model', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const run = new Run([evt.ingested()]);
        let headChanges = 0;
        for (const s of steps) {
          const before = run.present;
          const outcome = run.apply(commandFor(s, before.headCid));
          if (typeof outcome === 'number') {
            expect(run.present).toBe(before);
            continue;
          }
          const after = run.present;
          if (after.headCid !== before.headCid) {
            headChanges++;
            expect(semverKey(after.semver)).toBeGreaterThan(
              semverKey(before.semver),
            );
          } else {
            expect(after.semver).toEqual(before.semver);
          }
        }
        const { present: state, row } = run;
        expect(row?.headCid).toBe(state.headCid);
        expect(row?.history.size).toBe(1 + headChanges);
        const chain = [...row!.history.values()];
        expect(chain[0]?.contentCid).toBe(CID_A);
        expect(chain.at(-1)?.contentCid).toBe(state.headCid);
        chain.slice(1).forEach((entry, i) => {
          expect(entry.predecessorCid).toBe(chain[i]?.contentCid);
        });
        const cids = new Set(chain.map((e) => e.contentCid));
        expect([...state.history.keys()].sort()).toEqual([...cids].sort());
        expect([...row!.cids.keys()].sort()).toEqual([...cids].sort());
        for (const [cid, record] of row!.cids.entries()) {
          const last = chain.filter((e) => e.contentCid === cid).at(-1);
          expect(record.lastPosition).toBe(last?.position);
          expect(
            row!.history.get(positionKey(record.lastPosition))?.contentCid,
          ).toBe(cid);
        }
        for (const [tag, cid] of state.versionTags.entries()) {
          expect(row!.versionTags.get(tag)).toBe(cid);
          expect(row!.cids.get(cid)?.tags).toContain(tag);
        }
      }),
    );
  });

  it('never lowers a grant, and only admins share', () => {
    const principals = fc.constantFrom(OWNER, 'user:b', 'user:c', '*');
    const share = fc.record({
      by: principals,
      to: fc.uniqueArray(principals, { minLength: 1, maxLength: 3 }),
      permission: fc.constantFrom(
        Permission.READ,
        Permission.COMMENT,
        Permission.WRITE,
        Permission.ADMIN,
      ),
    });
    fc.assert(
      fc.property(fc.array(share, { maxLength: 25 }), (shares) => {
        const run = new Run([evt.ingested()]);
        for (const { by, to, permission } of shares) {
          const before = run.present.access;
          const admin =
            (before.get(by) ?? 0) >= Permission.ADMIN ||
            (before.get('*') ?? 0) >= Permission.ADMIN;
          const outcome = run.apply(cmd.share(to, permission, { actor: by }));
          if (!admin) expect(outcome).toBe(ErrorCode.UNAUTHORIZED);
          for (const [principal, held] of before.entries()) {
            expect(run.present.access.get(principal)).toBeGreaterThanOrEqual(
              held,
            );
          }
          if (typeof outcome !== 'number') {
            for (const p of to) {
              expect(run.present.access.get(p)).toBeGreaterThanOrEqual(
                permission,
              );
            }
          }
          expect([...(run.row?.access.entries() ?? [])]).toEqual([
            ...run.present.access.entries(),
          ]);
        }
      }),
    );
  });

  it('decides the same on a state and a row restored from a structured clone', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), step, (steps, next) => {
        const run = new Run([
          evt.ingested(),
          evt.commentAdded(),
          evt.shared(['user:b'], Permission.WRITE),
          evt.linked(),
        ]);
        for (const s of steps) run.apply(commandFor(s, run.present.headCid));
        const revived = reviveDocumentState(deserialize(serialize(run.state)));
        const row = reviveDocumentRow(deserialize(serialize(run.row)));
        const command = commandFor(next, run.present.headCid);
        const decide = (state: DocumentState) => {
          try {
            return documentDecider.decide(command, state);
          } catch (error) {
            return (error as DomainError).code;
          }
        };
        expect(decide(revived)).toEqual(decide(run.state));
        expect([...row.history.entries()]).toEqual([
          ...run.row!.history.entries(),
        ]);
        expect(row.cids.get(run.present.headCid)).toEqual(
          run.row!.cids.get(run.present.headCid),
        );
      }),
    );
  });
});
