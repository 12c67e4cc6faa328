import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DomainError, ErrorCode } from '@cim/kernel';
import { parseImportDot } from '../src/import-dot.js';
import { parseImportGraphml } from '../src/import-graphml.js';
import { parseImportMermaid } from '../src/import-mermaid.js';
import { IMPORT_LIMITS, type ParsedGraph } from '../src/import-text.js';
import { parseXml } from '../src/import-xml.js';

const CMD = 'cmd';

/** The VALIDATION_FAILED message `parse` throws. */
function rejection(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    if (DomainError.is(error) && error.code === ErrorCode.VALIDATION_FAILED) {
      return error.message;
    }
    throw error;
  }
  throw new Error('parsed without an error');
}

describe('parseImportDot', () => {
  describe('when the document is valid', () => {
    it('reads nodes, attributes, chains, subgraphs and comments', () => {
      const parsed = parseImportDot(
        [
          '/* a pipeline */',
          'digraph "pipeline" {',
          '  # preprocessor line',
          '  rankdir=LR; graph [splines=ortho]',
          '  node [type=task]',
          '  fetch [label="Fetch \\"all\\"", color=red]; // trailing',
          '  fetch -> build -> "test-1" [weight=2.5, label=go]',
          '  subgraph cluster_ship { node [type=release]; ship; tag }',
          '  "test-1":out:e -> {ship tag} [type=gates]; ship -> tag [id=g1]',
          '  label="x" + "y"',
          '}',
        ].join('\n'),
        CMD,
      );
      expect(parsed.nodes).toEqual([
        {
          id: 'fetch',
          type: 'task',
          label: 'Fetch "all"',
          metadata: { color: 'red' },
        },
        { id: 'build', type: 'task', implied: true },
        { id: 'test-1', type: 'task', implied: true },
        { id: 'ship', type: 'release' },
        { id: 'tag', type: 'release' },
      ]);
      expect(parsed.edges).toEqual([
        {
          id: 'cmd-e0',
          source: 'fetch',
          target: 'build',
          type: 'edge',
          directed: true,
          weight: 2.5,
          metadata: { label: 'go' },
        },
        {
          id: 'cmd-e1',
          source: 'build',
          target: 'test-1',
          type: 'edge',
          directed: true,
          weight: 2.5,
          metadata: { label: 'go' },
        },
        expect.objectContaining({
          id: 'cmd-e2',
          target: 'ship',
          type: 'gates',
        }),
        expect.objectContaining({ id: 'cmd-e3', target: 'tag', type: 'gates' }),
        expect.objectContaining({ id: 'g1', source: 'ship', target: 'tag' }),
      ]);
    });

    it('reads an undirected graph with numeral and HTML ids', () => {
      const parsed = parseImportDot(
        'graph { 1 -- 2; 2 [label=<<b>two</b>>] }',
        CMD,
      );
      expect(parsed.nodes).toEqual([
        { id: '1', type: 'node', implied: true },
        { id: '2', type: 'node', label: '<b>two</b>' },
      ]);
      expect(parsed.edges[0]).toMatchObject({ directed: false });
    });

    it('declares a node an edge named before once a statement names it', () => {
      const parsed = parseImportDot('digraph { a -> b; b [type=t] }', CMD);
      expect(parsed.nodes).toEqual([
        { id: 'a', type: 'node', implied: true },
        { id: 'b', type: 't' },
      ]);
    });

    it('keeps one edge per pair in a strict graph, merging attributes', () => {
      const parsed = parseImportDot(
        'strict graph { a -- b; b -- a [weight=3] }',
        CMD,
      );
      expect(parsed.edges).toEqual([
        expect.objectContaining({ source: 'a', target: 'b', weight: 3 }),
      ]);
    });
  });

  describe('when the document is invalid', () => {
    it.each([
      ['', /line 1, column 1: a DOT document starts with "graph"/],
      ['flowchart { }', /starts with "graph" or "digraph"/],
      ['digraph { a -> b', /line 1, column 17: "}" expected before the end/],
      ['digraph { a -> b } digraph { }', /holds one graph/],
      [
        'digraph {\n  a -- b\n}',
        /line 2, column 5: a digraph joins nodes with "->"/,
      ],
      ['graph { a -> b }', /an undirected graph joins nodes with "--"/],
      ['digraph { a -> "b c" }', /node id must match .*"b c"/],
      ['digraph { "a.b" }', /line 1, column 11: node id must match/],
      ['digraph { a [label] }', /"=" expected/],
      ['digraph { a [label="x" }', /a value|"=" expected|expected/],
      ['digraph { a -> }', /a node id expected/],
      ['digraph { a ! b }', /unexpected character "!"/],
      ['digraph { "a }', /string is not closed/],
      ['digraph { /* a }', /comment is not closed/],
      ['digraph { a [label=<x] }', /HTML string is not closed/],
      ['digraph { 2a }', /unexpected "a" after "2"/],
      [
        'digraph { a -> b [weight=heavy] }',
        /edge weight must be a finite number/,
      ],
      [
        'digraph { a -> b [id=k]; b -> a [id=k] }',
        /edge id "k" repeats the edge of line 1/,
      ],
      ['digraph { a -> b [type=" "] }', /edge type must not be blank/],
      ['digraph { a [type=""] }', /node type must not be blank/],
      [
        `digraph { a [label="${'x'.repeat(501)}"] }`,
        /label must be at most 500/,
      ],
      ['digraph { }', /no nodes and no edges/],
      ['digraph { node }', /"\[" expected after "node"/],
      ['digraph { "x" + y }', /must be followed by a quoted string/],
      ['digraph { edge -> a }', /unexpected "edge"|"\[" expected/],
    ])('rejects %j with VALIDATION_FAILED', (content, message) => {
      expect(rejection(() => parseImportDot(content, CMD))).toMatch(message);
    });

    it('rejects subgraphs nested past 256 levels instead of overflowing the stack', () => {
      const content = `digraph { ${'{ '.repeat(300)}a${' }'.repeat(300)} }`;
      expect(rejection(() => parseImportDot(content, CMD))).toMatch(
        /line 1, column 523: subgraphs nest deeper than 256 levels/,
      );
    });

    it('reads a mebibyte on one line in one pass, and still places an error on it', () => {
      // Locating line breaks once per move made a long line quadratic (seconds for a mebibyte).
      const chain = 'a -> '.repeat(200_000);
      expect(
        rejection(() => parseImportDot(`digraph { ${chain}}`, CMD)),
      ).toMatch(`line 1, column ${11 + chain.length}: a node id expected`);
    });

    it('rejects edges without ids when the command has no command id', () => {
      expect(rejection(() => parseImportDot('digraph { a -> b }', ''))).toMatch(
        /edges need ids/,
      );
    });

    it(`rejects more than ${IMPORT_LIMITS.nodes} nodes`, () => {
      const many = Array.from(
        { length: IMPORT_LIMITS.nodes + 1 },
        (_, i) => `n${i}`,
      );
      expect(
        rejection(() => parseImportDot(`graph { ${many.join('; ')} }`, CMD)),
      ).toMatch(/at most 10000 nodes/);
    });

    it(`rejects more than ${IMPORT_LIMITS.edges} edges`, () => {
      const many = Array.from(
        { length: IMPORT_LIMITS.edges + 1 },
        () => 'a -- a',
      );
      expect(
        rejection(() => parseImportDot(`graph { ${many.join('; ')} }`, CMD)),
      ).toMatch(/at most 10000 edges/);
    });
  });
});

