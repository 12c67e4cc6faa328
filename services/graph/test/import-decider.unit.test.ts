import { describe, it } from '@jest/globals';
import { ErrorCode } from '@cim/kernel';
import { GraphType, ImportFormat } from '@cim/proto/cim/graph/v1/graph_pb';
import { deciderSpec } from '@cim/testing';
import { graphDecider } from '../src/domain/index.js';
import { IMPORT_LIMITS } from '../src/import-text.js';
import { COMMAND_ID, cmd, evt, nodes } from './fixtures.js';

const given = deciderSpec(graphDecider);
const created = [evt.created()];
const workflow = [evt.created({ graphType: GraphType.WORKFLOW })];
const CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';

const DOT = 'digraph { x [type=service, label="X"]; x -> a [type=calls] }';
const GRAPHML = `<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="t" for="all" attr.name="type"/>
  <key id="l" for="node" attr.name="label"/>
  <graph edgedefault="directed">
    <node id="x"><data key="t">service</data><data key="l">X</data></node>
    <edge source="x" target="a"><data key="t">calls</data></edge>
  </graph>
</graphml>`;
const MERMAID = 'flowchart LR\n  x["X"]:::service -->|calls| a';

describe('graph decider: ImportGraph in every format', () => {
  describe.each([
    [ImportFormat.DOT, 'DOT', DOT, 'calls', undefined],
    [ImportFormat.GRAPHML, 'GRAPHML', GRAPHML, 'calls', undefined],
    [ImportFormat.MERMAID, 'MERMAID', MERMAID, 'link', { label: 'calls' }],
  ])(
    'when the document is %s (%s)',
    (format, _name, content, edgeType, edgeMetadata) => {
      const nodeMetadata =
        format === ImportFormat.MERMAID ? { shape: 'rect' } : undefined;

      it('adds its nodes and edges, joining an edge to a node the graph holds', () => {
        given([...created, ...nodes('a')])
          .when(cmd.importGraph(content, { format }))
          .then([
            evt.imported(1, 1, { format }),
            evt.nodeAdded({
              nodeId: 'x',
              nodeType: 'service',
              label: 'X',
              ...(nodeMetadata && { metadata: nodeMetadata }),
            }),
            evt.edgeAdded({
              edgeId: `${COMMAND_ID}-e0`,
              source: 'x',
              target: 'a',
              edgeType,
              directed: true,
              ...(edgeMetadata && { metadata: edgeMetadata }),
            }),
          ]);
      });

      it('records the content id it was read from', () => {
        given([...created, ...nodes('a')])
          .when(cmd.importGraph(content, { format, contentCid: CID }))
          .then([
            evt.imported(1, 1, { format, contentCid: CID }),
            evt.nodeAdded({
              nodeId: 'x',
              nodeType: 'service',
              label: 'X',
              ...(nodeMetadata && { metadata: nodeMetadata }),
            }),
            evt.edgeAdded({
              edgeId: `${COMMAND_ID}-e0`,
              source: 'x',
              target: 'a',
              edgeType,
              directed: true,
              ...(edgeMetadata && { metadata: edgeMetadata }),
            }),
          ]);
      });

      it('rejects a declared node the graph already holds with ALREADY_EXISTS', () => {
        given([...created, ...nodes('a', 'x')])
          .when(cmd.importGraph(content, { format }))
          .thenRejects(ErrorCode.ALREADY_EXISTS, /"x" already exists/);
      });
    },
  );

  describe('when a DOT or Mermaid edge names a node the graph does not hold', () => {
    it('adds that node with the default type', () => {
      given(created)
        .when(
          cmd.importGraph('digraph { p -> q }', { format: ImportFormat.DOT }),
        )
        .then([
          evt.imported(2, 1, { format: ImportFormat.DOT }),
          evt.nodeAdded({ nodeId: 'p', nodeType: 'node' }),
          evt.nodeAdded({ nodeId: 'q', nodeType: 'node' }),
          evt.edgeAdded({
            edgeId: `${COMMAND_ID}-e0`,
            source: 'p',
            target: 'q',
            edgeType: 'edge',
            directed: true,
          }),
        ]);
    });
    it('joins the nodes the graph holds without adding them', () => {
      given([...created, ...nodes('a', 'b')])
        .when(
          cmd.importGraph('flowchart\n a --- b', {
            format: ImportFormat.MERMAID,
          }),
        )
        .then([
          evt.imported(0, 1, { format: ImportFormat.MERMAID }),
          evt.edgeAdded({
            edgeId: `${COMMAND_ID}-e0`,
            edgeType: 'link',
            directed: false,
          }),
        ]);
    });
  });

  describe('when the document is a GraphML edge to a node neither holds', () => {
    it('rejects it with NOT_FOUND', () => {
      given(created)
        .when(
          cmd.importGraph(
            '<graphml><graph edgedefault="directed"><edge source="p" target="q"/></graph></graphml>',
            { format: ImportFormat.GRAPHML },
          ),
        )
        .thenRejects(ErrorCode.NOT_FOUND, /edges\[0\].source "p"/);
    });
  });

  describe('when the document is a workflow graph cycle', () => {
    it.each([
      [ImportFormat.DOT, 'digraph { a -> b; b -> a }'],
      [ImportFormat.MERMAID, 'flowchart\n a --> b --> a'],
      [
        ImportFormat.GRAPHML,
        '<graphml><graph edgedefault="directed"><node id="a"/><node id="b"/><edge source="a" target="b"/><edge source="b" target="a"/></graph></graphml>',
      ],
    ])('rejects format %s with BUSINESS_RULE_VIOLATION', (format, content) => {
      given(workflow)
        .when(cmd.importGraph(content, { format }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });
  });

  describe('when the command is malformed', () => {
    it.each([
      [
        ImportFormat.DOT,
        'digraph {\n  a -> \n}',
        /line 3, column 1: a node id expected/,
      ],
      [
        ImportFormat.MERMAID,
        'flowchart\n  a -->',
        /line 2, column 8: a node id expected/,
      ],
      [
        ImportFormat.GRAPHML,
        '<graphml>\n<graph>',
        /line 2, column 1: <graph> is not closed/,
      ],
    ])(
      'rejects a parse error in format %s with VALIDATION_FAILED naming the line',
      (format, content, message) => {
        given(created)
          .when(cmd.importGraph(content, { format }))
          .thenRejects(ErrorCode.VALIDATION_FAILED, message);
      },
    );
    it('rejects a format it does not know with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.importGraph(DOT, { format: 99 as ImportFormat }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /not a known import format/);
    });
    it('rejects neither content nor content_cid with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.importGraph('', { format: ImportFormat.DOT }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /content must not be blank/);
    });
    it('rejects a content_cid its prepare step did not resolve with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.importGraph('', { contentCid: CID }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /was not resolved/);
    });
    it('rejects blank content behind a content_cid with VALIDATION_FAILED', () => {
      given(created)
        .when(cmd.importGraph(' \n', { contentCid: CID }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /is blank/);
    });
    it('rejects content over the size bound with VALIDATION_FAILED', () => {
      const content = `graph { a }${' '.repeat(IMPORT_LIMITS.contentBytes)}`;
      given(created)
        .when(cmd.importGraph(content, { format: ImportFormat.DOT }))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at most 1048576 characters/);
    });
    it(`rejects a JSON document of more than ${IMPORT_LIMITS.nodes} nodes with VALIDATION_FAILED`, () => {
      const content = JSON.stringify({
        nodes: Array.from({ length: IMPORT_LIMITS.nodes + 1 }, (_, i) => ({
          id: `n${i}`,
          type: 't',
        })),
      });
      given(created)
        .when(cmd.importGraph(content))
        .thenRejects(ErrorCode.VALIDATION_FAILED, /at most 10000 nodes/);
    });
  });
});
