import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { clone, create, toBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import {
  GENESIS_HASH,
  HASH_BYTES,
  chainHash,
  decodeCommit,
  eventRecord,
  sameHash,
  sealCommit,
  splitSealed,
  type CommitDraft,
} from '@cim/kernel';
import {
  CommandMetaSchema,
  CommitSchema,
} from '@cim/proto/cim/common/v1/envelope_pb';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** An independent SHA-256(prev ‖ unsealed), built with node:crypto on one concatenated buffer. */
const sha256 = (prev: Uint8Array, unsealed: Uint8Array): Uint8Array =>
  createHash('sha256')
    .update(Buffer.concat([prev, unsealed]))
    .digest();

function draft(overrides: Partial<CommitDraft> = {}): CommitDraft {
  return {
    commitId: '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a70',
    domain: 'graph',
    aggregateType: 'Graph',
    aggregateId: 'g-1',
    version: 2n,
    events: [
      eventRecord(
        '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a71',
        'NodeAdded',
        utf8('a'),
      ),
      eventRecord(
        '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a72',
        'NodeAdded',
        utf8('b'),
      ),
    ],
    meta: create(CommandMetaSchema, {
      commandId: '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a73',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      actor: 'user:test',
    }),
    occurredAtMs: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
    prevHash: GENESIS_HASH,
    ...overrides,
  };
}

describe('sealCommit', () => {
  describe('when sealing the first commit of an aggregate', () => {
    const sealed = sealCommit(draft());

    it('returns a 32-byte hash', () => {
      expect(sealed.hash).toHaveLength(HASH_BYTES);
    });

    it('hashes SHA-256(genesis ‖ unsealed bytes)', () => {
      const split = splitSealed(sealed.bytes);
      expect(split).toBeDefined();
      expect(Buffer.from(sha256(GENESIS_HASH, split!.unsealed))).toEqual(
        Buffer.from(sealed.hash),
      );
    });

    it('hashes exactly the encoding of the commit without its hash field', () => {
      const commit = clone(CommitSchema, decodeCommit(sealed.bytes));
      commit.hash = new Uint8Array();
      const unsealed = toBinary(CommitSchema, commit);
      expect(Buffer.from(sha256(GENESIS_HASH, unsealed))).toEqual(
        Buffer.from(sealed.hash),
      );
    });

    it('decodes to a Commit whose hash field equals the returned hash', () => {
      expect(Buffer.from(decodeCommit(sealed.bytes).hash)).toEqual(
        Buffer.from(sealed.hash),
      );
    });

    it('decodes to a Commit carrying every field of the draft', () => {
      const d = draft();
      const commit = decodeCommit(sealed.bytes);
      expect(commit).toMatchObject({
        commitId: d.commitId,
        commandId: d.meta.commandId,
        domain: 'graph',
        aggregateType: 'Graph',
        aggregateId: 'g-1',
        version: 2n,
        actor: 'user:test',
        correlationId: 'corr-1',
        causationId: 'cause-1',
      });
      expect(timestampMs(commit.occurredAt!)).toBe(d.occurredAtMs);
      expect(Buffer.from(commit.prevHash)).toEqual(Buffer.from(GENESIS_HASH));
      expect(
        commit.events.map((e) => [e.eventId, e.eventType, e.payload]),
      ).toEqual(d.events.map((e) => [e.eventId, e.eventType, e.payload]));
    });

    it('re-encodes the decoded Commit to the same bytes', () => {
      expect(
        Buffer.from(toBinary(CommitSchema, decodeCommit(sealed.bytes))),
      ).toEqual(Buffer.from(sealed.bytes));
    });

    it('is deterministic for the same draft', () => {
      const again = sealCommit(draft());
      expect(Buffer.from(again.bytes)).toEqual(Buffer.from(sealed.bytes));
    });
  });

  describe('when sealing a later commit', () => {
    it('chains to the previous commit hash', () => {
      const first = sealCommit(draft({ version: 1n }));
      const second = sealCommit(draft({ version: 2n, prevHash: first.hash }));
      const split = splitSealed(second.bytes)!;
      expect(Buffer.from(sha256(first.hash, split.unsealed))).toEqual(
        Buffer.from(second.hash),
      );
      expect(Buffer.from(decodeCommit(second.bytes).prevHash)).toEqual(
        Buffer.from(first.hash),
      );
    });

    it('gives a different hash for a different previous hash', () => {
      const a = sealCommit(draft({ prevHash: new Uint8Array(32).fill(1) }));
      const b = sealCommit(draft({ prevHash: new Uint8Array(32).fill(2) }));
      expect(sameHash(a.hash, b.hash)).toBe(false);
    });
  });

  describe('when any byte of the stored commit changes', () => {
    it('no longer verifies', () => {
      const { bytes } = sealCommit(draft());
      for (let i = 0; i < bytes.length; i++) {
        const tampered = Uint8Array.from(bytes);
        tampered[i] = tampered[i]! ^ 0x01;
        const split = splitSealed(tampered);
        const verifies =
          split !== undefined &&
          sameHash(chainHash(GENESIS_HASH, split.unsealed), split.hash);
        expect({ byte: i, verifies }).toEqual({ byte: i, verifies: false });
      }
    });

    it('verifies when nothing changed', () => {
      const { bytes } = sealCommit(draft());
      const split = splitSealed(bytes)!;
      expect(
        sameHash(chainHash(GENESIS_HASH, split.unsealed), split.hash),
      ).toBe(true);
    });
  });
});

describe('chainHash', () => {
  describe('when given a previous hash and bytes', () => {
    it('equals SHA-256 of their concatenation', () => {
      const prev = new Uint8Array(32).fill(7);
      const unsealed = utf8('commit bytes');
      expect(Buffer.from(chainHash(prev, unsealed))).toEqual(
        Buffer.from(sha256(prev, unsealed)),
      );
    });

    it('hashes the plain concatenation, with no length prefix', () => {
      expect(
        sameHash(
          chainHash(utf8('ab'), utf8('c')),
          chainHash(utf8('a'), utf8('bc')),
        ),
      ).toBe(true);
      expect(
        sameHash(
          chainHash(utf8('ab'), utf8('c')),
          chainHash(utf8('ab'), utf8('d')),
        ),
      ).toBe(false);
    });
  });
});

describe('splitSealed', () => {
  describe('when the bytes end with a hash field', () => {
    it('returns the unsealed prefix and the hash', () => {
      const sealed = sealCommit(draft());
      const split = splitSealed(sealed.bytes)!;
      expect(split.unsealed.length).toBe(sealed.bytes.length - 2 - HASH_BYTES);
      expect(Buffer.from(split.hash)).toEqual(Buffer.from(sealed.hash));
    });
  });

  describe('when the bytes carry no trailing hash field', () => {
    it('rejects an unsealed commit', () => {
      const sealed = sealCommit(draft());
      const unsealed = splitSealed(sealed.bytes)!.unsealed;
      expect(splitSealed(unsealed)).toBeUndefined();
    });

    it('rejects a commit whose hash was cut short', () => {
      const { bytes } = sealCommit(draft());
      expect(splitSealed(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    });

    it('rejects bytes shorter than a hash field', () => {
      expect(splitSealed(new Uint8Array(33))).toBeUndefined();
      expect(splitSealed(new Uint8Array())).toBeUndefined();
    });

    it('rejects a hash field with a different tag', () => {
      const bytes = Uint8Array.from(sealCommit(draft()).bytes);
      bytes[bytes.length - 2 - HASH_BYTES] = (12 << 3) | 2;
      expect(splitSealed(bytes)).toBeUndefined();
    });
  });
});

describe('decodeCommit', () => {
  describe('when the bytes are not a commit', () => {
    it('throws', () => {
      expect(() => decodeCommit(Uint8Array.of(0xff, 0xff, 0xff))).toThrow();
    });
  });
});

describe('sameHash', () => {
  describe('when comparing hashes', () => {
    it('is true for equal bytes in different arrays', () => {
      expect(
        sameHash(new Uint8Array(32).fill(3), new Uint8Array(32).fill(3)),
      ).toBe(true);
    });

    it('is false for one differing byte or a different length', () => {
      const a = new Uint8Array(32);
      const b = new Uint8Array(32);
      b[31] = 1;
      expect(sameHash(a, b)).toBe(false);
      expect(sameHash(a, new Uint8Array(31))).toBe(false);
    });
  });
});
