import { show } from '@cim/kernel';
import {
  GraphBuilder,
  failAt,
  type NodeFields,
  type ParsedGraph,
  type Position,
} from './import-text.js';

/** Node shapes: opening and closing delimiters, longest first so `((` wins over `(`. */
const SHAPES: ReadonlyArray<
  readonly [open: string, close: string, name: string]
> = [
  ['(((', ')))', 'double-circle'],
  ['([', '])', 'stadium'],
  ['[[', ']]', 'subroutine'],
  ['[(', ')]', 'cylinder'],
  ['((', '))', 'circle'],
  ['{{', '}}', 'hexagon'],
  ['[/', '/]', 'parallelogram'],
  ['[/', '\\]', 'trapezoid'],
  ['[\\', '\\]', 'parallelogram-alt'],
  ['[\\', '/]', 'trapezoid-alt'],
  ['[', ']', 'rect'],
  ['(', ')', 'round'],
  ['{', '}', 'rhombus'],
  ['>', ']', 'asymmetric'],
];

/** Statements that style or annotate and add no structure. */
const IGNORED = new Set([
  'classdef',
  'class',
  'style',
  'linkstyle',
  'click',
  'direction',
  'acctitle',
  'accdescr',
]);

const HEADER = /^(flowchart|graph)(?:[ \t]+(TB|TD|BT|RL|LR))?[ \t]*(?:;|$)/;
const NODE_ID = /[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*/y;
/** A complete link: solid, dotted, thick or invisible, with an arrow, circle or cross head, or none. */
const LINK =
  /(<)?(?:(-{2,}>|-{3,}|={2,}>|={3,})|(-\.+->|-\.+-)|(~{3,}))|(?:-{2,}|={2,}|-\.+-)[ox](?![A-Za-z0-9_])/y;
/** The opening half of a link that carries its text inline: `-- text -->`. */
const TEXT_OPEN = /(<)?(--|==|-\.)(?=[ \t])/y;
const TEXT_CLOSE: Readonly<Record<string, RegExp>> = {
  '--': /[ \t]*(-{2,}>|-{3,}|-{2,}[ox](?![A-Za-z0-9_]))/g,
  '==': /[ \t]*(={2,}>|={3,}|={2,}[ox](?![A-Za-z0-9_]))/g,
  '-.': /[ \t]*(\.+->|\.+-(?!-))/g,
};

interface Link {
  readonly directed: boolean;
  readonly style: 'link' | 'dotted' | 'thick' | 'invisible';
  readonly text: string | undefined;
  readonly at: Position;
}

/**
 * Parses a Mermaid flowchart: a `flowchart` or `graph` header with an
 * optional direction, then statements separated by lines or `;`: node
 * shapes (`A[label]`, `B(label)`, `C{label}`, … with quoted labels), a
 * `:::class` that becomes the node type (default `node`), chains
 * `A --> B --> C` with `&` groups, links `-->` (directed), `---`
 * (undirected), `-.->`/`-.-` (dotted), `==>`/`===` (thick), `--o`/`--x`
 * heads, `<-->` both ways (undirected), `~~~` (layout only: no edge), and
 * link text as `-->|text|` or `-- text -->`, kept as the edge's metadata
 * label. The edge type is the line style: link, dotted or thick. Subgraphs
 * are flattened; style, class and click statements are skipped; `%%` starts a
 * comment. A node only links name is implied. Throws VALIDATION_FAILED naming
 * line and column.
 */
export function parseImportMermaid(
  content: string,
  commandId: string,
): ParsedGraph {
  return new MermaidParser(content, commandId).parse();
}

class MermaidParser {
  private readonly lines: string[];
  private readonly builder: GraphBuilder;
  private lineNo = 0;
  private text = '';
  private pos = 0;
  private subgraphs: Position[] = [];

  constructor(content: string, commandId: string) {
    this.lines = content.split(/\r?\n/);
    this.builder = new GraphBuilder(commandId, { node: 'node', edge: 'link' });
  }

  parse(): ParsedGraph {
    let i = this.skipFrontMatter();
    for (; i < this.lines.length; i++) {
      const line = stripComment(this.lines[i]!).trim();
      if (line === '') continue;
      const header = HEADER.exec(line);
      if (header === null) {
        failAt(
          { line: i + 1, column: 1 },
          'a Mermaid flowchart starts with "flowchart" or "graph" and an optional direction (TB, TD, BT, RL, LR)',
        );
      }
      const rest = this.lines[i]!.indexOf(';');
      this.statementsOf(i, rest === -1 ? this.lines[i]!.length : rest + 1);
      break;
    }
    if (i >= this.lines.length) {
      failAt(
        { line: Math.max(1, this.lines.length), column: 1 },
        'the document has no flowchart header',
      );
    }
    for (i++; i < this.lines.length; i++) this.statementsOf(i, 0);
    const open = this.subgraphs.at(-1);
    if (open !== undefined) failAt(open, 'subgraph has no "end"');
    return this.builder.build();
  }

  private skipFrontMatter(): number {
    if (this.lines[0]?.trim() !== '---') return 0;
    for (let i = 1; i < this.lines.length; i++) {
      if (this.lines[i]!.trim() === '---') return i + 1;
    }
    failAt({ line: 1, column: 1 }, 'front matter is not closed with "---"');
  }

  /** Every statement of line `index`, from column offset `from`. */
  private statementsOf(index: number, from: number): void {
    this.lineNo = index + 1;
    this.text = stripComment(this.lines[index]!);
    this.pos = from;
    for (;;) {
      this.blank();
      if (this.pos >= this.text.length) return;
      if (this.text[this.pos] === ';') {
        this.pos++;
        continue;
      }
      this.statement();
      this.blank();
      if (this.pos < this.text.length && this.text[this.pos] !== ';') {
        this.fail(
          `unexpected ${show(this.text.slice(this.pos, this.pos + 16))}`,
        );
      }
    }
  }

  private statement(): void {
    const word = /[A-Za-z]+/y;
    word.lastIndex = this.pos;
    const keyword = word.exec(this.text)?.[0];
    const after = this.text[this.pos + (keyword?.length ?? 0)];
    const ends = after === undefined || /[\s;]/.test(after);
    if (keyword === 'subgraph' && ends) {
      this.subgraphs.push(this.here());
      this.pos = this.text.length; // the title is layout only
      return;
    }
    if (keyword === 'end' && ends) {
      if (this.subgraphs.pop() === undefined)
        this.fail('"end" without a subgraph');
      this.pos += 3;
      return;
    }
    if (
      keyword !== undefined &&
      IGNORED.has(keyword.toLowerCase()) &&
      (ends || after === ':')
    ) {
      const semicolon = this.text.indexOf(';', this.pos);
      this.pos = semicolon === -1 ? this.text.length : semicolon;
      return;
    }
    this.chain();
  }

  /** `group (link group)*` where a group is `node (& node)*`. */
  private chain(): void {
    let from = this.group();
    let alone = true;
    for (;;) {
      this.blank();
      const link = this.link();
      if (link === undefined) {
        // A node standing alone is declared; one that ends a chain is only named.
        for (const [id, at] of from) {
          if (alone) this.builder.declare(id, at);
          else this.builder.mention(id, at);
        }
        return;
      }
      alone = false;
      this.blank();
      const to = this.group();
      for (const [id, at] of [...from, ...to]) this.builder.mention(id, at);
      if (link.style !== 'invisible') {
        for (const [source] of from) {
          for (const [target] of to) {
            this.builder.edge(link.at, {
              source,
              target,
              type: link.style,
              directed: link.directed,
              ...(link.text !== undefined && {
                metadata: { label: link.text },
              }),
            });
          }
        }
      }
      from = to;
    }
  }

  private group(): Array<[string, Position]> {
    const nodes: Array<[string, Position]> = [this.node()];
    for (;;) {
      this.blank();
      if (this.text[this.pos] !== '&') return nodes;
      this.pos++;
      this.blank();
      nodes.push(this.node());
    }
  }

  /** A node id with an optional shape and label, then an optional `:::class`. */
  private node(): [string, Position] {
    const at = this.here();
    NODE_ID.lastIndex = this.pos;
    const id = NODE_ID.exec(this.text)?.[0];
    if (id === undefined) {
      this.fail(
        this.pos >= this.text.length
          ? 'a node id expected at the end of the line'
          : `a node id expected, found ${show(this.text.slice(this.pos, this.pos + 16))}`,
      );
    }
    if (id === 'end') this.fail('"end" is reserved and cannot be a node id');
    this.pos += id.length;
    if (this.text.startsWith('@{', this.pos)) {
      this.fail('the @{ shape: … } node syntax is not supported; use A[label]');
    }
    let fields: NodeFields | undefined;
    const shape = this.shape();
    if (shape !== undefined) fields = shape;
    if (this.text.startsWith(':::', this.pos)) {
      this.pos += 3;
      const type = /[A-Za-z0-9_-]+/y;
      type.lastIndex = this.pos;
      const name = type.exec(this.text)?.[0];
      if (name === undefined) this.fail('a class name expected after ":::"');
      this.pos += name.length;
      fields = { ...fields, type: name };
    }
    if (fields !== undefined) this.builder.declare(id, at, fields);
    return [id, at];
  }

  private shape(): NodeFields | undefined {
    const { text } = this;
    for (const [open, close, name] of SHAPES) {
      if (!text.startsWith(open, this.pos)) continue;
      const start = this.pos;
      let i = start + open.length;
      let label: string;
      const lead = /[ \t]*"/y;
      lead.lastIndex = i;
      if (lead.test(text)) {
        const quote = text.indexOf('"', lead.lastIndex);
        if (quote === -1) this.fail('quoted label is not closed');
        label = text.slice(lead.lastIndex, quote);
        i = quote + 1;
        while (text[i] === ' ' || text[i] === '\t') i++;
        if (!text.startsWith(close, i)) continue;
      } else {
        const end = text.indexOf(close, i);
        if (end === -1) continue;
        label = text.slice(i, end).trim();
        if (/["[\](){}]/.test(label)) continue;
        i = end;
      }
      this.pos = i + close.length;
      return { label, metadata: { shape: name } };
    }
    const opener = text[this.pos];
    if (opener !== undefined && '[({>'.includes(opener)) {
      this.fail(
        `node shape opened with ${show(opener)} is not closed or not supported`,
      );
    }
    return undefined;
  }

  private link(): Link | undefined {
    const at = this.here();
    LINK.lastIndex = this.pos;
    const full = LINK.exec(this.text);
    if (full !== null) {
      this.pos = LINK.lastIndex;
      const token = full[0];
      const text = this.pipeText();
      return {
        directed: full[1] === undefined && !/[-=.]$/.test(token),
        style: styleOf(token),
        text,
        at,
      };
    }
    TEXT_OPEN.lastIndex = this.pos;
    const open = TEXT_OPEN.exec(this.text);
    if (open === null) return undefined;
    const close = TEXT_CLOSE[open[2]!]!;
    close.lastIndex = TEXT_OPEN.lastIndex;
    const end = close.exec(this.text);
    if (end === null)
      this.fail(`link text after ${show(open[0])} has no closing link`);
    let text = this.text.slice(TEXT_OPEN.lastIndex, end.index).trim();
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"'))
      text = text.slice(1, -1);
    const token = open[0] + end[1]!;
    this.pos = close.lastIndex;
    return {
      directed: open[1] === undefined && !/[-=.]$/.test(token),
      style: styleOf(token),
      text,
      at,
    };
  }

  /** `|text|` right after a link. */
  private pipeText(): string | undefined {
    let i = this.pos;
    while (this.text[i] === ' ' || this.text[i] === '\t') i++;
    if (this.text[i] !== '|') return undefined;
    const end = this.text.indexOf('|', i + 1);
    if (end === -1) this.fail('link text "|…" is not closed with "|"');
    let text = this.text.slice(i + 1, end).trim();
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"'))
      text = text.slice(1, -1);
    this.pos = end + 1;
    return text;
  }

  private blank(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t')
      this.pos++;
  }

  private here(): Position {
    return { line: this.lineNo, column: this.pos + 1 };
  }

  private fail(message: string): never {
    failAt(this.here(), message);
  }
}

function styleOf(token: string): Link['style'] {
  if (token.includes('~')) return 'invisible';
  if (token.includes('.')) return 'dotted';
  if (token.includes('=')) return 'thick';
  return 'link';
}

/** The line up to a `%%` comment that is not inside a quoted label. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (!quoted && line[i] === '%' && line[i + 1] === '%')
      return line.slice(0, i);
  }
  return line;
}