describe('parseImportMermaid', () => {
  describe('when the document is valid', () => {
    it('reads shapes, classes, link styles, text and groups', () => {
      const parsed = parseImportMermaid(
        [
          '---',
          'title: Release',
          '---',
          '%%{init: {"theme": "dark"}}%%',
          'flowchart LR',
          '  start([Start]) --> build[Build it]:::task -.-> check{"Tests [all] pass?"}',
          '  check -->|yes| ship[(Store)]',
          '  check -- no, fix --> build',
          '  ship ==> notify & archive',
          '  notify --- archive %% a comment',
          '  archive <--> start',
          '  subgraph later [Later]',
          '    direction TB',
          '    audit',
          '  end',
          '  audit ~~~ start; audit --x start',
          '  classDef task fill:#f9f',
          '  style audit stroke:#333',
          '  click audit "https://example.org"',
        ].join('\n'),
        CMD,
      );
      expect(parsed.nodes).toEqual([
        {
          id: 'start',
          type: 'node',
          label: 'Start',
          metadata: { shape: 'stadium' },
        },
        {
          id: 'build',
          type: 'task',
          label: 'Build it',
          metadata: { shape: 'rect' },
        },
        {
          id: 'check',
          type: 'node',
          label: 'Tests [all] pass?',
          metadata: { shape: 'rhombus' },
        },
        {
          id: 'ship',
          type: 'node',
          label: 'Store',
          metadata: { shape: 'cylinder' },
        },
        { id: 'notify', type: 'node', implied: true },
        { id: 'archive', type: 'node', implied: true },
        { id: 'audit', type: 'node' },
      ]);
      const edges = parsed.edges.map(
        ({ source, target, type, directed, metadata }) => [
          source,
          target,
          type,
          directed,
          metadata?.['label'],
        ],
      );
      expect(edges).toEqual([
        ['start', 'build', 'link', true, undefined],
        ['build', 'check', 'dotted', true, undefined],
        ['check', 'ship', 'link', true, 'yes'],
        ['check', 'build', 'link', true, 'no, fix'],
        ['ship', 'notify', 'thick', true, undefined],
        ['ship', 'archive', 'thick', true, undefined],
        ['notify', 'archive', 'link', false, undefined],
        ['archive', 'start', 'link', false, undefined],
        ['audit', 'start', 'link', true, undefined],
      ]);
    });

    it('reads statements after the header on one line', () => {
      const parsed = parseImportMermaid('graph TD; a-->b; b-.-c', CMD);
      expect(
        parsed.edges.map((e) => [e.source, e.target, e.type, e.directed]),
      ).toEqual([
        ['a', 'b', 'link', true],
        ['b', 'c', 'dotted', false],
      ]);
    });

    it.each([
      ['a((x))', 'circle'],
      ['a(((x)))', 'double-circle'],
      ['a[[x]]', 'subroutine'],
      ['a{{x}}', 'hexagon'],
      ['a[/x/]', 'parallelogram'],
      ['a[/x\\]', 'trapezoid'],
      ['a[\\x\\]', 'parallelogram-alt'],
      ['a>x]', 'asymmetric'],
      ['a(x)', 'round'],
    ])('reads the shape of %s', (node, shape) => {
      expect(parseImportMermaid(`flowchart\n${node}`, CMD).nodes).toEqual([
        { id: 'a', type: 'node', label: 'x', metadata: { shape } },
      ]);
    });
  });

  describe('when the document is invalid', () => {
    it.each([
      ['', /no flowchart header/],
      [
        'sequenceDiagram\n  a->>b: hi',
        /line 1, column 1: a Mermaid flowchart starts with/,
      ],
      ['graph XY\na-->b', /starts with "flowchart" or "graph"/],
      [
        'flowchart\n  a[open --> b',
        /line 2, column 4: node shape opened with "\[" is not closed/,
      ],
      [
        'flowchart\n  a --> ',
        /line 2, column 9: a node id expected at the end of the line/,
      ],
      ['flowchart\n  a --> +', /a node id expected, found "\+"/],
      ['flowchart\n  a -- text', /link text after "--" has no closing link/],
      ['flowchart\n  a -->|yes b', /link text "\|…" is not closed/],
      [
        'flowchart\n  subgraph s\n  a',
        /line 2, column 3: subgraph has no "end"/,
      ],
      ['flowchart\n  end', /"end" without a subgraph/],
      ['flowchart\n  a --> end', /"end" is reserved/],
      ['flowchart\n  a@{ shape: rect }', /@\{ shape/],
      ['flowchart\n  a:::', /a class name expected/],
      ['flowchart\n  a b', /line 2, column 5: unexpected "b"/],
      ['flowchart\n  a["x]', /quoted label is not closed/],
      [`flowchart\n  ${'n'.repeat(129)}`, /node id must match/],
      ['flowchart', /no nodes and no edges/],
      ['---\ntitle: x', /front matter is not closed/],
    ])('rejects %j with VALIDATION_FAILED', (content, message) => {
      expect(rejection(() => parseImportMermaid(content, CMD))).toMatch(
        message,
      );
    });
  });
});

describe('parseXml', () => {
  it('reads elements, attributes, entities, CDATA and skips comments', () => {
    const root = parseXml(
      "\ufeff<?xml version='1.0'?>\n<!-- c --><a x='1' y=\"&lt;&#65;&#x42;\">t&amp;<b/><![CDATA[<raw>]]><?pi x?></a>\n",
    );
    expect(root).toMatchObject({
      name: 'a',
      text: 't&<raw>',
      attributes: new Map([
        ['x', '1'],
        ['y', '<AB'],
      ]),
      children: [{ name: 'b', children: [], text: '' }],
    });
  });

  it.each([
    ['', /no root element/],
    ['<a>', /line 1, column 1: <a> is not closed/],
    ['<a></b>', /<\/b> closes <a> of line 1/],
    ['</a>', /closes no element/],
    ['<a/><b/>', /a second root element/],
    ['x<a/>', /text outside the root element/],
    ['<a x="1" x="2"/>', /attribute x appears twice/],
    ['<a x=1/>', /must be quoted/],
    ['<a x="<"/>', /contains "<"/],
    ['<a x="1"y="2"/>', /separated by white space/],
    ['<a>&nbsp;</a>', /unknown entity &nbsp;/],
    ['<a>\n  x & y</a>', /line 2, column 5: "&" must start a reference/],
    ['<a>&#0;</a>', /is not a character/],
    ['<!DOCTYPE a [<!ENTITY x "y">]><a/>', /DOCTYPE is not supported/],
    ['<a><!-- x</a>', /comment is not closed/],
    ['<a><![CDATA[x</a>', /CDATA section is not closed/],
    ['<a x="1', /not closed/],
    ['<1/>', /an element name expected/],
    [`${'<a>'.repeat(300)}`, /nest deeper than 256/],
  ])('rejects %j with VALIDATION_FAILED', (content, message) => {
    expect(rejection(() => parseXml(content))).toMatch(message);
  });
});

describe('parseImportGraphml', () => {
  const keys = [
    '<key id="t" for="all" attr.name="type" attr.type="string"><default>step</default></key>',
    '<key id="l" for="node" attr.name="label"/>',
    '<key id="w" for="edge" attr.name="weight" attr.type="double"/>',
    '<key id="r" for="node" attr.name="rank" attr.type="int"/>',
    '<key id="ok" for="edge" attr.name="ok" attr.type="boolean"/>',
    '<key id="yfiles" for="node" yfiles.type="nodegraphics"/>',
  ].join('\n');
  const doc = (graph: string, edgedefault = 'directed') =>
    `<?xml version="1.0"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:y="http://www.yworks.com/xml/graphml">\n${keys}\n<graph id="G" edgedefault="${edgedefault}">\n${graph}\n</graph>\n</graphml>`;

  describe('when the document is valid', () => {
    it('reads nodes, edges, typed data and defaults', () => {
      const parsed = parseImportGraphml(
        doc(
          [
            '<node id="a"><data key="l">A &amp; B</data><data key="r">3</data><port name="p"/></node>',
            '<node id="b"><data key="t">gate</data><data key="yfiles"><y:ShapeNode><y:NodeLabel>B</y:NodeLabel></y:ShapeNode></data></node>',
            '<edge source="a" target="b"><data key="w">1.5</data><data key="ok">true</data></edge>',
            '<edge id="back" source="b" target="a" directed="false"><desc>x</desc></edge>',
            '<node id="c"><graph edgedefault="undirected"><node id="c1"/><edge source="c1" target="c"/></graph></node>',
          ].join('\n'),
        ),
        CMD,
      );
      expect(parsed.nodes).toEqual([
        { id: 'a', type: 'step', label: 'A & B', metadata: { rank: 3 } },
        { id: 'b', type: 'gate', metadata: { yfiles: 'B' } },
        { id: 'c', type: 'step' },
        { id: 'c1', type: 'step' },
      ]);
      expect(parsed.edges).toEqual([
        {
          id: 'cmd-e0',
          source: 'a',
          target: 'b',
          type: 'step',
          directed: true,
          weight: 1.5,
          metadata: { ok: true },
        },
        { id: 'back', source: 'b', target: 'a', type: 'step', directed: false },
        {
          id: 'cmd-e2',
          source: 'c1',
          target: 'c',
          type: 'step',
          directed: false,
        },
      ]);
    });
  });

  describe('when the document is invalid', () => {
    it.each([
      [
        '<graph edgedefault="directed"><node id="a"/></graph>',
        /root element must be <graphml>/,
      ],
      ['<graphml/>', /has no <graph>/],
      [
        '<graphml><graph edgedefault="directed"/><graph edgedefault="directed"/></graphml>',
        /imports one <graph>/,
      ],
      [
        '<graphml><graph><node id="a"/></graph></graphml>',
        /edgedefault="directed" or "undirected", got none/,
      ],
      [doc('<node/>'), /line 10, column 1: <node> needs a id attribute/],
      [doc('<node id="a"/><node id="a"/>'), /node "a" is declared twice/],
      [doc('<node id="a b"/>'), /node id must match/],
      [doc('<edge source="a"/>'), /<edge> needs a target attribute/],
      [
        doc('<edge source="a" target="b" directed="yes"/>'),
        /directed must be true or false/,
      ],
      [
        doc('<node id="a"><data key="zz">1</data></node>'),
        /key "zz", which is not declared/,
      ],
      [
        doc('<node id="a"><data key="w">1</data></node>'),
        /key "w" is declared for edge, not node/,
      ],
      [
        doc('<node id="a"><data key="r">1.5</data></node>'),
        /must be an integer/,
      ],
      [
        doc('<edge source="a" target="b"><data key="w">x</data></edge>'),
        /must be a finite number/,
      ],
      [
        doc('<edge source="a" target="b"><data key="ok">1</data></edge>'),
        /must be true or false/,
      ],
      [
        doc('<node id="a"><data key="l">x</data><data key="l">y</data></node>'),
        /appears twice/,
      ],
      [
        doc('<hyperedge><endpoint node="a"/></hyperedge>'),
        /hyperedges are not supported/,
      ],
      [doc('<vertex id="a"/>'), /unexpected <vertex> in <graph>/],
      [
        doc('<node id="a"><edge source="a" target="a"/></node>'),
        /unexpected <edge> in <node>/,
      ],
      [
        '<graphml><key id="k" attr.type="text"/><graph edgedefault="directed"/></graphml>',
        /attr.type must be boolean/,
      ],
      [
        '<graphml><key id="k"/><key id="k"/><graph edgedefault="directed"/></graphml>',
        /key "k" is declared twice/,
      ],
      [
        '<graphml><key id="k" attr.name="weight" for="edge"/><graph edgedefault="directed"><edge source="a" target="b"><data key="k">1</data></edge></graph></graphml>',
        /declare its key with attr.type="double"/,
      ],
      [doc(''), /no nodes and no edges/],
    ])('rejects %j with VALIDATION_FAILED', (content, message) => {
      expect(rejection(() => parseImportGraphml(content, CMD))).toMatch(
        message,
      );
    });
  });
});

interface TestGraph {
  readonly directed: boolean;
  readonly nodes: ReadonlyArray<{ id: string; type: string; label: string }>;
  readonly edges: ReadonlyArray<{ source: string; target: string }>;
}

const RESERVED =
  /^(end|graph|digraph|subgraph|node|edge|strict|class|classDef|style|linkStyle|click|direction|accTitle|accDescr)$/i;
const LABEL_CHARS = [..."abcXYZ019 ,.:!?'&<>-"];

/** Graphs with 1–12 nodes of token ids, labels with awkward characters, and up to 20 edges between them. */
const graphs: fc.Arbitrary<TestGraph> = fc
  .record({
    directed: fc.boolean(),
    nodes: fc.uniqueArray(
      fc.record({
        id: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/),
        type: fc.stringMatching(/^[a-z][a-z0-9_-]{0,9}$/),
        label: fc
          .array(fc.constantFrom(...LABEL_CHARS), { maxLength: 19 })
          .map((chars) => `L${chars.join('')}`),
      }),
      { minLength: 1, maxLength: 12, selector: (n) => n.id },
    ),
    ends: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 }),
  })
  .filter(({ nodes }) => !nodes.some((n) => RESERVED.test(n.id)))
  .map(({ directed, nodes, ends }) => ({
    directed,
    nodes,
    edges: ends.map(([s, t]) => ({
      source: nodes[s % nodes.length]!.id,
      target: nodes[t % nodes.length]!.id,
    })),
  }));

