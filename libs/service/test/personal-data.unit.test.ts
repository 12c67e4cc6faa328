import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  GraphEventSchema,
  ListNodesResponseSchema,
  type GraphEvent,
  type ListNodesResponse,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  DocumentEventSchema,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  ERASED,
  holdsPersonalData,
  namesDataSubjects,
  protectWith,
  reveal,
  subjectKey,
  subjectsOf,
} from '../src/personal-data.js';
import type { Vault } from '../src/vault.js';

const nodeAdded = (label?: string): GraphEvent =>
  create(GraphEventSchema, {
    body: {
      case: 'nodeAdded',
      value: {
        graphId: 'g',
        nodeId: 'n',
        nodeType: 'concept',
        ...(label === undefined ? {} : { label }),
      },
    },
  });

const listed = (...labels: string[]): ListNodesResponse =>
  create(ListNodesResponseSchema, {
    nodes: labels.map((label, i) => ({ nodeId: `n${i}`, label })),
  });

/** A vault that holds one key per subject, for reveal(). */
const vaultOf = (keys: Record<string, Buffer | null>): Vault =>
  ({
    keyFor: (subject: string) => Promise.resolve(keys[subject]),
  }) as unknown as Vault;

describe('personal data', () => {
  const key = randomBytes(32);

  describe('when an event holds no personal string', () => {
    it('is returned as it is', () => {
      for (const event of [nodeAdded(), nodeAdded('')]) {
        expect(holdsPersonalData(event, GraphEventSchema)).toBe(false);
        expect(protectWith(event, GraphEventSchema, 'g', key)).toBe(event);
      }
      const empty = listed();
      expect(holdsPersonalData(empty, ListNodesResponseSchema)).toBe(false);
      expect(protectWith(empty, ListNodesResponseSchema, 'g', key)).toBe(empty);
    });
  });

  describe('when an event holds personal strings', () => {
    it('encrypts a copy and leaves the original as it was', async () => {
      const event = nodeAdded('Alice');
      expect(holdsPersonalData(event, GraphEventSchema)).toBe(true);
      const sealed = protectWith(event, GraphEventSchema, 'g', key);
      expect(sealed).not.toBe(event);
      expect(event.body.case === 'nodeAdded' && event.body.value.label).toBe(
        'Alice',
      );
      const label =
        sealed.body.case === 'nodeAdded' ? sealed.body.value.label : '';
      expect(label).toMatch(/^cim:enc:v1:g:/);
      expect(sealed.body.value?.$typeName).toBe('cim.graph.v1.NodeAdded');
      const opened = await reveal(
        sealed,
        GraphEventSchema,
        vaultOf({ g: key }),
      );
      expect(opened).toEqual(event);
    });

    it('encrypts every element of a list, each under its own iv', async () => {
      const response = listed('Alice', 'Bob', 'Alice');
      const sealed = protectWith(response, ListNodesResponseSchema, 'g', key);
      const labels = sealed.nodes.map((n) => n.label);
      expect(new Set(labels).size).toBe(3);
      expect(labels.every((l) => l?.startsWith('cim:enc:v1:g:'))).toBe(true);
      expect(response.nodes.map((n) => n.label)).toEqual([
        'Alice',
        'Bob',
        'Alice',
      ]);
      expect(
        await reveal(sealed, ListNodesResponseSchema, vaultOf({ g: key })),
      ).toEqual(response);
    });

    it('erases them when the subject is forgotten', async () => {
      const sealed = protectWith(
        nodeAdded('Alice'),
        GraphEventSchema,
        'g',
        null,
      );
      expect(sealed.body.case === 'nodeAdded' && sealed.body.value.label).toBe(
        ERASED,
      );
      const encrypted = protectWith(
        nodeAdded('Bob'),
        GraphEventSchema,
        'g',
        key,
      );
      const shown = await reveal(
        encrypted,
        GraphEventSchema,
        vaultOf({ g: null }),
      );
      expect(shown.body.case === 'nodeAdded' && shown.body.value.label).toBe(
        ERASED,
      );
    });
  });

  describe('when a field names the data subject (a comment and its author)', () => {
    const commented = (author: string, content: string): DocumentEvent =>
      create(DocumentEventSchema, {
        body: {
          case: 'commentAdded',
          value: { documentId: 'd', commentId: 'c', author, content },
        },
      });

    it('encrypts under the author, not the aggregate', async () => {
      expect(namesDataSubjects(DocumentEventSchema)).toBe(true);
      expect(namesDataSubjects(GraphEventSchema)).toBe(false);
      const alice = subjectKey('user:alice');
      const event = commented('user:alice', 'hello');
      expect([...subjectsOf(event, DocumentEventSchema, 'd')]).toEqual([alice]);
      const sealed = protectWith(event, DocumentEventSchema, 'd', (s) =>
        s === alice ? key : null,
      );
      const body =
        sealed.body.case === 'commentAdded' ? sealed.body.value : undefined;
      expect(body?.author).toBe('user:alice');
      expect(body?.content).toMatch(new RegExp(`^cim:enc:v1:${alice}:`));
      const opened = await reveal(
        sealed,
        DocumentEventSchema,
        vaultOf({ [alice]: key, d: null }),
      );
      expect(
        opened.body.case === 'commentAdded' && opened.body.value.content,
      ).toBe('hello');
      // The aggregate's key is no help once the author is forgotten.
      const forgotten = await reveal(
        sealed,
        DocumentEventSchema,
        vaultOf({ [alice]: null, d: key }),
      );
      expect(
        forgotten.body.case === 'commentAdded' && forgotten.body.value.content,
      ).toBe(ERASED);
    });

    it('falls back to the aggregate when the subject field is empty', () => {
      expect([
        ...subjectsOf(commented('', 'x'), DocumentEventSchema, 'd'),
      ]).toEqual(['d']);
    });

    it('refuses to seal for a subject whose key it was not given', () => {
      expect(() =>
        protectWith(commented('user:bob', 'x'), DocumentEventSchema, 'd', key),
      ).toThrow(/no key at hand/);
    });
  });

  describe('subjectKey', () => {
    it('keeps subject tokens, maps any other id to a token, and is idempotent', () => {
      expect(subjectKey('0196a2b0-aaaa-7000-8000-000000000000')).toBe(
        '0196a2b0-aaaa-7000-8000-000000000000',
      );
      const mapped = subjectKey('user:alice');
      expect(mapped).toMatch(/^[0-9a-f-]{36}$/);
      expect(subjectKey(mapped)).toBe(mapped);
      expect(subjectKey('user:bob')).not.toBe(mapped);
    });
  });
});
