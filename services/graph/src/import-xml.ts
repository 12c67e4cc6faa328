import { show } from '@cim/kernel';
import { TextCursor, failAt, type Position } from './import-text.js';

/** One element of an XML document, with its position for error messages. */
export interface XmlElement {
  /** The qualified name as written (`y:ShapeNode`). */
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** The character data directly inside the element, entities decoded, CDATA included. */
  readonly text: string;
  readonly at: Position;
}

interface OpenElement {
  readonly name: string;
  readonly attributes: Map<string, string>;
  readonly children: XmlElement[];
  text: string;
  readonly at: Position;
}

/** Deepest nesting accepted; GraphML needs about six levels. */
const MAX_DEPTH = 256;

const NAME = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;
const ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/**
 * A small, strict XML reader for the subset GraphML documents use: an
 * optional declaration, elements with quoted attributes, character data with
 * the five predefined entities and character references, CDATA sections,
 * comments and processing instructions. A DOCTYPE is refused (no entity
 * expansion), as is anything not well-formed: an unmatched or unclosed tag, a
 * repeated attribute, a `<` in an attribute value, text outside the root.
 * Throws VALIDATION_FAILED naming line and column. Pure; no namespaces are
 * resolved (names are kept as written).
 */
export function parseXml(content: string): XmlElement {
  return new XmlReader(content).document();
}

class XmlReader extends TextCursor {
  constructor(text: string) {
    super(text);
    if (text.charCodeAt(0) === 0xfeff) this.offset = 1;
  }

  document(): XmlElement {
    if (this.text.startsWith('<?xml', this.offset)) this.instruction();
    let root: XmlElement | undefined;
    const stack: OpenElement[] = [];
    while (this.offset < this.text.length) {
      const at = this.here();
      if (this.text[this.offset] !== '<') {
        const data = this.characterData();
        const top = stack.at(-1);
        if (top !== undefined) top.text += data;
        else if (data.trim() !== '')
          failAt(at, 'text outside the root element');
        continue;
      }
      if (this.text.startsWith('<!--', this.offset)) {
        this.comment();
      } else if (this.text.startsWith('<![CDATA[', this.offset)) {
        const end = this.text.indexOf(']]>', this.offset + 9);
        if (end === -1) failAt(at, 'CDATA section is not closed');
        const data = this.text.slice(this.offset + 9, end);
        const top = stack.at(-1);
        if (top === undefined) failAt(at, 'CDATA outside the root element');
        top.text += data;
        this.advance(end + 3);
      } else if (this.text.startsWith('<!DOCTYPE', this.offset)) {
        failAt(at, 'a DOCTYPE is not supported');
      } else if (this.text.startsWith('<?', this.offset)) {
        this.instruction();
      } else if (this.text.startsWith('</', this.offset)) {
        this.advance(this.offset + 2);
        const name = this.name('an element name');
        this.blank();
        this.expect('>');
        const open = stack.pop();
        if (open === undefined) failAt(at, `</${name}> closes no element`);
        if (open.name !== name) {
          failAt(
            at,
            `</${name}> closes <${open.name}> of line ${open.at.line}`,
          );
        }
        const element: XmlElement = open;
        const parent = stack.at(-1);
        if (parent !== undefined) parent.children.push(element);
        else root = element;
      } else {
        if (root !== undefined) failAt(at, 'a second root element');
        this.advance(this.offset + 1);
        const name = this.name('an element name');
        const attributes = this.attributes();
        const element: OpenElement = {
          name,
          attributes,
          children: [],
          text: '',
          at,
        };
        if (this.text.startsWith('/>', this.offset)) {
          this.advance(this.offset + 2);
          const parent = stack.at(-1);
          if (parent !== undefined) parent.children.push(element);
          else root = element;
        } else {
          this.expect('>');
          if (stack.length >= MAX_DEPTH)
            failAt(at, `elements nest deeper than ${MAX_DEPTH} levels`);
          stack.push(element);
        }
      }
    }
    const open = stack.at(-1);
    if (open !== undefined) failAt(open.at, `<${open.name}> is not closed`);
    if (root === undefined)
      failAt(this.here(), 'the document has no root element');
    return root;
  }