const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

function toDot(g: TestGraph): string {
  const op = g.directed ? '->' : '--';
  return [
    `${g.directed ? 'digraph' : 'graph'} G {`,
    ...g.nodes.map(
      (n) =>
        `  ${quote(n.id)} [type=${quote(n.type)}, label=${quote(n.label)}];`,
    ),
    ...g.edges.map((e) => `  ${quote(e.source)} ${op} ${quote(e.target)}`),
    '}',
  ].join('\n');
}

const escapeXml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

function toGraphml(g: TestGraph): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    '  <key id="d0" for="node" attr.name="type" attr.type="string"/>',
    '  <key id="d1" for="node" attr.name="label" attr.type="string"/>',
    `  <graph id="G" edgedefault="${g.directed ? 'directed' : 'undirected'}">`,
    ...g.nodes.map(
      (n) =>
        `    <node id="${n.id}"><data key="d0">${escapeXml(n.type)}</data><data key="d1">${escapeXml(n.label)}</data></node>`,
    ),
    ...g.edges.map(
      (e) => `    <edge source="${e.source}" target="${e.target}"/>`,
    ),
    '  </graph>',
    '</graphml>',
  ].join('\n');
}

function toMermaid(g: TestGraph): string {
  const link = g.directed ? '-->' : '---';
  return [
    'flowchart LR',
    ...g.nodes.map((n) => `  ${n.id}["${n.label}"]:::${n.type}`),
    ...g.edges.map((e) => `  ${e.source} ${link} ${e.target}`),
  ].join('\n');
}

