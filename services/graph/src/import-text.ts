import type { JsonValue } from '@bufbuild/protobuf';
import { invalid, isSubjectToken, show } from '@cim/kernel';
import { LIMITS } from './domain/rules.js';
import type { ImportedEdge, ImportedNode } from './import-json.js';

/** Bounds on one imported document, whatever its format. */
export const IMPORT_LIMITS = {
  /** Nodes one document may add, including nodes its edges imply. */
  nodes: 10_000,
  /** Edges one document may add. */
  edges: 10_000,
  /** Characters of inline content, and bytes of content fetched by CID (1 MiB). */
  contentBytes: 1024 * 1024,
} as const;

/** A node of a parsed document; `implied` when only an edge names it (DOT, Mermaid). */
export interface ParsedNode extends ImportedNode {
  /** Named by an edge but never declared: added only when the graph does not hold it yet. */
  readonly implied?: boolean;
}

/** What every import parser yields: the nodes in order of first mention, the edges in document order. */
export interface ParsedGraph {
  readonly nodes: readonly ParsedNode[];
  readonly edges: readonly ImportedEdge[];
}

/** A 1-based line and column of a text document. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Throws VALIDATION_FAILED with `message`, prefixed by the position it concerns. */
export function failAt(at: Position, message: string): never {
  invalid(`line ${at.line}, column ${at.column}: ${message}`);
}

/** Line and column of `offset` in `text` (O(offset); only used to report an error). */
export function positionOf(text: string, offset: number): Position {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset;) {
    line++;
    start = i + 1;
    i = text.indexOf('\n', start);
  }
  return { line, column: offset - start + 1 };
}

/** A read position in a text that keeps its line and column as it moves forward. */
export class TextCursor {
  protected offset = 0;
  protected line = 1;
  protected lineStart = 0;

  constructor(protected readonly text: string) {}

  protected here(): Position {
    return { line: this.line, column: this.offset - this.lineStart + 1 };
  }

  /**
   * The first line break at or after `offset` (-1: none left), kept between
   * moves: searching for it on every move rescans the rest of a line each
   * time, quadratic in the length of a long line.
   */
  private nextBreak = -2;

  /** Moves to `to`, counting the line breaks passed. */
  protected advance(to: number): void {
    let i = this.nextBreak;
    // Unknown yet, or passed by a subclass moving `offset` itself.
    if (i === -2 || (i !== -1 && i < this.offset))
      i = this.text.indexOf('\n', this.offset);
    while (i !== -1 && i < to) {
      this.line++;
      this.lineStart = i + 1;
      i = this.text.indexOf('\n', i + 1);
    }
    this.nextBreak = i;
    this.offset = to;
  }
}

/** Fields a node declaration may set; absent ones keep their value. */
export interface NodeFields {
  readonly type?: string;
  readonly label?: string;
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** Fields of one edge as a document states it. */
export interface EdgeFields {
  readonly id?: string;
  readonly source: string;
  readonly target: string;
  readonly type?: string;
  readonly directed: boolean;
  readonly weight?: number;
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

interface NodeDraft {
  id: string;
  type: string;
  label: string | undefined;
  metadata: Record<string, JsonValue> | undefined;
  implied: boolean;
}

interface EdgeDraft {
  id: string | undefined;
  at: Position;
  source: string;
  target: string;
  type: string;
  directed: boolean;
  weight: number | undefined;
  metadata: Record<string, JsonValue> | undefined;
}

/**
 * Collects the nodes and edges of a text document and checks each as it
 * arrives (ids, type and label lengths, counts), naming the position at fault.
 * A node declared twice merges, later fields winning (as Graphviz and Mermaid
 * do); an edge without an id gets `${commandId}-e${index}` in `build`.
 */
export class GraphBuilder {
  private readonly nodes = new Map<string, NodeDraft>();
  private readonly edges: EdgeDraft[] = [];
  private readonly edgeIds = new Map<string, Position>();

  constructor(
    private readonly commandId: string,
    private readonly defaults: { readonly node: string; readonly edge: string },
  ) {}

  /** True when the document has named the node, declared or implied. */
  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Declares a node, or merges `fields` into one named before (which is then declared). */
  declare(id: string, at: Position, fields: NodeFields = {}): void {
    const node = this.draft(id, at, false);
    node.implied = false;
    this.merge(node, fields, at);
  }

  /** Names a node from an edge: implied unless it is, or later is, declared. Defaults apply only to a new node. */
  mention(id: string, at: Position, fields: NodeFields = {}): void {
    if (this.nodes.has(id)) return;
    this.merge(this.draft(id, at, true), fields, at);
  }