  private attributes(): Map<string, string> {
    const attributes = new Map<string, string>();
    for (;;) {
      const spaced = this.blank();
      const c = this.text[this.offset];
      if (c === '>' || (c === '/' && this.text[this.offset + 1] === '>'))
        return attributes;
      if (c === undefined) this.fail('the tag is not closed');
      if (!spaced) this.fail('attributes must be separated by white space');
      const at = this.here();
      const name = this.name('an attribute name');
      this.blank();
      this.expect('=');
      this.blank();
      const quote = this.text[this.offset];
      if (quote !== '"' && quote !== "'")
        this.fail(`the value of ${name} must be quoted`);
      const end = this.text.indexOf(quote, this.offset + 1);
      if (end === -1) this.fail(`the value of ${name} is not closed`);
      const raw = this.text.slice(this.offset + 1, end);
      if (raw.includes('<')) this.fail(`the value of ${name} contains "<"`);
      const value = this.decode(raw, this.here());
      this.advance(end + 1);
      if (attributes.has(name)) failAt(at, `attribute ${name} appears twice`);
      attributes.set(name, value);
    }
  }

  private characterData(): string {
    const end = this.text.indexOf('<', this.offset);
    const stop = end === -1 ? this.text.length : end;
    const raw = this.text.slice(this.offset, stop);
    const value = this.decode(raw, this.here());
    this.advance(stop);
    return value;
  }

  /** Replaces entity and character references; `at` is where `raw` starts. */
  private decode(raw: string, at: Position): string {
    if (!raw.includes('&')) return raw;
    return raw.replace(
      /&([^;&\s]*);?/g,
      (whole, ref: string, index: number) => {
        const before = raw.slice(0, index);
        const newline = before.lastIndexOf('\n');
        const where =
          newline === -1
            ? { line: at.line, column: at.column + index }
            : {
                line: at.line + before.split('\n').length - 1,
                column: index - newline,
              };
        if (!whole.endsWith(';'))
          failAt(where, `"&" must start a reference such as &amp;`);
        const named = ENTITIES[ref];
        if (named !== undefined) return named;
        const code = /^#x[0-9A-Fa-f]+$/.test(ref)
          ? parseInt(ref.slice(2), 16)
          : /^#[0-9]+$/.test(ref)
            ? parseInt(ref.slice(1), 10)
            : undefined;
        if (code === undefined) failAt(where, `unknown entity &${ref};`);
        if (
          code > 0x10ffff ||
          code === 0 ||
          (code >= 0xd800 && code <= 0xdfff)
        ) {
          failAt(where, `&${ref}; is not a character`);
        }
        return String.fromCodePoint(code);
      },
    );
  }

  private comment(): void {
    const end = this.text.indexOf('-->', this.offset + 4);
    if (end === -1) this.fail('comment is not closed');
    this.advance(end + 3);
  }

  private instruction(): void {
    const end = this.text.indexOf('?>', this.offset + 2);
    if (end === -1) this.fail('processing instruction is not closed');
    this.advance(end + 2);
  }

  private name(what: string): string {
    NAME.lastIndex = this.offset;
    const match = NAME.exec(this.text);
    if (match === null) {
      this.fail(
        `${what} expected, found ${show(this.text.slice(this.offset, this.offset + 16))}`,
      );
    }
    this.advance(this.offset + match[0].length);
    return match[0];
  }

  private expect(c: string): void {
    if (this.text[this.offset] !== c) {
      this.fail(
        `"${c}" expected, found ${show(this.text.slice(this.offset, this.offset + 16))}`,
      );
    }
    this.advance(this.offset + 1);
  }

  /** Skips white space; true when there was some. */
  private blank(): boolean {
    const start = this.offset;
    let i = start;
    for (
      let c = this.text[i];
      c === ' ' || c === '\t' || c === '\r' || c === '\n';
      c = this.text[++i]
    );
    this.advance(i);
    return i > start;
  }

  private fail(message: string): never {
    failAt(this.here(), message);
  }
}
