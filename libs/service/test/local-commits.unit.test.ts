import { describe, expect, it } from '@jest/globals';
import { LocalCommits, type LocalCommit } from '../src/local-commits.js';

const commit = (aggregateId: string, text: string): LocalCommit => ({
  aggregateId,
  version: 1n,
  commandId: 'c',
  correlationId: 'c',
  actor: 'a',
  occurredAtMs: 0,
  eventIds: [],
  events: [],
  hash: new Uint8Array(32),
  bytes: Buffer.from(text),
});

const stored = (text: string) => new Uint8Array(Buffer.from(text));

describe('LocalCommits', () => {
  describe('when the stored message is the commit appended', () => {
    it('hands it over once, whether or not its ack has arrived', () => {
      const local = new LocalCommits();
      const mine = commit('a', 'commit-1');
      local.add(mine);
      expect(local.take('a', stored('commit-1'))).toBe(mine);
      expect(local.take('a', stored('commit-1'))).toBeUndefined();
    });
  });

  describe('when another message is stored on the subject', () => {
    it('keeps the commit back, so the message is decoded as any other', () => {
      const local = new LocalCommits();
      local.add(commit('a', 'commit-1'));
      expect(local.take('a', stored('forged-1'))).toBeUndefined();
      expect(local.take('a', stored('commit'))).toBeUndefined();
      expect(local.take('b', stored('commit-1'))).toBeUndefined();
      expect(local.take('a', stored('commit-1'))?.aggregateId).toBe('a');
    });
  });

  describe('when an append stored nothing', () => {
    it('drops the commit, but never a newer one of the same aggregate', () => {
      const local = new LocalCommits();
      const first = commit('a', 'commit-1');
      const second = commit('a', 'commit-2');
      local.add(first);
      local.drop(first);
      expect(local.take('a', stored('commit-1'))).toBeUndefined();
      local.add(first);
      local.add(second);
      local.drop(first);
      expect(local.take('a', stored('commit-2'))).toBe(second);
    });
  });
});
