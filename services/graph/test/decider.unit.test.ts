import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  GraphStatus,
  GraphType,
  ImportFormat,
  type GraphCommand,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { deciderSpec } from '@cim/testing';
import { graphDecider } from '../src/domain/index.js';
import { COMMAND_ID, cmd, evt, nodes, rel, stateOf } from './fixtures.js';

const given = deciderSpec(graphDecider);

const created = [evt.created()];
const workflow = [evt.created({ graphType: GraphType.WORKFLOW })];
const readOnly = [...created, evt.readOnly()];
const archived = [...created, evt.archived()];

/** One command of every kind that would change the default graph (nodes a, b and edge e1 present). */
const changes: ReadonlyArray<readonly [string, GraphCommand]> = [
  ['UpdateGraph', cmd.update({ name: 'Renamed' })],
  ['AddNode', cmd.addNode({ nodeId: 'c' })],
  ['ChangeNodeMetadata', cmd.changeNodeMetadata({ metadata: { k: 1 } })],
  ['RemoveNode', cmd.removeNode('a')],
  ['AddEdge', cmd.addEdge({ edgeId: 'e2' })],
  ['UpdateEdge', cmd.updateEdge({ weight: 2 })],
  ['RemoveEdge', cmd.removeEdge('e1')],
  ['ImportGraph', cmd.importGraph('{"nodes":[{"id":"z","type":"task"}]}')],
];

const withAB = [...nodes('a', 'b'), evt.edgeAdded()];

