import type { JsonValue } from '@bufbuild/protobuf';
import { show } from '@cim/kernel';
import {
  GraphBuilder,
  TextCursor,
  failAt,
  type NodeFields,
  type ParsedGraph,
  type Position,
} from './import-text.js';

type TokenKind = 'id' | 'punct' | 'edgeop' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  /** An unquoted ID, so it may be a keyword. */
  readonly bare: boolean;
  readonly at: Position;
}

type Attributes = Map<string, string>;

/** Defaults of one scope: `node [...]` and `edge [...]` statements apply to what follows them in it. */
interface Scope {
  readonly node: Attributes;
  readonly edge: Attributes;
}

const KEYWORDS = new Set([
  'strict',
  'graph',
  'digraph',
  'subgraph',
  'node',
  'edge',
]);

/**
 * Parses a Graphviz DOT document: one `graph` or `digraph` (optionally
 * `strict`) with node statements (`a [label="A", type=task]`), edge statements
 * including chains and subgraph operands (`a -> b -> {c d}`), `node`/`edge`
 * default attributes scoped to their subgraph, graph attributes (ignored),
 * quoted, numeral and HTML ids, ports (ignored), `//`, `/* *\/` and `#` line
 * comments. Subgraphs are flattened. Node attributes `type` and `label` fill
 * the node's fields; edge attributes `id`, `type` and `weight` the edge's;
 * every other attribute becomes a metadata string. A node only an edge names
 * is implied. Throws VALIDATION_FAILED naming line and column.
 */
export function parseImportDot(
  content: string,
  commandId: string,
): ParsedGraph {
  return new DotParser(content, commandId).parse();
}

class DotLexer extends TextCursor {
  next(): Token {
    this.skipBlank();
    const at = this.here();
    const { text } = this;
    if (this.offset >= text.length) {
      return { kind: 'end', value: '', bare: false, at };
    }
    const c = text[this.offset]!;
    if (
      c === '-' &&
      (text[this.offset + 1] === '>' || text[this.offset + 1] === '-')
    ) {
      this.offset += 2;
      return {
        kind: 'edgeop',
        value: c + text[this.offset - 1]!,
        bare: false,
        at,
      };
    }
    if ('{}[];,:='.includes(c)) {
      this.offset++;
      return { kind: 'punct', value: c, bare: false, at };
    }
    if (c === '"')
      return { kind: 'id', value: this.quoted(at), bare: false, at };
    if (c === '<') return { kind: 'id', value: this.html(at), bare: false, at };
    const numeral = /-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)/y;
    numeral.lastIndex = this.offset;
    const bare = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*/y;
    bare.lastIndex = this.offset;
    const match = bare.exec(text) ?? numeral.exec(text);
    if (match !== null) {
      this.offset += match[0].length;
      const after = text[this.offset];
      if (after !== undefined && /[A-Za-z0-9_.\u0080-\uffff]/.test(after)) {
        failAt(
          this.here(),
          `unexpected ${show(after)} after ${show(match[0])}`,
        );
      }
      return { kind: 'id', value: match[0], bare: true, at };
    }
    failAt(at, `unexpected character ${show(c)}`);
  }

  private skipBlank(): void {
    const { text } = this;
    for (;;) {
      const c = text[this.offset];
      if (c === undefined) return;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f') {
        this.advance(this.offset + 1);
      } else if (c === '/' && text[this.offset + 1] === '/') {
        this.toLineEnd();
      } else if (
        c === '#' &&
        /^[ \t]*$/.test(text.slice(this.lineStart, this.offset))
      ) {
        this.toLineEnd();
      } else if (c === '/' && text[this.offset + 1] === '*') {
        const end = text.indexOf('*/', this.offset + 2);
        if (end === -1) failAt(this.here(), 'comment is not closed');
        this.advance(end + 2);
      } else {
        return;
      }
    }
  }

  private toLineEnd(): void {
    const end = this.text.indexOf('\n', this.offset);
    this.advance(end === -1 ? this.text.length : end);
  }

  /** A double-quoted string, with `\"` unescaped, line continuations removed, and `+` concatenation. */
  private quoted(at: Position): string {
    let value = '';
    for (;;) {
      const { text } = this;
      let i = this.offset + 1;
      let part = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) failAt(at, 'string is not closed');
        if (c === '"') break;
        if (c === '\\' && text[i + 1] === '"') {
          part += '"';
          i += 2;
        } else if (c === '\\' && text[i + 1] === '\n') {
          i += 2;
        } else if (c === '\\' && text[i + 1] === '\r' && text[i + 2] === '\n') {
          i += 3;
        } else {
          part += c;
          i++;
        }
      }
      this.advance(i + 1);
      value += part;
      const save = {
        offset: this.offset,
        line: this.line,
        lineStart: this.lineStart,
      };
      this.skipBlank();
      if (this.text[this.offset] === '+') {
        this.advance(this.offset + 1);
        this.skipBlank();
        if (this.text[this.offset] !== '"') {
          failAt(this.here(), '"+" must be followed by a quoted string');
        }
        continue;
      }
      this.offset = save.offset;
      this.line = save.line;
      this.lineStart = save.lineStart;
      return value;
    }
  }

  /** An HTML string `<...>` with balanced angle brackets; its value is the text between the outer ones. */
  private html(at: Position): string {
    let depth = 0;
    for (let i = this.offset; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === '<') depth++;
      else if (c === '>' && --depth === 0) {
        const value = this.text.slice(this.offset + 1, i);
        this.advance(i + 1);
        return value;
      }
    }
    failAt(at, 'HTML string is not closed');
  }
}