/** What a round trip must keep: nodes with type and label, edges with ends and direction, in order. */
function essence(parsed: ParsedGraph) {
  return {
    nodes: parsed.nodes.map(({ id, type, label }) => ({ id, type, label })),
    edges: parsed.edges.map(({ source, target, directed }) => ({
      source,
      target,
      directed,
    })),
  };
}

function expected(g: TestGraph) {
  return {
    nodes: g.nodes.map(({ id, type, label }) => ({ id, type, label })),
    edges: g.edges.map(({ source, target }) => ({
      source,
      target,
      directed: g.directed,
    })),
  };
}

describe('import round trips', () => {
  it('reads back a graph printed as DOT', () => {
    fc.assert(
      fc.property(graphs, (g) => {
        expect(essence(parseImportDot(toDot(g), CMD))).toEqual(expected(g));
      }),
    );
  });

  it('reads back a graph printed as GraphML', () => {
    fc.assert(
      fc.property(graphs, (g) => {
        expect(essence(parseImportGraphml(toGraphml(g), CMD))).toEqual(
          expected(g),
        );
      }),
    );
  });

  it('reads back a graph printed as Mermaid', () => {
    fc.assert(
      fc.property(graphs, (g) => {
        expect(essence(parseImportMermaid(toMermaid(g), CMD))).toEqual(
          expected(g),
        );
      }),
    );
  });
});
