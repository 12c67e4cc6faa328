import { createHash, type KeyObject } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  FindingKind,
  GENESIS_HASH,
  StreamVerifier,
  eventRecord,
  generateSigningKey,
  sealCommit,
  signCheckpoint,
  splitSealed,
  type CheckpointDraft,
  type SigningKey,
  type VerifyReport,
} from '@cim/kernel';
import { CommandMetaSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  ReferenceVerifier,
  referenceMerkleRoot,
  referenceScanCommit,
} from './reference-verifier.js';

interface Message {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/** A deterministic pseudo-random source (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = generateSigningKey();
const keys: ReadonlyMap<string, KeyObject> = new Map([
  [key.keyId, key.publicKey],
]);
const CHK = 'cim.graph.chk';
const subjectOf = (aggregateId: string) => `cim.graph.evt.${aggregateId}`;
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

interface CommitOptions {
  aggregateId: string;
  version: bigint;
  events?: number;
  prevHash: Uint8Array;
  mac?: boolean;
}

function commit(options: CommitOptions) {
  return sealCommit({
    commitId: `c-${options.aggregateId}-${options.version}`,
    domain: 'graph',
    aggregateType: 'Graph',
    aggregateId: options.aggregateId,
    version: options.version,
    events: Array.from({ length: options.events ?? 1 }, (_, i) =>
      eventRecord(`e-${i}`, 'NodeAdded', Uint8Array.of(i, 1, 2)),
    ),
    meta: create(CommandMetaSchema, { commandId: 'cmd', actor: 'user:test' }),
    occurredAtMs: Date.UTC(2025, 0, 2),
    prevHash: options.prevHash,
    macKey: options.mac === false ? undefined : key.macKey,
  });
}

function checkpoint(
  draft: Partial<CheckpointDraft> & { firstSeq: number; lastSeq: number },
  by: SigningKey = key,
): Uint8Array {
  return signCheckpoint(
    {
      domain: 'graph',
      commitCount: 0,
      merkleRoot: referenceMerkleRoot([]),
      excludedSeqs: [],
      prevCheckpointHash: GENESIS_HASH,
      sealedAtMs: Date.UTC(2025, 0, 3),
      ...draft,
    },
    by,
  );
}

/**
 * A sealed stream as the service writes it: `commits` commits over
 * `aggregates` aggregates, a checkpoint after every `checkpointEvery`
 * commits (the commits after the last one stay unsealed), the sequences that
 * `excluded` picks listed as excluded instead of sealed.
 */
function stream(options: {
  commits: number;
  aggregates: number;
  checkpointEvery: number;
  next?: () => number;
  excluded?: ((seq: number) => boolean) | undefined;
}): Message[] {
  const next = options.next ?? random(1);
  const heads = new Map<string, { hash: Uint8Array; version: bigint }>();
  const messages: Message[] = [];
  let pending: Array<{ seq: number; hash: Uint8Array }> = [];
  let covered = 0;
  let prevCheckpoint = GENESIS_HASH;
  for (let i = 0; i < options.commits; i++) {
    const aggregateId = `agg-${Math.floor(next() * options.aggregates)}`;
    const head = heads.get(aggregateId) ?? {
      hash: GENESIS_HASH,
      version: 0n,
    };
    const events = next() < 0.2 ? 2 : 1;
    const sealed = commit({
      aggregateId,
      version: head.version + BigInt(events),
      events,
      prevHash: head.hash,
      mac: next() < 0.8,
    });
    heads.set(aggregateId, {
      hash: sealed.hash,
      version: head.version + BigInt(events),
    });
    const seq = messages.length + 1;
    messages.push({ seq, subject: subjectOf(aggregateId), data: sealed.bytes });
    pending.push({ seq, hash: sealed.hash });
    if (pending.length === options.checkpointEvery) {
      const excludedSeqs = pending
        .map((p) => p.seq)
        .filter((s) => options.excluded?.(s) ?? false);
      const sealedHashes = pending
        .filter((p) => !excludedSeqs.includes(p.seq))
        .map((p) => p.hash);
      const bytes = checkpoint({
        firstSeq: covered + 1,
        lastSeq: seq,
        commitCount: sealedHashes.length,
        merkleRoot: referenceMerkleRoot(sealedHashes),
        excludedSeqs,
        prevCheckpointHash: prevCheckpoint,
      });
      messages.push({ seq: seq + 1, subject: CHK, data: bytes });
      prevCheckpoint = sha(bytes);
      covered = seq;
      pending = [];
    }
  }
  return messages;
}

/**
 * Runs the StreamVerifier and the reference verifier (the implementation it
 * replaced) over the same messages, expects the same report from both, and
 * returns it.
 */
function verify(
  messages: readonly Message[],
  options: {
    lastSeq?: number;
    aggregate?: string | undefined;
    keys?: ReadonlyMap<string, KeyObject>;
  } = {},
): VerifyReport {
  const trusted = options.keys ?? keys;
  const fast = new StreamVerifier('graph', trusted, options.aggregate);
  const reference = new ReferenceVerifier('graph', trusted, options.aggregate);
  for (const m of messages) {
    fast.add(m.seq, m.subject, m.data);
    reference.add(m.seq, m.subject, m.data);
  }
  const lastSeq =
    options.lastSeq ?? messages.reduce((max, m) => Math.max(max, m.seq), 0);
  const report = fast.finish(lastSeq);
  expect(report).toEqual(reference.finish(lastSeq));
  return report;
}

const kinds = (report: VerifyReport) =>
  [...new Set(report.findings.map((f) => f.kind))].sort();

const flip = (messages: readonly Message[], index: number, byte: number) =>
  messages.map((m, i) => {
    if (i !== index) return m;
    const data = Uint8Array.from(m.data);
    data[byte] = data[byte]! ^ 0x01;
    return { ...m, data };
  });

/** Drops messages and numbers the rest 1.. again, as a rebuilt stream would. */
const renumbered = (messages: readonly Message[]) =>
  messages.map((m, i) => ({ ...m, seq: i + 1 }));

describe('StreamVerifier', () => {
  describe('when the stream is untouched', () => {
    it('reports it clean, every count right, the tail unsealed', () => {
      const messages = stream({
        commits: 95,
        aggregates: 7,
        checkpointEvery: 20,
      });
      const report = verify(messages);
      expect(report.findings).toEqual([]);
      expect(report).toMatchObject({
        domain: 'graph',
        messages: 99,
        commits: 95,
        checkpoints: 4,
        aggregates: 7,
        clean: true,
        unsealed: { commits: 15, fromSeq: 85, toSeq: 99 },
      });
    });

    it('reports an empty stream clean', () => {
      expect(verify([], { lastSeq: 0 })).toMatchObject({
        clean: true,
        commits: 0,
        unsealed: { commits: 0, fromSeq: 0, toSeq: 0 },
      });
    });
  });

  describe('when one byte of a stored commit is flipped', () => {
    const messages = stream({ commits: 12, aggregates: 3, checkpointEvery: 5 });
    const last34 = (m: Message) => m.data[m.data.length - 34];
    const withMac = messages.findIndex(
      (m) => m.subject !== CHK && last34(m) === ((14 << 3) | 2),
    );
    const withoutMac = messages.findIndex(
      (m) => m.subject !== CHK && last34(m) === ((13 << 3) | 2),
    );

    it('finds every flipped byte the hash or Merkle root covers, whichever byte it is', () => {
      expect(withMac).toBeGreaterThanOrEqual(0);
      const { data } = messages[withMac]!;
      for (let byte = 0; byte < data.length; byte++) {
        const report = verify(flip(messages, withMac, byte));
        // The mac is not covered by the hash: only a service key can check it.
        const inMac = byte >= data.length - 32;
        expect({ byte, clean: report.clean }).toEqual({
          byte,
          clean: inMac,
        });
      }
    });

    it('finds it in a commit without mac too', () => {
      expect(withoutMac).toBeGreaterThanOrEqual(0);
      const { data } = messages[withoutMac]!;
      for (let byte = 0; byte < data.length; byte++) {
        const report = verify(flip(messages, withoutMac, byte));
        expect({ byte, clean: report.clean }).toEqual({ byte, clean: false });
      }
    });

    it('reports a content byte as a broken chain of that aggregate', () => {
      const report = verify(flip(messages, 0, 20));
      expect(report.findings[0]).toMatchObject({
        kind: FindingKind.brokenChain,
        seq: 1,
        message: expect.stringContaining('does not match its hash'),
      });
    });

    it('reports a hash byte as a broken chain and a Merkle mismatch', () => {
      const at = splitSealed(messages[0]!.data)!.unsealed.length + 2;
      expect(kinds(verify(flip(messages, 0, at + 5)))).toEqual([
        FindingKind.brokenChain,
        FindingKind.merkleMismatch,
      ]);
    });
  });

  describe('when one byte of a checkpoint is flipped', () => {
    it('finds it, whichever byte it is', () => {
      const messages = stream({
        commits: 10,
        aggregates: 2,
        checkpointEvery: 5,
      });
      const index = messages.findIndex((m) => m.subject === CHK);
      for (let byte = 0; byte < messages[index]!.data.length; byte++) {
        const report = verify(flip(messages, index, byte));
        expect({ byte, clean: report.clean }).toEqual({ byte, clean: false });
      }
    });
  });

  describe('when messages are removed, repeated or reordered', () => {
    const messages = stream({ commits: 30, aggregates: 3, checkpointEvery: 8 });

    it('reports deleted sequences as a gap, and a deleted tail', () => {
      const without = messages.filter((m) => m.seq !== 4);
      expect(kinds(verify(without))).toContain(FindingKind.sequenceGap);
      const report = verify(messages.slice(0, -3), {
        lastSeq: messages.length,
      });
      expect(report.findings).toEqual([
        {
          kind: FindingKind.sequenceGap,
          seq: messages.length - 2,
          message: `sequences ${messages.length - 2}..${messages.length} are missing`,
        },
      ]);
    });

    it('reports a commit dropped from a rebuilt stream', () => {
      const report = verify(renumbered(messages.filter((m) => m.seq !== 3)));
      expect(report.clean).toBe(false);
      expect(kinds(report)).toContain(FindingKind.merkleMismatch);
    });

    it('reports a commit replayed at the end', () => {
      const replay = { ...messages[2]!, seq: messages.length + 1 };
      expect(kinds(verify([...messages, replay]))).toEqual([
        FindingKind.brokenChain,
        FindingKind.versionGap,
      ]);
    });

    it('reports two commits swapped', () => {
      const swapped = [...messages];
      [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
      expect(verify(renumbered(swapped)).clean).toBe(false);
    });

    it('reports a removed checkpoint as a checkpoint chain break', () => {
      const chk = messages.find((m) => m.subject === CHK)!;
      const report = verify(renumbered(messages.filter((m) => m !== chk)));
      expect(kinds(report)).toContain(FindingKind.checkpointChain);
    });
  });

  describe('when checkpoints do not match what is stored', () => {
    const messages = stream({ commits: 6, aggregates: 2, checkpointEvery: 6 });
    const hashes = messages
      .filter((m) => m.subject !== CHK)
      .map((m) => splitSealed(m.data)!.hash);
    const withCheckpoint = (bytes: Uint8Array) => [
      ...messages.slice(0, 6),
      { seq: 7, subject: CHK, data: bytes },
    ];

    it('reports a wrong Merkle root', () => {
      const report = verify(
        withCheckpoint(
          checkpoint({
            firstSeq: 1,
            lastSeq: 6,
            commitCount: 6,
            merkleRoot: referenceMerkleRoot(hashes.slice(1)),
          }),
        ),
      );
      expect(report.findings).toEqual([
        {
          kind: FindingKind.merkleMismatch,
          seq: 7,
          message:
            'checkpoint over 1..6 does not match the 6 commits stored there',
        },
      ]);
    });

    it('reports a wrong count', () => {
      const report = verify(
        withCheckpoint(
          checkpoint({
            firstSeq: 1,
            lastSeq: 6,
            commitCount: 5,
            merkleRoot: referenceMerkleRoot(hashes),
          }),
        ),
      );
      expect(kinds(report)).toEqual([FindingKind.merkleMismatch]);
    });

    it('reports an unknown key and a bad signature', () => {
      const good = checkpoint({
        firstSeq: 1,
        lastSeq: 6,
        commitCount: 6,
        merkleRoot: referenceMerkleRoot(hashes),
      });
      expect(verify(withCheckpoint(good)).clean).toBe(true);
      expect(kinds(verify(withCheckpoint(good), { keys: new Map() }))).toEqual([
        FindingKind.unknownKey,
      ]);
      const forgedSignature = Uint8Array.from(good);
      const last = forgedSignature.length - 1;
      forgedSignature[last] = forgedSignature[last]! ^ 0x01;
      expect(kinds(verify(withCheckpoint(forgedSignature)))).toEqual([
        FindingKind.badSignature,
      ]);
    });

    it('counts a checkpoint another key signed for neither chain nor coverage', () => {
      const good = checkpoint({
        firstSeq: 1,
        lastSeq: 6,
        commitCount: 6,
        merkleRoot: referenceMerkleRoot(hashes),
      });
      const stranger = generateSigningKey();
      // Claims far more than is stored, and chains to nothing.
      const forged = checkpoint({ firstSeq: 1, lastSeq: 1000 }, stranger);
      const report = verify([
        ...withCheckpoint(good),
        { seq: 8, subject: CHK, data: forged },
      ]);
      expect(report.findings).toEqual([
        {
          kind: FindingKind.unknownKey,
          seq: 8,
          message: `checkpoint signed by unknown key ${stranger.keyId}`,
        },
      ]);
      expect(report.unsealed.commits).toBe(0);
    });

    it('reports commits a checkpoint leaves out, and one whose range is inverted', () => {
      const skipping = checkpoint({
        firstSeq: 3,
        lastSeq: 6,
        commitCount: 4,
        merkleRoot: referenceMerkleRoot(hashes.slice(2)),
      });
      const report = verify(withCheckpoint(skipping));
      expect(report.findings.map((f) => f.message)).toEqual([
        'checkpoint covers 3..6 but the previous one ended at 0',
        'commits 1..2 are covered by no checkpoint',
      ]);
      const inverted = checkpoint({ firstSeq: 5, lastSeq: 2 });
      const second = verify(withCheckpoint(inverted));
      expect(kinds(second)).toEqual([FindingKind.checkpointChain]);
      expect(second.unsealed).toEqual({ commits: 4, fromSeq: 3, toSeq: 6 });
    });

    it('reports an unreadable checkpoint and unreadable commits', () => {
      const garbage = [
        ...messages.slice(0, 6),
        { seq: 7, subject: CHK, data: Uint8Array.of(1, 2, 3) },
        { seq: 8, subject: subjectOf('agg-0'), data: new Uint8Array(0) },
        {
          seq: 9,
          subject: subjectOf('agg-0'),
          data: messages[0]!.data.subarray(0, 50),
        },
      ];
      expect(verify(garbage).findings.map((f) => [f.kind, f.seq])).toEqual([
        [FindingKind.unreadable, 7],
        [FindingKind.unreadable, 8],
        [FindingKind.unreadable, 9],
      ]);
    });
  });

  describe('when a checkpoint excludes commits the service did not write', () => {
    const messages = stream({
      commits: 20,
      aggregates: 3,
      checkpointEvery: 10,
      excluded: (seq) => seq === 4 || seq === 15,
    });

    it('reports each of them as forged and the rest as sealed', () => {
      const report = verify(messages);
      expect(
        report.findings.map((f) => [f.kind, f.seq, f.aggregateId]),
      ).toEqual([
        [FindingKind.forgedCommit, 4, messages[3]!.subject.split('.').pop()],
        [FindingKind.forgedCommit, 15, messages[14]!.subject.split('.').pop()],
      ]);
    });

    it('reports only those of the aggregate asked about', () => {
      const aggregateId = messages[3]!.subject.split('.').pop()!;
      const report = verify(messages, { aggregate: aggregateId });
      expect(report.findings.every((f) => f.aggregateId === aggregateId)).toBe(
        true,
      );
      expect(report.findings.map((f) => f.seq)).toContain(4);
      expect(report.aggregates).toBe(1);
    });
  });

  describe('when asked about one aggregate', () => {
    it('walks only its chain, and still checks every checkpoint', () => {
      const messages = stream({
        commits: 30,
        aggregates: 3,
        checkpointEvery: 10,
      });
      const index = messages.findIndex((m) => m.subject.endsWith('agg-1'));
      const tampered = flip(messages, index, 20);
      expect(kinds(verify(tampered, { aggregate: 'agg-1' }))).toEqual([
        FindingKind.brokenChain,
      ]);
      expect(verify(tampered, { aggregate: 'agg-2' }).clean).toBe(true);
      const other = messages.findIndex((m) => m.subject === CHK);
      expect(
        kinds(verify(flip(tampered, other, 3), { aggregate: 'agg-2' })),
      ).toContain(FindingKind.badSignature);
    });
  });

  describe('when commits are unusual but well formed', () => {
    /** Seals `unsealed` (a commit without hash) under `prevHash`, with no mac. */
    const reseal = (unsealed: Uint8Array, prevHash: Uint8Array) => {
      const hash = createHash('sha256')
        .update(prevHash)
        .update(unsealed)
        .digest();
      return Uint8Array.from([...unsealed, (13 << 3) | 2, 32, ...hash]);
    };

    it('checks versions beyond 2^53 exactly as bigints', () => {
      const a = commit({
        aggregateId: 'big',
        version: 2n ** 53n,
        prevHash: GENESIS_HASH,
      });
      const b = commit({
        aggregateId: 'big',
        version: 2n ** 53n + 1n,
        prevHash: a.hash,
      });
      const c = commit({
        aggregateId: 'big',
        version: 2n ** 60n,
        prevHash: b.hash,
      });
      const report = verify([
        { seq: 1, subject: subjectOf('big'), data: a.bytes },
        { seq: 2, subject: subjectOf('big'), data: b.bytes },
        { seq: 3, subject: subjectOf('big'), data: c.bytes },
      ]);
      // 2^53 + 1 reads as 2^53 (the varint is read into a double), which a
      // bigint sum tells apart from 2^53 + 1 where a double sum would not.
      expect(report.findings.map((f) => f.message)).toEqual([
        'big jumps from version 0 to 9007199254740992 with 1 events',
        'big jumps from version 9007199254740992 to 9007199254740992 with 1 events',
        'big jumps from version 9007199254740992 to 1152921504606846976 with 1 events',
      ]);
    });

    it('treats a commit without prev hash as chained to nothing', () => {
      const first = commit({
        aggregateId: 'x',
        version: 1n,
        prevHash: new Uint8Array(0),
      });
      expect(
        referenceScanCommit(splitSealed(first.bytes)!.unsealed)?.prevHash,
      ).toBe(undefined);
      const report = verify([
        { seq: 1, subject: subjectOf('x'), data: first.bytes },
      ]);
      expect(report.findings.map((f) => f.message)).toEqual([
        'commit of x does not chain to its predecessor',
      ]);
    });

    it('keys aggregates by their decoded id, as invalid UTF-8 decodes', () => {
      // Two ids whose bytes differ but decode to the same string share one chain.
      const placeholder = new Uint8Array(32).fill(0xab);
      const bytesOf = (version: bigint, prevHash: Uint8Array) =>
        Uint8Array.from(
          splitSealed(commit({ aggregateId: 'zq', version, prevHash }).bytes)!
            .unsealed,
        );
      // aggregate_id is field 5: tag 0x2a, length 2, then the id.
      const idField = Buffer.from([0x2a, 2, ...Buffer.from('zq')]);
      const unsealedA = bytesOf(1n, GENESIS_HASH);
      unsealedA[Buffer.from(unsealedA).indexOf(idField) + 3] = 0xff;
      const first = reseal(unsealedA, GENESIS_HASH);
      const firstHash = splitSealed(first)!.hash;
      const unsealedB = bytesOf(2n, placeholder);
      unsealedB[Buffer.from(unsealedB).indexOf(idField) + 3] = 0xfe;
      unsealedB.set(firstHash, Buffer.from(unsealedB).indexOf(placeholder));
      const second = reseal(unsealedB, firstHash);
      const report = verify([
        { seq: 1, subject: subjectOf('z'), data: first },
        { seq: 2, subject: subjectOf('z'), data: second },
      ]);
      expect(report).toMatchObject({ clean: true, aggregates: 1 });
    });
  });

  describe('when the stream is damaged at random', () => {
    it('reports exactly what the implementation it replaced reports', () => {
      const next = random(2024);
      const pick = <T>(items: readonly T[]): T =>
        items[Math.floor(next() * items.length)]!;
      for (let round = 0; round < 150; round++) {
        let messages: Message[] = stream({
          commits: 5 + Math.floor(next() * 40),
          aggregates: 1 + Math.floor(next() * 5),
          checkpointEvery: 1 + Math.floor(next() * 12),
          next,
          excluded: next() < 0.2 ? () => next() < 0.1 : undefined,
        });
        const damage = Math.floor(next() * 4);
        for (let d = 0; d < damage && messages.length > 0; d++) {
          const index = Math.floor(next() * messages.length);
          const target = messages[index]!;
          switch (
            pick([
              'flip',
              'drop',
              'repeat',
              'swap',
              'cut',
              'rebuild',
              'subject',
            ])
          ) {
            case 'flip':
              messages = flip(
                messages,
                index,
                Math.floor(next() * target.data.length),
              );
              break;
            case 'drop':
              messages = messages.filter((_, i) => i !== index);
              break;
            case 'repeat':
              messages = [
                ...messages,
                { ...target, seq: messages[messages.length - 1]!.seq + 1 },
              ];
              break;
            case 'swap': {
              const other = Math.floor(next() * messages.length);
              messages = messages.map((m, i) =>
                i === index
                  ? { ...messages[other]!, seq: m.seq }
                  : i === other
                    ? { ...target, seq: m.seq }
                    : m,
              );
              break;
            }
            case 'cut':
              messages = messages.map((m, i) =>
                i === index
                  ? {
                      ...m,
                      data: m.data.subarray(
                        0,
                        Math.floor(next() * m.data.length),
                      ),
                    }
                  : m,
              );
              break;
            case 'rebuild':
              messages = renumbered(messages.filter((_, i) => i !== index));
              break;
            case 'subject':
              messages = messages.map((m, i) =>
                i === index
                  ? {
                      ...m,
                      subject: m.subject === CHK ? subjectOf('agg-0') : CHK,
                    }
                  : m,
              );
              break;
          }
        }
        const aggregate =
          next() < 0.25 ? `agg-${Math.floor(next() * 3)}` : undefined;
        verify(messages, {
          aggregate,
          lastSeq:
            (messages[messages.length - 1]?.seq ?? 0) + Math.floor(next() * 2),
        });
      }
    });
  });
});
