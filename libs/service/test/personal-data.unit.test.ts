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
  ERASED,
  holdsPersonalData,
  protectWith,
  reveal,
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
});