/** Deepest nesting of subgraphs, as GraphML's elements (import-xml.ts). */
const MAX_SUBGRAPH_DEPTH = 256;

class DotParser {
  private readonly lexer: DotLexer;
  private token: Token;
  private readonly builder: GraphBuilder;
  private directed = false;
  private strict = false;
  /** In a strict graph, the edge already joining two nodes. */
  private readonly pairs = new Map<string, number>();
  /** Subgraphs open around the current statement. */
  private depth = 0;

  constructor(content: string, commandId: string) {
    this.lexer = new DotLexer(content);
    this.token = this.lexer.next();
    this.builder = new GraphBuilder(commandId, { node: 'node', edge: 'edge' });
  }

  parse(): ParsedGraph {
    if (this.keyword('strict')) {
      this.strict = true;
      this.shift();
    }
    if (this.keyword('digraph')) this.directed = true;
    else if (!this.keyword('graph')) {
      this.fail('a DOT document starts with "graph" or "digraph"');
    }
    this.shift();
    if (this.token.kind === 'id' && !this.isPunct('{')) this.shift();
    this.expect('{');
    this.statements({ node: new Map(), edge: new Map() });
    this.expect('}');
    if (this.token.kind !== 'end') {
      this.fail('a DOT document holds one graph; more follows it');
    }
    return this.builder.build();
  }

  /** Statements up to the closing brace of the current block; returns the nodes they name, in order. */
  private statements(outer: Scope): string[] {
    const scope: Scope = {
      node: new Map(outer.node),
      edge: new Map(outer.edge),
    };
    const named: string[] = [];
    while (!this.isPunct('}')) {
      if (this.token.kind === 'end') this.fail('"}" expected before the end');
      this.statement(scope, named);
      if (this.isPunct(';')) this.shift();
    }
    return named;
  }

  private statement(scope: Scope, named: string[]): void {
    if (this.keyword('node') || this.keyword('edge') || this.keyword('graph')) {
      const which = this.token.value.toLowerCase();
      this.shift();
      if (!this.isPunct('[')) this.fail(`"[" expected after "${which}"`);
      const attributes = this.attributeLists();
      const target =
        which === 'node'
          ? scope.node
          : which === 'edge'
            ? scope.edge
            : undefined;
      for (const [key, value] of attributes) target?.set(key, value);
      return;
    }
    if (this.token.kind === 'id' && !this.isKeyword()) {
      const at = this.token.at;
      const first = this.shift().value;
      if (this.isPunct('=')) {
        this.shift();
        this.id('a value'); // a graph attribute: layout only
        return;
      }
      this.port();
      if (this.isEdgeOp()) {
        this.edges(scope, named, [{ ids: [first], at, single: true }]);
        return;
      }
      const attributes = this.isPunct('[')
        ? this.attributeLists()
        : new Map<string, string>();
      // Defaults apply when a node is made, as in Graphviz; naming it again sets only what is written.
      const defaults = this.builder.has(first) ? [] : scope.node;
      this.builder.declare(
        first,
        at,
        nodeFields(new Map([...defaults, ...attributes])),
      );
      named.push(first);
      return;
    }
    if (this.keyword('subgraph') || this.isPunct('{')) {
      const at = this.token.at;
      const ids = this.subgraph(scope);
      named.push(...ids);
      if (this.isEdgeOp()) {
        this.edges(scope, named, [{ ids, at, single: false }]);
      }
      return;
    }
    this.fail(`unexpected ${describe(this.token)}`);
  }

  /** An edge statement from its first operand on: the rest of the chain, then its attributes. */
  private edges(
    scope: Scope,
    named: string[],
    operands: Array<{ ids: string[]; at: Position; single: boolean }>,
  ): void {
    while (this.token.kind === 'edgeop') {
      const op = this.shift();
      if (op.value === '--' && this.directed) {
        failAt(op.at, 'a digraph joins nodes with "->", not "--"');
      }
      if (op.value === '->' && !this.directed) {
        failAt(op.at, 'an undirected graph joins nodes with "--", not "->"');
      }
      const at = this.token.at;
      if (this.keyword('subgraph') || this.isPunct('{')) {
        const ids = this.subgraph(scope);
        named.push(...ids);
        operands.push({ ids, at, single: false });
      } else {
        const id = this.id('a node id');
        this.port();
        operands.push({ ids: [id], at, single: true });
      }
    }
    const attributes = new Map([
      ...scope.edge,
      ...(this.isPunct('[') ? this.attributeLists() : []),
    ]);
    for (const operand of operands) {
      if (!operand.single) continue;
      const id = operand.ids[0]!;
      this.builder.mention(id, operand.at, nodeFields(scope.node));
      named.push(id);
    }
    for (let i = 1; i < operands.length; i++) {
      const from = operands[i - 1]!;
      const to = operands[i]!;
      for (const source of from.ids) {
        for (const target of to.ids)
          this.addEdge(to.at, source, target, attributes);
      }
    }
  }

