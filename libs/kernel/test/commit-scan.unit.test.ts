import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  GENESIS_HASH,
  eventRecord,
  generateSigningKey,
  scanCommit,
  sealCommit,
  splitSealed,
} from '@cim/kernel';
import { CommandMetaSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  aggregateIdAt,
  commitLayout,
  scanCommitLayout,
  sealedHashAt,
} from '../src/commit-scan.js';
import { referenceScanCommit } from './reference-verifier.js';

/** A deterministic pseudo-random source (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const macKey = generateSigningKey().macKey;

function commit(
  options: {
    aggregateId?: string;
    version?: bigint;
    events?: number;
    prevHash?: Uint8Array;
    mac?: boolean;
  } = {},
): Uint8Array {
  return sealCommit({
    commitId: '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a70',
    domain: 'graph',
    aggregateType: 'Graph',
    aggregateId: options.aggregateId ?? 'g-1',
    version: options.version ?? 1n,
    events: Array.from({ length: options.events ?? 1 }, (_, i) =>
      eventRecord(
        `01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7${i}`,
        'NodeAdded',
        Uint8Array.of(i),
      ),
    ),
    meta: create(CommandMetaSchema, {
      commandId: '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a79',
      actor: 'user:test',
    }),
    occurredAtMs: Date.UTC(2025, 0, 2),
    prevHash: options.prevHash ?? GENESIS_HASH,
    macKey: options.mac === false ? undefined : macKey,
  }).bytes;
}

/** The stored commit with each kind of damage a fuzzer can think of. */
function variants(bytes: Uint8Array, next: () => number): Uint8Array[] {
  const out: Uint8Array[] = [bytes, bytes.subarray(0, 0), bytes.subarray(0, 1)];
  for (let k = 0; k < 40; k++) {
    const flipped = Uint8Array.from(bytes);
    const at = Math.floor(next() * bytes.length);
    flipped[at] = flipped[at]! ^ (1 << Math.floor(next() * 8));
    out.push(flipped);
    out.push(bytes.subarray(0, Math.floor(next() * bytes.length)));
    out.push(
      Uint8Array.from({ length: Math.floor(next() * 80) }, () =>
        Math.floor(next() * 256),
      ),
    );
  }
  return out;
}

describe('scanCommit', () => {
  it('reads aggregate id, version, event count and prev hash', () => {
    const prevHash = new Uint8Array(32).fill(9);
    const bytes = commit({
      aggregateId: 'graph-ü',
      version: 7n,
      events: 3,
      prevHash,
    });
    const fields = scanCommit(splitSealed(bytes)!.unsealed);
    expect(fields).toMatchObject({
      aggregateId: 'graph-ü',
      version: 7n,
      eventCount: 3,
    });
    expect(Buffer.from(fields!.prevHash!)).toEqual(Buffer.from(prevHash));
  });

  it('reads the same as the closure-based scanner it replaced, on commits and damaged bytes', () => {
    const next = random(42);
    for (const bytes of [
      commit(),
      commit({ mac: false, events: 0, version: 2n ** 60n }),
      commit({ prevHash: new Uint8Array(0), aggregateId: '' }),
    ]) {
      for (const input of [
        ...variants(bytes, next),
        ...variants(splitSealed(bytes)!.unsealed, next),
      ]) {
        expect(scanCommit(input)).toEqual(referenceScanCommit(input));
      }
    }
  });
});

describe('scanCommitLayout', () => {
  it('gives the ranges scanCommit reads, over a prefix of the bytes', () => {
    const bytes = commit({ aggregateId: 'g-42', version: 3n, events: 2 });
    const split = splitSealed(bytes)!;
    const layout = commitLayout();
    expect(scanCommitLayout(bytes, split.unsealed.length, layout)).toBe(true);
    expect(aggregateIdAt(bytes, layout)).toBe('g-42');
    expect(layout).toMatchObject({ version: 3, eventCount: 2 });
    expect(
      Buffer.from(bytes.subarray(layout.prevHashStart, layout.prevHashEnd)),
    ).toEqual(Buffer.from(GENESIS_HASH));
  });

  it('marks a missing prev hash and resets what an earlier scan left', () => {
    const layout = commitLayout();
    const withPrev = commit();
    scanCommitLayout(withPrev, splitSealed(withPrev)!.unsealed.length, layout);
    const without = commit({ prevHash: new Uint8Array(0) });
    expect(
      scanCommitLayout(without, splitSealed(without)!.unsealed.length, layout),
    ).toBe(true);
    expect(layout.prevHashStart).toBe(-1);
  });

  it('fails exactly where scanCommit fails', () => {
    const next = random(7);
    const layout = commitLayout();
    for (const input of variants(commit(), next)) {
      expect(scanCommitLayout(input, input.length, layout)).toBe(
        referenceScanCommit(input) !== undefined,
      );
    }
  });
});

describe('sealedHashAt', () => {
  it('cuts where splitSealed cuts, with and without a mac, on damaged bytes too', () => {
    const next = random(9);
    for (const bytes of [commit(), commit({ mac: false })]) {
      for (const input of variants(bytes, next)) {
        const split = splitSealed(input);
        const at = sealedHashAt(input);
        expect(at).toBe(split === undefined ? -1 : split.unsealed.length);
        if (split !== undefined)
          expect(Buffer.from(input.subarray(at + 2, at + 34))).toEqual(
            Buffer.from(split.hash),
          );
      }
    }
  });
});
