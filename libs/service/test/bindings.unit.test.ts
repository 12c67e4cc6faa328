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
import { commandBuilder, encodeCommandResult } from '../src/bindings.js';

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
