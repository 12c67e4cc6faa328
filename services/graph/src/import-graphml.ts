import type { JsonValue } from '@bufbuild/protobuf';
import { show } from '@cim/kernel';
import {
  GraphBuilder,
  failAt,
  type ParsedGraph,
  type Position,
} from './import-text.js';
import { parseXml, type XmlElement } from './import-xml.js';

type KeyType = 'boolean' | 'int' | 'long' | 'float' | 'double' | 'string';

/** A `<key>` declaration: what a `<data key>` means for one kind of element. */
interface Key {
  readonly id: string;
  readonly for: string;
  /** attr.name, or the key id when the key has none. */
  readonly name: string;
  readonly type: KeyType;
  readonly default: JsonValue | undefined;
}

const KEY_TYPES = new Set([
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'string',
]);
/** Elements that carry nothing the graph model keeps. */
const SKIPPED = new Set(['desc', 'port', 'locator']);

/**
 * Parses a GraphML document: `<key>` declarations (attr.name, attr.type and
 * `<default>`), one `<graph edgedefault>` with `<node id>` and `<edge id?
 * source target directed?>` elements and their `<data key>` values. Data whose
 * key is named `type` sets a node's or edge's type (default `node` and
 * `edge`), `label` a node's label, `weight` an edge's weight; any other data
 * becomes metadata under the key's attr.name (or its id), typed by its
 * attr.type. Graphs nested in nodes are flattened; hyperedges are refused;
 * elements with a namespace prefix (tool extensions) are skipped. Throws
 * VALIDATION_FAILED naming line and column.
 */
export function parseImportGraphml(
  content: string,
  commandId: string,
): ParsedGraph {
  const root = parseXml(content);
  if (root.name !== 'graphml')
    failAt(root.at, `the root element must be <graphml>, got <${root.name}>`);
  const keys = new Map<string, Key>();
  const graphs: XmlElement[] = [];
  for (const child of structural(root)) {
    if (child.name === 'key') readKey(child, keys);
    else if (child.name === 'graph') graphs.push(child);
    else if (child.name !== 'data') unexpected(child, 'graphml');
  }
  const [graph, second] = graphs;
  if (graph === undefined) failAt(root.at, 'the document has no <graph>');
  if (second !== undefined)
    failAt(
      second.at,
      'a GraphML document imports one <graph>; another follows',
    );
  const builder = new GraphBuilder(commandId, { node: 'node', edge: 'edge' });
  readGraph(graph, keys, builder);
  return builder.build();
}

/** Children that are GraphML elements: prefixed (extension) elements and skipped ones left out. */
function structural(element: XmlElement): XmlElement[] {
  return element.children.filter(
    (c) => !c.name.includes(':') && !SKIPPED.has(c.name),
  );
}

function unexpected(element: XmlElement, inside: string): never {
  if (element.name === 'hyperedge')
    failAt(element.at, 'hyperedges are not supported');
  failAt(element.at, `unexpected <${element.name}> in <${inside}>`);
}

function required(element: XmlElement, attribute: string): string {
  const value = element.attributes.get(attribute);
  if (value === undefined)
    failAt(element.at, `<${element.name}> needs a ${attribute} attribute`);
  return value;
}

function readKey(element: XmlElement, keys: Map<string, Key>): void {
  const id = required(element, 'id');
  if (keys.has(id)) failAt(element.at, `key ${show(id)} is declared twice`);
  const type = element.attributes.get('attr.type') ?? 'string';
  if (!KEY_TYPES.has(type)) {
    failAt(
      element.at,
      `attr.type must be boolean, int, long, float, double or string, got ${show(type)}`,
    );
  }
  const key = {
    id,
    for: element.attributes.get('for') ?? 'all',
    name: element.attributes.get('attr.name') ?? id,
    type: type as KeyType,
  };
  let fallback: JsonValue | undefined;
  for (const child of structural(element)) {
    if (child.name !== 'default') unexpected(child, 'key');
    fallback = typed(key, child.text, child.at);
  }
  keys.set(id, { ...key, default: fallback });
}

function typed(
  key: Omit<Key, 'default'>,
  text: string,
  at: Position,
): JsonValue {
  const value = text.trim();
  switch (key.type) {
    case 'string':
      return text;
    case 'boolean':
      if (value === 'true' || value === 'false') return value === 'true';
      return failAt(
        at,
        `data for key ${show(key.id)} must be true or false, got ${show(value)}`,
      );
    case 'int':
    case 'long':
      if (/^[-+]?[0-9]+$/.test(value) && Number.isSafeInteger(Number(value)))
        return Number(value);
      return failAt(
        at,
        `data for key ${show(key.id)} must be an integer, got ${show(value)}`,
      );
    case 'float':
    case 'double': {
      const number = Number(value);
      if (value !== '' && Number.isFinite(number)) return number;
      return failAt(
        at,
        `data for key ${show(key.id)} must be a finite number, got ${show(value)}`,
      );
    }
  }
}

