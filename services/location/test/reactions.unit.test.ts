import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  LocationCommandSchema,
  VerifyLocationHierarchySchema,
} from '@cim/proto/cim/location/v1/location_pb';
import type { ForeignEventMeta } from '@cim/service';
import { prepareCommand } from '../src/prepare.js';
import { verifyHierarchyReaction } from '../src/reactions.js';
import {
  LOCATION_ID,
  Stream,
  commitMeta,
  evt,
  settledAtOnce,
} from './fixtures.js';

const meta = (version: number): ForeignEventMeta => ({
  ...commitMeta(LOCATION_ID, version),
  domain: 'location',
  eventType: 'ParentLocationSet',
});

describe('verify-hierarchy reaction', () => {
  it('answers ParentLocationSet with a check at the version it made', () => {
    expect(
      verifyHierarchyReaction.react(evt.parentSet('campus'), meta(4)),
    ).toEqual([
      {
        case: 'verifyHierarchy',
        value: create(VerifyLocationHierarchySchema, {
          locationId: LOCATION_ID,
          observedVersion: 4n,
        }),
      },
    ]);
  });

  it('answers any other event with nothing', () => {
    expect(
      verifyHierarchyReaction.react(evt.parentRemoved('campus'), meta(4)),
    ).toEqual([]);
    expect(
      verifyHierarchyReaction.react(evt.defined({ parentId: 'x' }), meta(1)),
    ).toEqual([]);
  });

  it('listens to the service’s own ParentLocationSet events only', () => {
    expect(verifyHierarchyReaction.source.domain).toBe('location');
    expect(verifyHierarchyReaction.events).toEqual(['ParentLocationSet']);
  });
});

describe('prepare', () => {
  it('fills the facts a check needs from the read model, replacing what was sent', async () => {
    const stream = new Stream()
      .define('a')
      .define('b', { parentId: 'a' })
      .append('a', evt.parentSet('b', '', 'a'));
    const command = create(LocationCommandSchema, {
      body: {
        case: 'verifyHierarchy',
        value: {
          locationId: 'a',
          observedVersion: 2n,
          self: { locationId: 'forged' },
        },
      },
    });
    const prepared = await prepareCommand(command, stream.model, settledAtOnce);
    if (prepared.body.case !== 'verifyHierarchy')
      throw new Error('unexpected body');
    expect(prepared.body.value.self).toMatchObject({
      locationId: 'a',
      parentId: 'b',
      linkSequence: 3n,
    });
    expect(
      prepared.body.value.parentFacts?.ancestry.map((l) => [
        l.locationId,
        l.linkSequence,
      ]),
    ).toEqual([
      ['b', 2n],
      ['a', 3n],
    ]);
  });

  it('refuses at once a parent id that cannot be one, without waiting for it', async () => {
    const command = create(LocationCommandSchema, {
      body: {
        case: 'setParent',
        value: { locationId: 'x', parentId: 'a.b', parentMinVersion: 99n },
      },
    });
    const prepared = await prepareCommand(
      command,
      new Stream().model,
      settledAtOnce,
    );
    expect(
      prepared.body.case === 'setParent' && prepared.body.value.parentFacts,
    ).toBeUndefined();
  });

  it('clears parent facts when a command names no parent', async () => {
    const command = create(LocationCommandSchema, {
      body: {
        case: 'define',
        value: {
          locationId: 'x',
          parentFacts: { ancestry: [{ locationId: 'y' }] },
        },
      },
    });
    const prepared = await prepareCommand(
      command,
      new Stream().model,
      settledAtOnce,
    );
    expect(
      prepared.body.case === 'define' && prepared.body.value.parentFacts,
    ).toBeUndefined();
  });
});
