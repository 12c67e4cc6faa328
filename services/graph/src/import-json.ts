import type { JsonObject } from '@bufbuild/protobuf';
import { invalid, limitText, requireId, requireText, show } from '@cim/kernel';
import { LIMITS, validateWeight } from './domain/rules.js';

/** A node of an imported document. */
export interface ImportedNode {
  readonly id: string;
  readonly type: string;
  readonly label: string | undefined;
  readonly metadata: JsonObject | undefined;
}

/** An edge of an imported document; its id is derived when the document has none. */
export interface ImportedEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly type: string;
  readonly directed: boolean;
  readonly weight: number | undefined;
  readonly metadata: JsonObject | undefined;
}

/** The content of an ImportGraph document, checked element by element. */
export interface ImportedGraph {
  readonly nodes: readonly ImportedNode[];
  readonly edges: readonly ImportedEdge[];
}

const TOP_KEYS = new Set(['nodes', 'edges']);
const NODE_KEYS = new Set(['id', 'type', 'label', 'metadata']);
const EDGE_KEYS = new Set([
  'id',
  'source',
  'target',
  'type',
  'directed',
  'weight',
  'metadata',
]);

type Fields = Readonly<Record<string, unknown>>;

const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses `{"nodes":[{"id","type","label"?,"metadata"?}], "edges":[{"id"?,
 * "source","target","type","directed"?,"weight"?,"metadata"?}]}`. Unknown keys
 * are refused (a misspelt "wieght" must not vanish silently); an edge without
 * an id gets `${commandId}-e${index}`. Throws VALIDATION_FAILED naming the
 * element at fault, e.g. `edges[2].weight must be a finite number`. Ids are
 * not checked against a graph here: the decider does that.
 */
export function parseImportJson(
  content: string,
  commandId: string,
): ImportedGraph {
  let document: unknown;
  try {
    document = JSON.parse(content);
  } catch (error) {
    // JSON.parse only throws SyntaxError; its message locates the fault.
    invalid(
      `content is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!isObject(document)) {
    invalid('content must be a JSON object with "nodes" and "edges" arrays');
  }
  refuseUnknownKeys(document, TOP_KEYS, 'content');
  const nodes = listAt(document, 'nodes').map((value, i) =>
    parseNode(value, `nodes[${i}]`),
  );
  const edges = listAt(document, 'edges').map((value, i) =>
    parseEdge(value, `edges[${i}]`, commandId, i),
  );
  if (nodes.length === 0 && edges.length === 0) {
    invalid('content has no nodes and no edges');
  }
  refuseDuplicates(nodes, 'nodes');
  refuseDuplicates(edges, 'edges');
  return { nodes, edges };
}

function listAt(document: Fields, key: string): readonly unknown[] {
  const value = document[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(`content.${key} must be an array`);
  return value;
}

function parseNode(value: unknown, at: string): ImportedNode {
  if (!isObject(value)) invalid(`${at} must be an object`);
  refuseUnknownKeys(value, NODE_KEYS, at);
  return {
    id: idAt(value, 'id', at),
    type: typeAt(value, at),
    label: optionalLabel(value, at),
    metadata: optionalMetadata(value, at),
  };
}

function parseEdge(
  value: unknown,
  at: string,
  commandId: string,
  index: number,
): ImportedEdge {
  if (!isObject(value)) invalid(`${at} must be an object`);
  refuseUnknownKeys(value, EDGE_KEYS, at);
  let id: string;
  if (value['id'] !== undefined) {
    id = idAt(value, 'id', at);
  } else if (commandId !== '') {
    id = `${commandId}-e${index}`;
  } else {
    invalid(`${at}.id is required when the command has no command id`);
  }
  const directed = value['directed'];
  if (directed !== undefined && typeof directed !== 'boolean') {
    invalid(`${at}.directed must be true or false`);
  }
  const weight = value['weight'];
  if (weight !== undefined && typeof weight !== 'number') {
    invalid(`${at}.weight must be a number`);
  }
  validateWeight(weight, `${at}.weight`);
  return {
    id,
    source: idAt(value, 'source', at),
    target: idAt(value, 'target', at),
    type: typeAt(value, at),
    directed: directed ?? false,
    weight,
    metadata: optionalMetadata(value, at),
  };
}

function idAt(value: Fields, key: string, at: string): string {
  const id = value[key];
  if (typeof id !== 'string') invalid(`${at}.${key} must be a string`);
  requireId(id, `${at}.${key}`);
  return id;
}

function typeAt(value: Fields, at: string): string {
  const type = value['type'];
  if (typeof type !== 'string') invalid(`${at}.type must be a string`);
  requireText(type, `${at}.type`, LIMITS.type);
  return type;
}

function optionalLabel(value: Fields, at: string): string | undefined {
  const label = value['label'];
  if (label === undefined) return undefined;
  if (typeof label !== 'string') invalid(`${at}.label must be a string`);
  limitText(label, `${at}.label`, LIMITS.label);
  return label;
}

function optionalMetadata(value: Fields, at: string): JsonObject | undefined {
  const metadata = value['metadata'];
  if (metadata === undefined) return undefined;
  if (!isObject(metadata)) invalid(`${at}.metadata must be a JSON object`);
  // It came out of JSON.parse, so every value in it is a JSON value.
  return metadata as JsonObject;
}

function refuseUnknownKeys(
  value: Fields,
  known: ReadonlySet<string>,
  at: string,
): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) invalid(`${at} has an unknown key ${show(key)}`);
  }
}

function refuseDuplicates(
  items: readonly { readonly id: string }[],
  list: string,
): void {
  const first = new Map<string, number>();
  items.forEach(({ id }, i) => {
    const earlier = first.get(id);
    if (earlier !== undefined) {
      invalid(`${list}[${i}].id ${show(id)} repeats ${list}[${earlier}]`);
    }
    first.set(id, i);
  });
}