/** Data values of a node or edge, defaults filled in, keyed by key name. */
function dataOf(
  element: XmlElement,
  kind: 'node' | 'edge',
  keys: ReadonlyMap<string, Key>,
): Map<string, JsonValue> {
  const values = new Map<string, JsonValue>();
  const given = new Set<string>();
  const children: XmlElement[] = [];
  for (const child of structural(element)) {
    if (child.name !== 'data') {
      children.push(child);
      continue;
    }
    const id = required(child, 'key');
    const key = keys.get(id);
    if (key === undefined)
      failAt(child.at, `data names key ${show(id)}, which is not declared`);
    if (key.for !== kind && key.for !== 'all') {
      failAt(
        child.at,
        `key ${show(id)} is declared for ${key.for}, not ${kind}`,
      );
    }
    if (given.has(id))
      failAt(child.at, `data for key ${show(id)} appears twice`);
    given.add(id);
    values.set(key.name, typed(key, textOf(child), child.at));
  }
  for (const key of keys.values()) {
    if (
      (key.for === kind || key.for === 'all') &&
      key.default !== undefined &&
      !given.has(key.id)
    ) {
      if (!values.has(key.name)) values.set(key.name, key.default);
    }
  }
  return values;
}

/** The text of an element and its descendants, in document order (for data wrapped in extension elements). */
function textOf(element: XmlElement): string {
  return element.children.length === 0
    ? element.text
    : element.text + element.children.map(textOf).join('');
}

function readGraph(
  graph: XmlElement,
  keys: ReadonlyMap<string, Key>,
  builder: GraphBuilder,
): void {
  const edgedefault = graph.attributes.get('edgedefault');
  if (edgedefault !== 'directed' && edgedefault !== 'undirected') {
    failAt(
      graph.at,
      `<graph> needs edgedefault="directed" or "undirected", got ${edgedefault === undefined ? 'none' : show(edgedefault)}`,
    );
  }
  for (const child of structural(graph)) {
    switch (child.name) {
      case 'node':
        readNode(child, keys, builder);
        break;
      case 'edge':
        readEdge(child, keys, builder, edgedefault === 'directed');
        break;
      case 'data':
        break;
      default:
        unexpected(child, 'graph');
    }
  }
}

function readNode(
  element: XmlElement,
  keys: ReadonlyMap<string, Key>,
  builder: GraphBuilder,
): void {
  const id = required(element, 'id');
  if (builder.has(id)) failAt(element.at, `node ${show(id)} is declared twice`);
  const data = dataOf(element, 'node', keys);
  const type = textData(data, 'type', element);
  const label = textData(data, 'label', element);
  data.delete('type');
  data.delete('label');
  builder.declare(id, element.at, {
    ...(type !== undefined && { type }),
    ...(label !== undefined && { label }),
    ...(data.size > 0 && { metadata: Object.fromEntries(data) }),
  });
  for (const child of structural(element)) {
    if (child.name === 'graph') readGraph(child, keys, builder);
    else if (child.name !== 'data') unexpected(child, 'node');
  }
}

function readEdge(
  element: XmlElement,
  keys: ReadonlyMap<string, Key>,
  builder: GraphBuilder,
  directedByDefault: boolean,
): void {
  const source = required(element, 'source');
  const target = required(element, 'target');
  const directedText = element.attributes.get('directed');
  if (
    directedText !== undefined &&
    directedText !== 'true' &&
    directedText !== 'false'
  ) {
    failAt(
      element.at,
      `directed must be true or false, got ${show(directedText)}`,
    );
  }
  const data = dataOf(element, 'edge', keys);
  const type = textData(data, 'type', element);
  const weight = data.get('weight');
  if (weight !== undefined && typeof weight !== 'number') {
    failAt(
      element.at,
      `edge weight must be a number; declare its key with attr.type="double"`,
    );
  }
  data.delete('type');
  data.delete('weight');
  for (const child of structural(element)) {
    if (child.name !== 'data') unexpected(child, 'edge');
  }
  const id = element.attributes.get('id');
  builder.edge(element.at, {
    ...(id !== undefined && { id }),
    source,
    target,
    directed:
      directedText === undefined ? directedByDefault : directedText === 'true',
    ...(type !== undefined && { type }),
    ...(weight !== undefined && { weight }),
    ...(data.size > 0 && { metadata: Object.fromEntries(data) }),
  });
}

function textData(
  data: ReadonlyMap<string, JsonValue>,
  name: string,
  element: XmlElement,
): string | undefined {
  const value = data.get(name);
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    failAt(element.at, `${name} data must be a string`);
  return value;
}
