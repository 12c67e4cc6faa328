import { describe, expect, it } from '@jest/globals';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  GENESIS_HASH,
  eventRecord,
  sealCommit,
  splitSealed,
} from '@cim/kernel';
import {
  CommandMetaSchema,
  CommitSchema,
} from '@cim/proto/cim/common/v1/envelope_pb';

describe('sealCommit encoding', () => {
  const cases = [
    { name: 'an empty commit', ms: 0, version: 0n, events: [], actor: '' },
    {
      name: 'one small event',
      ms: 1_700_000_000_123,
      version: 1n,
      events: [eventRecord('e1', 'NodeAdded', Uint8Array.of(1, 2, 3))],
      actor: 'user:a',
    },
    {
      name: 'several events, a large payload and multi-byte text',
      ms: 1_700_000_000_000,
      version: 2n ** 40n,
      events: [
        eventRecord('é', 'X', new Uint8Array(300).fill(7)),
        eventRecord('e2', 'Y', new Uint8Array(0)),
      ],
      actor: 'user:ß∂ƒ',
    },
  ];

  it.each(cases)(
    'writes $name exactly as the generated Commit encoder does',
    ({ ms, version, events, actor }) => {
      const meta = create(CommandMetaSchema, {
        commandId: 'c1',
        correlationId: 'corr',
        causationId: 'cause',
        actor,
      });
      const sealed = sealCommit({
        commitId: 'commit',
        domain: 'graph',
        aggregateType: 'Graph',
        aggregateId: 'agg',
        version,
        events,
        meta,
        occurredAtMs: ms,
        prevHash: GENESIS_HASH,
      });
      const reference = toBinary(
        CommitSchema,
        create(CommitSchema, {
          commitId: 'commit',
          commandId: 'c1',
          domain: 'graph',
          aggregateType: 'Graph',
          aggregateId: 'agg',
          version,
          events,
          actor,
          correlationId: 'corr',
          causationId: 'cause',
          ...(ms === 0 ? {} : { occurredAt: timestampFromMs(ms) }),
          prevHash: GENESIS_HASH,
        }),
      );
      expect(
        Buffer.from(splitSealed(sealed.bytes)!.unsealed).equals(
          Buffer.from(reference),
        ),
      ).toBe(true);
    },
  );
});