  private addEdge(
    at: Position,
    source: string,
    target: string,
    attributes: Attributes,
  ): void {
    const fields = edgeFields(attributes, at);
    if (this.strict) {
      const key =
        this.directed || source <= target
          ? `${source}\u0000${target}`
          : `${target}\u0000${source}`;
      const index = this.pairs.get(key);
      if (index !== undefined) {
        this.builder.mergeEdge(index, fields);
        return;
      }
      this.pairs.set(
        key,
        this.builder.edge(at, {
          ...fields,
          source,
          target,
          directed: this.directed,
        }),
      );
      return;
    }
    this.builder.edge(at, {
      ...fields,
      source,
      target,
      directed: this.directed,
    });
  }

  /** `subgraph name? { ... }` or `{ ... }`: its statements, flattened; returns the nodes it names. */
  private subgraph(scope: Scope): string[] {
    const at = this.token.at;
    if (this.keyword('subgraph')) {
      this.shift();
      if (this.token.kind === 'id') this.shift();
    }
    this.expect('{');
    // Subgraphs are parsed recursively: a bound keeps deep nesting a refusal, not a stack overflow.
    if (++this.depth > MAX_SUBGRAPH_DEPTH) {
      failAt(at, `subgraphs nest deeper than ${MAX_SUBGRAPH_DEPTH} levels`);
    }
    const named = this.statements(scope);
    this.depth--;
    this.expect('}');
    return [...new Set(named)];
  }

  /** One or more `[a=b, c=d]` lists, merged left to right. */
  private attributeLists(): Attributes {
    const attributes: Attributes = new Map();
    while (this.isPunct('[')) {
      this.shift();
      while (!this.isPunct(']')) {
        const key = this.id('an attribute name');
        this.expect('=');
        attributes.set(key, this.id(`a value for ${show(key)}`));
        if (this.isPunct(',') || this.isPunct(';')) this.shift();
      }
      this.shift();
    }
    return attributes;
  }

  /** `:port` or `:port:compass` after a node id; layout only, so dropped. */
  private port(): void {
    while (this.isPunct(':')) {
      this.shift();
      this.id('a port');
    }
  }

  private id(what: string): string {
    if (this.token.kind !== 'id' || this.isKeyword()) {
      this.fail(`${what} expected, found ${describe(this.token)}`);
    }
    return this.shift().value;
  }

  private expect(punct: string): void {
    if (!this.isPunct(punct))
      this.fail(`"${punct}" expected, found ${describe(this.token)}`);
    this.shift();
  }

  private shift(): Token {
    const token = this.token;
    this.token = this.lexer.next();
    return token;
  }

  /** Re-reads the current token (after `shift`, which the compiler cannot see through). */
  private isEdgeOp(): boolean {
    return this.token.kind === 'edgeop';
  }

  private isPunct(value: string): boolean {
    return this.token.kind === 'punct' && this.token.value === value;
  }

  private isKeyword(): boolean {
    return this.token.bare && KEYWORDS.has(this.token.value.toLowerCase());
  }

  private keyword(word: string): boolean {
    return this.token.bare && this.token.value.toLowerCase() === word;
  }

  private fail(message: string): never {
    failAt(this.token.at, message);
  }
}

function describe(token: Token): string {
  return token.kind === 'end' ? 'the end of the document' : show(token.value);
}

function metadataOf(
  attributes: Attributes,
  skip: readonly string[],
): Record<string, JsonValue> | undefined {
  const rest = [...attributes].filter(([key]) => !skip.includes(key));
  return rest.length === 0 ? undefined : Object.fromEntries(rest);
}

function nodeFields(attributes: Attributes): NodeFields {
  const type = attributes.get('type');
  const label = attributes.get('label');
  const metadata = metadataOf(attributes, ['type', 'label']);
  return {
    ...(type !== undefined && { type }),
    ...(label !== undefined && { label }),
    ...(metadata && { metadata }),
  };
}

function edgeFields(attributes: Attributes, at: Position) {
  const id = attributes.get('id');
  const type = attributes.get('type');
  const weightText = attributes.get('weight');
  let weight: number | undefined;
  if (weightText !== undefined) {
    weight = Number(weightText);
    if (weightText.trim() === '' || !Number.isFinite(weight)) {
      failAt(
        at,
        `edge weight must be a finite number, got ${show(weightText)}`,
      );
    }
  }
  const metadata = metadataOf(attributes, ['id', 'type', 'weight']);
  return {
    ...(id !== undefined && { id }),
    ...(type !== undefined && { type }),
    ...(weight !== undefined && { weight }),
    ...(metadata && { metadata }),
  };
}