  /** Adds an edge; its ends must have been named. Returns its index. */
  edge(at: Position, fields: EdgeFields): number {
    if (this.edges.length >= IMPORT_LIMITS.edges) {
      failAt(at, `a document may hold at most ${IMPORT_LIMITS.edges} edges`);
    }
    if (fields.id !== undefined) {
      this.checkId(fields.id, 'edge id', at);
      const first = this.edgeIds.get(fields.id);
      if (first !== undefined) {
        failAt(
          at,
          `edge id ${show(fields.id)} repeats the edge of line ${first.line}`,
        );
      }
      this.edgeIds.set(fields.id, at);
    }
    this.checkId(fields.source, 'edge source', at);
    this.checkId(fields.target, 'edge target', at);
    const type = fields.type ?? this.defaults.edge;
    this.checkType(type, 'edge type', at);
    if (fields.weight !== undefined && !Number.isFinite(fields.weight)) {
      failAt(at, `edge weight must be a finite number, got ${fields.weight}`);
    }
    this.edges.push({
      id: fields.id,
      at,
      source: fields.source,
      target: fields.target,
      type,
      directed: fields.directed,
      weight: fields.weight,
      metadata: fields.metadata && { ...fields.metadata },
    });
    return this.edges.length - 1;
  }

  /** Merges fields into an edge added before (Graphviz strict graphs). */
  mergeEdge(
    index: number,
    fields: Omit<EdgeFields, 'source' | 'target' | 'directed'>,
  ): void {
    const edge = this.edges[index];
    if (edge === undefined) return;
    if (fields.type !== undefined) {
      this.checkType(fields.type, 'edge type', edge.at);
      edge.type = fields.type;
    }
    if (fields.weight !== undefined) edge.weight = fields.weight;
    if (fields.metadata !== undefined) {
      edge.metadata = { ...edge.metadata, ...fields.metadata };
    }
  }

  /** The document's nodes and edges; refuses an empty document. */
  build(): ParsedGraph {
    if (this.nodes.size === 0 && this.edges.length === 0) {
      invalid('content has no nodes and no edges');
    }
    const nodes = [...this.nodes.values()].map(
      ({ id, type, label, metadata, implied }): ParsedNode => ({
        id,
        type,
        label,
        metadata: metadata,
        ...(implied && { implied }),
      }),
    );
    const edges = this.edges.map((edge, i): ImportedEdge => {
      let id = edge.id;
      if (id === undefined) {
        if (this.commandId === '') {
          failAt(edge.at, 'edges need ids when the command has no command id');
        }
        id = `${this.commandId}-e${i}`;
        if (this.edgeIds.has(id)) {
          failAt(
            edge.at,
            `edge id ${show(id)} is already taken by another edge`,
          );
        }
      }
      return {
        id,
        source: edge.source,
        target: edge.target,
        type: edge.type,
        directed: edge.directed,
        weight: edge.weight,
        metadata: edge.metadata,
      };
    });
    return { nodes, edges };
  }

  private draft(id: string, at: Position, implied: boolean): NodeDraft {
    let node = this.nodes.get(id);
    if (node === undefined) {
      this.checkId(id, 'node id', at);
      if (this.nodes.size >= IMPORT_LIMITS.nodes) {
        failAt(at, `a document may hold at most ${IMPORT_LIMITS.nodes} nodes`);
      }
      node = {
        id,
        type: this.defaults.node,
        label: undefined,
        metadata: undefined,
        implied,
      };
      this.nodes.set(id, node);
    }
    return node;
  }

  private merge(node: NodeDraft, fields: NodeFields, at: Position): void {
    if (fields.type !== undefined) {
      this.checkType(fields.type, 'node type', at);
      node.type = fields.type;
    }
    if (fields.label !== undefined) {
      if (fields.label.length > LIMITS.label) {
        failAt(
          at,
          `label must be at most ${LIMITS.label} characters, got ${fields.label.length}`,
        );
      }
      node.label = fields.label;
    }
    if (fields.metadata !== undefined) {
      node.metadata = { ...node.metadata, ...fields.metadata };
    }
  }

  private checkId(id: string, what: string, at: Position): void {
    if (!isSubjectToken(id)) {
      failAt(at, `${what} must match [A-Za-z0-9_-]{1,128}, got ${show(id)}`);
    }
  }

  private checkType(type: string, what: string, at: Position): void {
    if (type.trim() === '') failAt(at, `${what} must not be blank`);
    if (type.length > LIMITS.type) {
      failAt(
        at,
        `${what} must be at most ${LIMITS.type} characters, got ${type.length}`,
      );
    }
  }
}
