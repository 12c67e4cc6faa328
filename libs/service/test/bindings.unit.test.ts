import { describe, expect, it } from '@jest/globals';
import { create, equals, toBinary } from '@bufbuild/protobuf';
import { uuidv7 } from '@cim/kernel';
import {
  CommandMetaSchema,
  CommandResultSchema,
} from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AddNodeSchema,
  GraphCommandSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { DomainError, ErrorCode } from '@cim/kernel';
import { Header } from '@cim/messaging';
import { headers } from '@nats-io/nats-core';
import {
  commandBuilder,
  commandMeta,
  encodeCommandResult,
} from '../src/bindings.js';

describe('encodeCommandResult', () => {
  const cases: Array<[string, bigint, string[], number]> = [
    ['graph-1', 1n, [uuidv7()], 1],
    ['graph-2', 0n, [], 0],
    ['', 300n, [uuidv7(), uuidv7(), ''], 2 ** 40],
    ['grüße-ü', 2n ** 53n - 1n, ['é'], Number.MAX_SAFE_INTEGER],
  ];
  it.each(cases)(
    'writes what the generated encoder writes (%s, %s)',
    (aggregateId, version, eventIds, streamSequence) => {
      const commandId = uuidv7();
      expect(
        Buffer.from(
          encodeCommandResult(
            commandId,
            aggregateId,
            version,
            eventIds,
            streamSequence,
          ),
        ),
      ).toEqual(
        Buffer.from(
          toBinary(
            CommandResultSchema,
            create(CommandResultSchema, {
              commandId,
              aggregateId,
              version,
              eventIds,
              streamSequence: BigInt(streamSequence),
            }),
          ),
        ),
      );
    },
  );
});

describe('commandBuilder', () => {
  it('builds the command create() builds', () => {
    const meta = create(CommandMetaSchema, {
      commandId: uuidv7(),
      actor: 'external:test',
    });
    const body = create(AddNodeSchema, { graphId: 'g', label: 'x' });
    const built = commandBuilder(GraphCommandSchema, 'addNode')(meta, body);
    const expected = create(GraphCommandSchema, {
      meta,
      body: { case: 'addNode', value: body },
    });
    expect(equals(GraphCommandSchema, built as never, expected)).toBe(true);
    expect(toBinary(GraphCommandSchema, built as never)).toEqual(
      toBinary(GraphCommandSchema, expected),
    );
  });
});

describe('commandMeta', () => {
  it('reads every Cim-* header, ignoring others', () => {
    const id = uuidv7();
    const h = headers();
    h.set('X-Other', 'x');
    h.set(Header.commandId, id);
    h.set(Header.correlationId, 'corr');
    h.set(Header.causationId, 'cause');
    h.set(Header.actor, 'user:1');
    h.set(Header.expectedVersion, '42');
    expect(commandMeta({ headers: h }, 'external:nats')).toEqual(
      create(CommandMetaSchema, {
        commandId: id,
        correlationId: 'corr',
        causationId: 'cause',
        actor: 'user:1',
        expectedVersion: 42n,
      }),
    );
  });

  it('fills in a fresh id and defaults when headers are missing', () => {
    for (const h of [undefined, headers()]) {
      const meta = commandMeta({ headers: h }, 'external:nats');
      expect(meta.commandId).toMatch(/^[0-9a-f-]{36}$/);
      expect(meta.correlationId).toBe(meta.commandId);
      expect(meta.causationId).toBe(meta.commandId);
      expect(meta.actor).toBe('external:nats');
      expect(meta.expectedVersion).toBe(0n);
    }
  });

  it('rejects a malformed command id or version with VALIDATION_FAILED', () => {
    const badId = headers();
    badId.set(Header.commandId, 'not-a-uuid');
    const badVersion = headers();
    badVersion.set(Header.expectedVersion, '-1');
    for (const h of [badId, badVersion]) {
      let thrown: unknown;
      try {
        commandMeta({ headers: h }, 'external:nats');
      } catch (error) {
        thrown = error;
      }
      expect(DomainError.is(thrown) && thrown.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
    }
  });
});
