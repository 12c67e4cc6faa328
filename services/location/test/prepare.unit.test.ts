import { describe, expect, it } from '@jest/globals';
import { prepareCommand } from '../src/prepare.js';
import { LOCATION_ID, Stream, cmd, settledAtOnce } from './fixtures.js';

/**
 * A `settled` that resolves only when the test releases it: the stream held
 * commits the read model had not folded when the command arrived.
 */
function lagging(): {
  io: { settled: () => Promise<void>; reached: () => Promise<void> };
  release: () => void;
  calls: () => number;
} {
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  return {
    io: {
      settled: () => {
        calls++;
        return reached;
      },
      reached: settledAtOnce.reached,
    },
    release,
    calls: () => calls,
  };
}

describe('prepareCommand', () => {
  it('counts the live children for ArchiveLocation only once the read model holds what the stream held', async () => {
    const stream = new Stream().define(LOCATION_ID);
    const { io, release } = lagging();
    const prepared = prepareCommand(cmd.archive(), stream.model, io);
    // A child acknowledged before ArchiveLocation arrived, folded after it.
    stream.define('child-1', { parentId: LOCATION_ID });
    release();
    const { body } = await prepared;
    expect(body.case === 'archive' && body.value.children?.liveCount).toBe(1n);
  });

  it('reads the parent for SetParentLocation once the read model holds what the stream held', async () => {
    const stream = new Stream().define(LOCATION_ID);
    const { io, release } = lagging();
    const prepared = prepareCommand(
      cmd.setParent('parent-1'),
      stream.model,
      io,
    );
    stream.define('parent-1');
    release();
    const { body } = await prepared;
    expect(
      body.case === 'setParent' &&
        body.value.parentFacts?.ancestry[0]?.locationId,
    ).toBe('parent-1');
  });

  it('waits for parent_min_version instead, where the client names it', async () => {
    const stream = new Stream().define(LOCATION_ID).define('parent-1');
    const { io, calls } = lagging();
    const command = cmd.setParent('parent-1');
    if (command.body.case === 'setParent')
      command.body.value.parentMinVersion = 1n;
    const { body } = await prepareCommand(command, stream.model, io);
    expect(calls()).toBe(0);
    expect(
      body.case === 'setParent' &&
        body.value.parentFacts?.ancestry[0]?.locationId,
    ).toBe('parent-1');
  });
});