describe('graph decider', () => {
  it('rejects a command without a body with VALIDATION_FAILED', () => {
    given([])
      .when(cmd.empty())
      .thenRejects(ErrorCode.VALIDATION_FAILED, /no body/);
  });

  describe('CreateGraph', () => {
    describe('when the graph does not exist', () => {
      it('creates it', () => {
        given([]).when(cmd.create()).then([evt.created()]);
      });
      it('carries description, type, metadata and tags', () => {
        const fields = {
          description: 'money flows',
          graphType: GraphType.WORKFLOW,
          metadata: { owner: 'team-a', depth: 2 },
          tags: ['finance', 'core'],
        };
        given([])
          .when(cmd.create(fields))
          .then([evt.created(fields)]);
      });
      it('records an unspecified graph type as generic', () => {
        given([])
          .when(cmd.create({ graphType: GraphType.UNSPECIFIED }))
          .then([evt.created({ graphType: GraphType.GENERIC })]);
      });
      it('rejects a blank name with VALIDATION_FAILED', () => {
        given([])
          .when(cmd.create({ name: '  ' }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /name must not be blank/);
      });
      it('rejects a name over 200 characters with VALIDATION_FAILED', () => {
        given([])
          .when(cmd.create({ name: 'x'.repeat(201) }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /at most 200/);
      });
      it('accepts a name of exactly 200 characters', () => {
        given([])
          .when(cmd.create({ name: 'x'.repeat(200) }))
          .then([evt.created({ name: 'x'.repeat(200) })]);
      });
      it.each(['g.1', 'g*', 'g>', 'g 1', 'x'.repeat(129), 'ü'])(
        'rejects the graph id %j with VALIDATION_FAILED',
        (graphId) => {
          given([])
            .when(cmd.create({ graphId }))
            .thenRejects(ErrorCode.VALIDATION_FAILED, /graph_id/);
        },
      );
      it('rejects an unknown graph type with VALIDATION_FAILED', () => {
        given([])
          .when(cmd.create({ graphType: 99 as GraphType }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /graph_type/);
      });
      it('rejects a repeated tag with VALIDATION_FAILED', () => {
        given([])
          .when(cmd.create({ tags: ['a', 'a'] }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /tags\[1\] repeats/);
      });
      it('rejects a blank tag with VALIDATION_FAILED', () => {
        given([])
          .when(cmd.create({ tags: [''] }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /tags\[0\]/);
      });
      it('rejects more than 50 tags with VALIDATION_FAILED', () => {
        const tags = Array.from({ length: 51 }, (_, i) => `t${i}`);
        given([])
          .when(cmd.create({ tags }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /at most 50 tags/);
      });
    });

    describe('when the graph exists', () => {
      it('rejects CreateGraph with ALREADY_EXISTS', () => {
        given(created).when(cmd.create()).thenRejects(ErrorCode.ALREADY_EXISTS);
      });
      it('rejects CreateGraph on an archived graph with ALREADY_EXISTS', () => {
        given(archived)
          .when(cmd.create())
          .thenRejects(ErrorCode.ALREADY_EXISTS);
      });
    });
  });

  describe('UpdateGraph', () => {
    it('emits only the fields that are set', () => {
      given(created)
        .when(cmd.update({ name: 'Ledger' }))
        .then([evt.updated({ name: 'Ledger' })]);
    });
    it('replaces metadata, description and tags', () => {
      const fields = {
        description: 'd',
        metadata: { a: true },
        tags: { values: ['x'] },
      };
      given(created)
        .when(cmd.update(fields))
        .then([evt.updated(fields)]);
    });
    it('clears tags with an empty tag list', () => {
      given([evt.created({ tags: ['x'] })])
        .when(cmd.update({ tags: { values: [] } }))
        .then([evt.updated({ tags: { values: [] } })]);
    });
    describe('with a source version (a mirror)', () => {
      const mirrored = [
        ...created,
        evt.updated({ metadata: { status: 'running' }, sourceVersion: 5n }),
      ];
      it('applies a later source version and records it', () => {
        given(mirrored)
          .when(cmd.update({ metadata: { s: 'done' }, sourceVersion: 6n }))
          .then([evt.updated({ metadata: { s: 'done' }, sourceVersion: 6n })]);
      });
      it('changes nothing for the same or an earlier source version', () => {
        for (const sourceVersion of [5n, 3n]) {
          given(mirrored)
            .when(cmd.update({ metadata: { s: 'old' }, sourceVersion }))
            .then([]);
        }
      });
      it('applies any source version to a graph that never had one', () => {
        given(created)
          .when(cmd.update({ metadata: { s: 'x' }, sourceVersion: 1n }))
          .then([evt.updated({ metadata: { s: 'x' }, sourceVersion: 1n })]);
      });
      it('applies changes without one whatever the last source version', () => {
        given(mirrored)
          .when(cmd.update({ name: 'Renamed' }))
          .then([evt.updated({ name: 'Renamed' })]);
      });
    });
    it('rejects an update that sets nothing with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.update())
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at least one/);
    });
    it('rejects a blank name with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.update({ name: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /name/);
    });
    it('rejects UpdateGraph with NOT_FOUND when the graph does not exist', () => {
      given([])
        .when(cmd.update({ name: 'x' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('ChangeGraphStatus', () => {
    it('makes an active graph read-only', () => {
      given(created)
        .when(cmd.changeStatus(GraphStatus.READ_ONLY))
        .then([evt.statusChanged(GraphStatus.ACTIVE, GraphStatus.READ_ONLY)]);
    });
    it('makes a read-only graph active again', () => {
      given(readOnly)
        .when(cmd.changeStatus(GraphStatus.ACTIVE))
        .then([evt.statusChanged(GraphStatus.READ_ONLY, GraphStatus.ACTIVE)]);
    });
    it('rejects ChangeGraphStatus to the same status with INVALID_TRANSITION', () => {
      given(created)
        .when(cmd.changeStatus(GraphStatus.ACTIVE))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already/);
      given(readOnly)
        .when(cmd.changeStatus(GraphStatus.READ_ONLY))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });
    it('rejects ChangeGraphStatus on an archived graph with INVALID_TRANSITION', () => {
      given(archived)
        .when(cmd.changeStatus(GraphStatus.ACTIVE))
        .thenRejects(ErrorCode.INVALID_TRANSITION, /final/);
    });
    it('rejects ChangeGraphStatus to ARCHIVED with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.changeStatus(GraphStatus.ARCHIVED))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /ArchiveGraph/);
    });
    it('rejects ChangeGraphStatus to UNSPECIFIED with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.changeStatus(GraphStatus.UNSPECIFIED))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects ChangeGraphStatus with NOT_FOUND when the graph does not exist', () => {
      given([])
        .when(cmd.changeStatus(GraphStatus.READ_ONLY))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('ArchiveGraph', () => {
    it('archives an active graph', () => {
      given(created).when(cmd.archive()).then([evt.archived()]);
    });
    it('archives a read-only graph', () => {
      given(readOnly).when(cmd.archive()).then([evt.archived()]);
    });
    it('rejects ArchiveGraph on an archived graph with INVALID_TRANSITION', () => {
      given(archived)
        .when(cmd.archive())
        .thenRejects(ErrorCode.INVALID_TRANSITION, /already archived/);
    });
    it('rejects ArchiveGraph with NOT_FOUND when the graph does not exist', () => {
      given([]).when(cmd.archive()).thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe.each([
    ['read-only', [...created, ...withAB, evt.readOnly()]],
    ['archived', [...created, ...withAB, evt.archived()]],
  ])('when the graph is %s', (status, history) => {
    it.each(changes)(`rejects %s with INVALID_TRANSITION`, (_, command) => {
      given(history)
        .when(command)
        .thenRejects(ErrorCode.INVALID_TRANSITION, new RegExp(`is ${status}`));
    });
  });

  describe('when the graph does not exist', () => {
    it.each(changes)('rejects %s with NOT_FOUND', (_, command) => {
      given([])
        .when(command)
        .thenRejects(ErrorCode.NOT_FOUND, /graph "g-1" not found/);
    });
  });

  describe('AddNode', () => {
    it('adds a node', () => {
      given(created).when(cmd.addNode()).then([evt.nodeAdded()]);
    });
    it('carries label, metadata and conceptual point', () => {
      const fields = {
        label: 'Start',
        metadata: { x: [1, 2] },
        conceptualPoint: [0.5, -1],
      };
      given(created)
        .when(cmd.addNode(fields))
        .then([evt.nodeAdded(fields)]);
    });
    it('derives the node id from the command id when none is given', () => {
      given(created)
        .when(cmd.addNode({ nodeId: '' }))
        .then([evt.nodeAdded({ nodeId: COMMAND_ID })]);
    });
    it('rejects AddNode without node id or command id with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addNode({ nodeId: '' }, ''))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /node_id is required/);
    });
    it('rejects a duplicate node id with ALREADY_EXISTS', () => {
      given([...created, evt.nodeAdded()])
        .when(cmd.addNode())
        .thenRejects(ErrorCode.ALREADY_EXISTS, /node "a"/);
    });
    it('rejects a blank node type with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addNode({ nodeType: ' ' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /node_type/);
    });
    it.each(['a.b', 'a b', '*', 'x'.repeat(129)])(
      'rejects the node id %j with VALIDATION_FAILED',
      (nodeId) => {
        given(created)
          .when(cmd.addNode({ nodeId }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, /node_id/);
      },
    );
    it('rejects a label over 500 characters with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addNode({ label: 'l'.repeat(501) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /label/);
    });
    it('rejects a non-finite conceptual point with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.addNode({ conceptualPoint: [1, Number.NaN] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /conceptual_point\[1\]/);
    });
  });

  describe('ChangeNodeMetadata', () => {
    it('replaces the metadata', () => {
      given([...created, evt.nodeAdded({ metadata: { old: 1 } })])
        .when(cmd.changeNodeMetadata({ metadata: { fresh: 2 } }))
        .then([evt.nodeUpdated({ metadata: { fresh: 2 } })]);
    });
    it('clears the metadata when none is given', () => {
      given([...created, evt.nodeAdded({ metadata: { old: 1 } })])
        .when(cmd.changeNodeMetadata())
        .then([evt.nodeUpdated()]);
    });
    describe('with a source version (a mirror)', () => {
      const mirrored = [
        ...created,
        evt.nodeAdded(),
        evt.nodeUpdated({ metadata: { s: 'running' }, sourceVersion: 7n }),
      ];
      it('applies a later source version and records it', () => {
        given(mirrored)
          .when(
            cmd.changeNodeMetadata({
              metadata: { s: 'done' },
              sourceVersion: 8n,
            }),
          )
          .then([
            evt.nodeUpdated({ metadata: { s: 'done' }, sourceVersion: 8n }),
          ]);
      });
      it('changes nothing for the same or an earlier source version', () => {
        for (const sourceVersion of [7n, 2n]) {
          given(mirrored)
            .when(
              cmd.changeNodeMetadata({ metadata: { s: 'old' }, sourceVersion }),
            )
            .then([]);
        }
      });
      it('keeps each node its own source version', () => {
        given([...mirrored, evt.nodeAdded({ nodeId: 'b' })])
          .when(
            cmd.changeNodeMetadata({
              nodeId: 'b',
              metadata: { s: 'x' },
              sourceVersion: 3n,
            }),
          )
          .then([
            evt.nodeUpdated({
              nodeId: 'b',
              metadata: { s: 'x' },
              sourceVersion: 3n,
            }),
          ]);
      });
    });
    it('rejects ChangeNodeMetadata with NOT_FOUND when the node does not exist', () => {
      given(created)
        .when(cmd.changeNodeMetadata())
        .thenRejects(ErrorCode.NOT_FOUND, /node "a" not found/);
    });
    it('rejects a malformed node id with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.changeNodeMetadata({ nodeId: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('RemoveNode', () => {
    it('removes a node without edges', () => {
      given([...created, evt.nodeAdded()])
        .when(cmd.removeNode())
        .then([evt.nodeRemoved()]);
    });
    it("carries the node's last metadata, for followers to undo what it named", () => {
      given([
        ...created,
        evt.nodeAdded({ metadata: { space: 'old' } }),
        evt.nodeUpdated({ metadata: { space: 's1' } }),
      ])
        .when(cmd.removeNode())
        .then([evt.nodeRemoved({ metadata: { space: 's1' } })]);
    });
    it('removes every touching edge first, in edge id order, a self-loop once', () => {
      const history = [
        ...created,
        ...nodes('a', 'b', 'c'),
        evt.edgeAdded({ edgeId: 'e3', source: 'c', target: 'a' }),
        evt.edgeAdded({ edgeId: 'e1', source: 'a', target: 'b' }),
        evt.edgeAdded({
          edgeId: 'e2',
          source: 'a',
          target: 'a',
          directed: false,
        }),
        evt.edgeAdded({ edgeId: 'e4', source: 'b', target: 'c' }),
      ];
      given(history)
        .when(cmd.removeNode('a'))
        .then([
          evt.edgeRemoved({ edgeId: 'e1', source: 'a', target: 'b' }),
          evt.edgeRemoved({ edgeId: 'e2', source: 'a', target: 'a' }),
          evt.edgeRemoved({ edgeId: 'e3', source: 'c', target: 'a' }),
          evt.nodeRemoved({ nodeId: 'a', removedEdges: ['e1', 'e2', 'e3'] }),
        ]);
    });
    it('rejects RemoveNode with NOT_FOUND when the node does not exist', () => {
      given(created)
        .when(cmd.removeNode('zz'))
        .thenRejects(ErrorCode.NOT_FOUND, /node "zz"/);
    });
  });

  describe('AddEdge', () => {
    const ab = [...created, ...nodes('a', 'b')];

    it('adds an edge', () => {
      given(ab).when(cmd.addEdge()).then([evt.edgeAdded()]);
    });
    it('carries relationship, weight and metadata', () => {
      const fields = {
        relationship: rel.dependency('build', 0.5),
        weight: 2.5,
        metadata: { why: 'x' },
        directed: false,
      };
      given(ab)
        .when(cmd.addEdge(fields))
        .then([evt.edgeAdded(fields)]);
    });
    it('derives the edge id from the command id when none is given', () => {
      given(ab)
        .when(cmd.addEdge({ edgeId: '' }))
        .then([evt.edgeAdded({ edgeId: COMMAND_ID })]);
    });
    it('allows parallel edges and self-loops in a generic graph', () => {
      given([...ab, evt.edgeAdded()])
        .when(cmd.addEdge({ edgeId: 'e2', source: 'a', target: 'a' }))
        .then([evt.edgeAdded({ edgeId: 'e2', source: 'a', target: 'a' })]);
    });
    it('accepts a zero and a negative weight', () => {
      given(ab)
        .when(cmd.addEdge({ weight: 0 }))
        .then([evt.edgeAdded({ weight: 0 })]);
      given(ab)
        .when(cmd.addEdge({ weight: -1 }))
        .then([evt.edgeAdded({ weight: -1 })]);
    });
    it('rejects a duplicate edge id with ALREADY_EXISTS', () => {
      given([...ab, evt.edgeAdded()])
        .when(cmd.addEdge())
        .thenRejects(ErrorCode.ALREADY_EXISTS, /edge "e1"/);
    });
    it('rejects AddEdge with NOT_FOUND when the source does not exist', () => {
      given(ab)
        .when(cmd.addEdge({ source: 'x' }))
        .thenRejects(ErrorCode.NOT_FOUND, /source node "x"/);
    });
    it('rejects AddEdge with NOT_FOUND when the target does not exist', () => {
      given(ab)
        .when(cmd.addEdge({ target: 'y' }))
        .thenRejects(ErrorCode.NOT_FOUND, /target node "y"/);
    });
    it('rejects a blank edge type with VALIDATION_FAILED', () => {
      given(ab)
        .when(cmd.addEdge({ edgeType: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /edge_type/);
    });
    it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
      'rejects the weight %p with VALIDATION_FAILED',
      (weight) => {
        given(ab)
          .when(cmd.addEdge({ weight }))
          .thenRejects(
            ErrorCode.VALIDATION_FAILED,
            /weight must be a finite number/,
          );
      },
    );
    it('rejects a similarity score outside [0, 1] with VALIDATION_FAILED', () => {
      given(ab)
        .when(cmd.addEdge({ relationship: rel.similarity(1.5) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /score/);
    });
    it('rejects a custom relationship without a name with VALIDATION_FAILED', () => {
      given(ab)
        .when(cmd.addEdge({ relationship: rel.custom(' ') }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /custom.name/);
    });
    it('rejects a malformed endpoint id with VALIDATION_FAILED', () => {
      given(ab)
        .when(cmd.addEdge({ target: 'b.c' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /target must match/);
    });

    describe.each([
      ['workflow', GraphType.WORKFLOW],
      ['development', GraphType.DEVELOPMENT],
    ])('when the graph is a %s graph', (_, graphType) => {
      const dag = [
        evt.created({ graphType }),
        ...nodes('a', 'b', 'c', 'd'),
        evt.edgeAdded(),
      ];

      it('rejects a directed edge back to an ancestor with BUSINESS_RULE_VIOLATION', () => {
        given(dag)
          .when(cmd.addEdge({ edgeId: 'e2', source: 'b', target: 'a' }))
          .thenRejects(
            ErrorCode.BUSINESS_RULE_VIOLATION,
            /would close a cycle/,
          );
      });
      it('rejects a directed self-loop with BUSINESS_RULE_VIOLATION', () => {
        given(dag)
          .when(cmd.addEdge({ edgeId: 'e2', source: 'c', target: 'c' }))
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
      });
      it('rejects an edge closing a long cycle with BUSINESS_RULE_VIOLATION', () => {
        given([
          ...dag,
          evt.edgeAdded({ edgeId: 'e2', source: 'b', target: 'c' }),
          evt.edgeAdded({ edgeId: 'e3', source: 'c', target: 'd' }),
        ])
          .when(cmd.addEdge({ edgeId: 'e4', source: 'd', target: 'a' }))
          .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
      });
      it('accepts a diamond, which is not a cycle', () => {
        given([
          ...dag,
          evt.edgeAdded({ edgeId: 'e2', source: 'a', target: 'c' }),
          evt.edgeAdded({ edgeId: 'e3', source: 'b', target: 'd' }),
        ])
          .when(cmd.addEdge({ edgeId: 'e4', source: 'c', target: 'd' }))
          .then([evt.edgeAdded({ edgeId: 'e4', source: 'c', target: 'd' })]);
      });
      it('accepts an undirected edge back to an ancestor', () => {
        given(dag)
          .when(
            cmd.addEdge({
              edgeId: 'e2',
              source: 'b',
              target: 'a',
              directed: false,
            }),
          )
          .then([
            evt.edgeAdded({
              edgeId: 'e2',
              source: 'b',
              target: 'a',
              directed: false,
            }),
          ]);
      });
      it('accepts the edge again once the path that closed the cycle is gone', () => {
        given([...dag, evt.edgeRemoved()])
          .when(cmd.addEdge({ edgeId: 'e2', source: 'b', target: 'a' }))
          .then([evt.edgeAdded({ edgeId: 'e2', source: 'b', target: 'a' })]);
      });
    });

    it('accepts a directed cycle in a generic graph', () => {
      given([...ab, evt.edgeAdded()])
        .when(cmd.addEdge({ edgeId: 'e2', source: 'b', target: 'a' }))
        .then([evt.edgeAdded({ edgeId: 'e2', source: 'b', target: 'a' })]);
    });
  });

  describe('UpdateEdge', () => {
    const history = [...created, ...withAB];

    it('emits only the fields that are set', () => {
      given(history)
        .when(cmd.updateEdge({ weight: 4 }))
        .then([evt.edgeUpdated({ weight: 4 })]);
    });
    it('changes type, relationship and metadata', () => {
      const fields = {
        edgeType: 'calls',
        relationship: rel.sequence(),
        metadata: { n: 1 },
      };
      given(history)
        .when(cmd.updateEdge(fields))
        .then([evt.edgeUpdated(fields)]);
    });
    it('clears the weight', () => {
      given(history)
        .when(cmd.updateEdge({ clearWeight: true }))
        .then([evt.edgeUpdated({ weightCleared: true })]);
    });
    it('rejects an update that sets nothing with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.updateEdge())
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at least one/);
    });
    it('rejects weight together with clear_weight with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.updateEdge({ weight: 1, clearWeight: true }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a non-finite weight with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.updateEdge({ weight: Number.NaN }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects a blank edge type with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.updateEdge({ edgeType: '' }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects UpdateEdge with NOT_FOUND when the edge does not exist', () => {
      given(history)
        .when(cmd.updateEdge({ edgeId: 'e9', weight: 1 }))
        .thenRejects(ErrorCode.NOT_FOUND, /edge "e9"/);
    });
  });

  describe('RemoveEdge', () => {
    it('removes the edge, naming its ends', () => {
      given([...created, ...withAB])
        .when(cmd.removeEdge())
        .then([evt.edgeRemoved()]);
    });
    it('rejects RemoveEdge with NOT_FOUND when the edge does not exist', () => {
      given([...created, ...nodes('a')])
        .when(cmd.removeEdge('e1'))
        .thenRejects(ErrorCode.NOT_FOUND);
    });
  });

  describe('ImportGraph', () => {
    const doc = JSON.stringify({
      nodes: [
        { id: 'x', type: 'service', label: 'X', metadata: { tier: 1 } },
        { id: 'y', type: 'service' },
      ],
      edges: [
        { source: 'x', target: 'y', type: 'calls', directed: true, weight: 3 },
        {
          id: 'ay',
          source: 'a',
          target: 'y',
          type: 'uses',
          metadata: { via: 'http' },
        },
      ],
    });
    const history = [...created, evt.nodeAdded()];

    it('emits GraphImported, then NodeAdded and EdgeAdded in document order', () => {
      given(history)
        .when(cmd.importGraph(doc))
        .then([
          evt.imported(2, 2),
          evt.nodeAdded({
            nodeId: 'x',
            nodeType: 'service',
            label: 'X',
            metadata: { tier: 1 },
          }),
          evt.nodeAdded({ nodeId: 'y', nodeType: 'service' }),
          evt.edgeAdded({
            edgeId: `${COMMAND_ID}-e0`,
            source: 'x',
            target: 'y',
            edgeType: 'calls',
            weight: 3,
          }),
          evt.edgeAdded({
            edgeId: 'ay',
            source: 'a',
            target: 'y',
            edgeType: 'uses',
            directed: false,
            metadata: { via: 'http' },
          }),
        ]);
    });
    it('imports edges only, between existing nodes', () => {
      given([...created, ...nodes('a', 'b')])
        .when(
          cmd.importGraph(
            '{"edges":[{"id":"k","source":"a","target":"b","type":"t"}]}',
          ),
        )
        .then([
          evt.imported(0, 1),
          evt.edgeAdded({ edgeId: 'k', edgeType: 't', directed: false }),
        ]);
    });
    it('rejects an unspecified format with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.importGraph(doc, { format: ImportFormat.UNSPECIFIED }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
    it('rejects blank content with VALIDATION_FAILED', () => {
      given(history)
        .when(cmd.importGraph(' '))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /content must not be blank/);
    });
    it.each([
      ['{"nodes": [', /not valid JSON/],
      ['[]', /must be a JSON object/],
      ['{"nodes": {}}', /content.nodes must be an array/],
      ['{"nodes": [], "edges": []}', /no nodes and no edges/],
      ['{"graph": 1}', /unknown key "graph"/],
      [
        '{"nodes": [{"id": "n1", "type": "t"}, {"id": "n2"}]}',
        /nodes\[1\].type must be a string/,
      ],
      [
        '{"nodes": [{"id": "n1", "type": " "}]}',
        /nodes\[0\].type must not be blank/,
      ],
      ['{"nodes": [{"id": "n.1", "type": "t"}]}', /nodes\[0\].id must match/],
      ['{"nodes": [{"id": 7, "type": "t"}]}', /nodes\[0\].id must be a string/],
      [
        '{"nodes": [{"id": "n1", "type": "t", "colour": "red"}]}',
        /nodes\[0\] has an unknown key "colour"/,
      ],
      [
        '{"nodes": [{"id": "n1", "type": "t", "metadata": [1]}]}',
        /nodes\[0\].metadata must be a JSON object/,
      ],
      [
        '{"nodes": [{"id": "n1", "type": "t", "label": 3}]}',
        /nodes\[0\].label must be a string/,
      ],
      [
        '{"nodes": [{"id": "n1", "type": "t"}, {"id": "n1", "type": "t"}]}',
        /nodes\[1\].id "n1" repeats nodes\[0\]/,
      ],
      ['{"nodes": [7]}', /nodes\[0\] must be an object/],
      [
        '{"edges": [{"source": "a", "target": "a", "type": "t", "weight": 1e999}]}',
        /edges\[0\].weight must be a finite number/,
      ],
      [
        '{"edges": [{"source": "a", "target": "a", "type": "t", "weight": "3"}]}',
        /edges\[0\].weight must be a number/,
      ],
      [
        '{"edges": [{"source": "a", "target": "a", "type": "t", "directed": 1}]}',
        /edges\[0\].directed must be true or false/,
      ],
      [
        '{"edges": [{"source": "a", "type": "t"}]}',
        /edges\[0\].target must be a string/,
      ],
      [
        '{"edges": [{"id": "k", "source": "a", "target": "a", "type": "t"}, {"id": "k", "source": "a", "target": "a", "type": "t"}]}',
        /edges\[1\].id "k" repeats edges\[0\]/,
      ],
    ])('rejects %s with VALIDATION_FAILED', (content, message) => {
      given(history)
        .when(cmd.importGraph(content))
        .thenRejects(ErrorCode.VALIDATION_FAILED, message);
    });
    it('rejects edges without ids when the command has no command id with VALIDATION_FAILED', () => {
      given(history)
        .when(
          cmd.importGraph(
            '{"edges":[{"source":"a","target":"a","type":"t"}]}',
            {},
            '',
          ),
        )
        .thenRejects(ErrorCode.VALIDATION_FAILED, /edges\[0\].id is required/);
    });
    it('rejects a node that already exists with ALREADY_EXISTS', () => {
      given(history)
        .when(cmd.importGraph('{"nodes":[{"id":"a","type":"t"}]}'))
        .thenRejects(
          ErrorCode.ALREADY_EXISTS,
          /nodes\[0\].id "a" already exists/,
        );
    });
    it('rejects an edge that already exists with ALREADY_EXISTS', () => {
      given([...created, ...withAB])
        .when(
          cmd.importGraph(
            '{"edges":[{"id":"e1","source":"a","target":"b","type":"t"}]}',
          ),
        )
        .thenRejects(ErrorCode.ALREADY_EXISTS, /edges\[0\].id "e1"/);
    });
    it('rejects an edge to a node of neither graph nor document with NOT_FOUND', () => {
      given(history)
        .when(
          cmd.importGraph(
            '{"edges":[{"source":"a","target":"ghost","type":"t"}]}',
          ),
        )
        .thenRejects(ErrorCode.NOT_FOUND, /edges\[0\].target "ghost"/);
    });
    it('rejects a document that closes a cycle in a workflow graph with BUSINESS_RULE_VIOLATION', () => {
      const cyclic = JSON.stringify({
        nodes: [{ id: 'x', type: 't' }],
        edges: [
          { source: 'a', target: 'x', type: 't', directed: true },
          { source: 'x', target: 'a', type: 't', directed: true },
        ],
      });
      given([...workflow, evt.nodeAdded()])
        .when(cmd.importGraph(cyclic))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
    it('rejects a document whose edge closes a cycle with existing edges in a workflow graph', () => {
      given([...workflow, ...withAB])
        .when(
          cmd.importGraph(
            '{"edges":[{"source":"b","target":"a","type":"t","directed":true}]}',
          ),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
    it('accepts an acyclic document in a workflow graph', () => {
      given([...workflow, ...withAB])
        .when(
          cmd.importGraph(
            '{"edges":[{"id":"k","source":"b","target":"a","type":"t"}]}',
          ),
        )
        .then([
          evt.imported(0, 1),
          evt.edgeAdded({
            edgeId: 'k',
            source: 'b',
            target: 'a',
            edgeType: 't',
            directed: false,
          }),
        ]);
    });
  });
});

describe('graph evolve', () => {
  it('ignores an event from a newer schema', () => {
    const state = stateOf([...created, ...withAB]);
    expect(graphDecider.evolve(state, evt.unknown())).toBe(state);
  });
  it('ignores events before the graph exists', () => {
    const state = stateOf([evt.nodeAdded(), evt.archived()]);
    expect(state).toEqual({ status: 'absent' });
  });
  it('ignores an edge whose ends do not exist', () => {
    const state = stateOf([...created, ...nodes('a'), evt.edgeAdded()]);
    expect(state.status === 'absent' ? -1 : state.edges.size).toBe(0);
  });
  it('ignores a status change after archiving', () => {
    const state = stateOf([
      ...archived,
      evt.statusChanged(GraphStatus.READ_ONLY, GraphStatus.ACTIVE),
    ]);
    expect(state.status).toBe('archived');
  });
  it('drops the edges of a removed node even without EdgeRemoved events', () => {
    const state = stateOf([
      ...created,
      ...withAB,
      evt.nodeRemoved({ nodeId: 'b' }),
    ]);
    if (state.status === 'absent') throw new Error('graph expected');
    expect([...state.edges.keys()]).toEqual([]);
    expect([...state.nodes.get('a')!.incident.keys()]).toEqual([]);
  });
  it('leaves every earlier state unchanged', () => {
    const before = stateOf([...created, ...withAB]);
    const after = stateOf(
      [evt.edgeRemoved(), evt.nodeRemoved({ nodeId: 'b' })],
      before,
    );
    if (before.status === 'absent' || after.status === 'absent') {
      throw new Error('graph expected');
    }
    expect([...before.nodes.keys()]).toEqual(['a', 'b']);
    expect([...before.edges.keys()]).toEqual(['e1']);
    expect([...after.nodes.keys()]).toEqual(['a']);
  });
  it('never throws, even on events that do not fit', () => {
    const odd = [
      evt.edgeUpdated({ edgeId: 'nope', weight: 1 }),
      evt.edgeRemoved({ edgeId: 'nope' }),
      evt.nodeUpdated({ nodeId: 'nope' }),
      evt.nodeRemoved({ nodeId: 'nope' }),
      evt.created(),
      evt.statusChanged(GraphStatus.ACTIVE, GraphStatus.UNSPECIFIED),
    ];
    expect(() => stateOf([...created, ...odd, ...odd])).not.toThrow();
  });
  it('folds a 10k-node graph with 30k edges event by event', () => {
    const events = [evt.created()];
    const n = 10_000;
    for (let i = 0; i < n; i++) events.push(evt.nodeAdded({ nodeId: `n${i}` }));
    for (let i = 0; i < 3 * n; i++) {
      events.push(
        evt.edgeAdded({
          edgeId: `e${i}`,
          source: `n${i % n}`,
          target: `n${(i * 7 + 1) % n}`,
        }),
      );
    }
    const state = stateOf(events);
    if (state.status === 'absent') throw new Error('graph expected');
    expect(state.nodes.size).toBe(n);
    expect(state.edges.size).toBe(3 * n);
    const decided = graphDecider.decide(cmd.removeNode('n1'), state);
    expect(decided.at(-1)?.body.case).toBe('nodeRemoved');
  });
});

describe('DomainError from decide', () => {
  it('is the only error decide throws on bad input', () => {
    expect(() =>
      graphDecider.decide(cmd.addNode({ nodeType: '' }), stateOf(created)),
    ).toThrow(DomainError);
  });
});
