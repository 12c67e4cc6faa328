// Graphs as concepts: the five graph features (README, "Graphs as
// concepts") and how a graph's changes fold into the counters behind them.
// Folding is exact whatever the delivery order: a change is applied only
// when every earlier graph version was, and changes that arrive early wait.
import { invalid, limitText, requireId } from '@cim/kernel';
import {
  DimensionKind,
  type GraphChange,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { LIMITS } from './rules.js';
import type {
  DimensionState,
  EdgeFacts,
  GraphTracking,
  NodeFacts,
  PendingChange,
} from './state.js';

/** The dimensions of a graph feature space, in order; each continuous on [0, 1). */
export const GRAPH_FEATURES = [
  { id: 'complexity', name: 'Complexity' },
  { id: 'connectivity', name: 'Connectivity' },
  { id: 'abstractness', name: 'Abstractness' },
  { id: 'dynamism', name: 'Dynamism' },
  { id: 'semantic_density', name: 'Semantic density' },
] as const;

/** The dimensions of a graph feature space as state. */
export const GRAPH_FEATURE_DIMENSIONS: readonly DimensionState[] =
  GRAPH_FEATURES.map(({ id, name }) => ({
    id,
    name,
    kind: DimensionKind.CONTINUOUS,
    min: 0,
    max: 1,
    categories: [],
    context: '',
  }));

/** Whether a space has exactly the graph feature dimensions, so graphs can be placed in it. */
export function isGraphFeatureSpace(
  dimensions: readonly DimensionState[],
): boolean {
  return (
    dimensions.length === GRAPH_FEATURES.length &&
    dimensions.every(
      (d, i) =>
        d.id === GRAPH_FEATURES[i]!.id &&
        d.kind === DimensionKind.CONTINUOUS &&
        d.min === 0 &&
        d.max === 1,
    )
  );
}

/** Node types (compared lower-case) that name abstractions rather than concrete things. */
export const ABSTRACT_NODE_TYPES: ReadonlySet<string> = new Set([
  'abstract',
  'abstraction',
  'category',
  'class',
  'concept',
  'idea',
  'interface',
  'pattern',
  'principle',
  'theme',
  'topic',
  'type',
]);

/** Whether a graph node type names an abstraction. */
export function isAbstractNodeType(nodeType: string): boolean {
  return ABSTRACT_NODE_TYPES.has(nodeType.trim().toLowerCase());
}

/** Checks the fields of a graph change; VALIDATION_FAILED otherwise. */
export function checkGraphChange(
  change: GraphChange | undefined,
): asserts change is GraphChange {
  const kind = change?.kind;
  switch (kind?.case) {
    case undefined:
      return invalid('change is required');
    case 'created': {
      limitText(kind.value.name, 'change.created.name', LIMITS.name);
      const t = kind.value.typeAbstraction;
      if (!(t >= 0 && t <= 1)) {
        invalid(
          `change.created.type_abstraction must be within [0, 1], got ${t}`,
        );
      }
      return;
    }
    case 'nodeAdded':
    case 'nodeUpdated':
      return requireId(kind.value.nodeId, `change.${kind.case}.node_id`);
    case 'edgeAdded':
    case 'edgeUpdated':
      return requireId(kind.value.edgeId, `change.${kind.case}.edge_id`);
    case 'nodeRemoved':
    case 'edgeRemoved':
      return requireId(kind.value.elementId, `change.${kind.case}.element_id`);
    case 'updated':
    case 'touched':
    case 'imported':
      return;
  }
}

const nodeRichness = (node: NodeFacts): number =>
  (node.labelled ? 1 : 0) + node.metadataKeys;
const edgeRichness = (edge: EdgeFacts): number =>
  (edge.related ? 1 : 0) + edge.metadataKeys;

/** Folds one change into the counters. Total: a change about an unknown element only counts as an event. */
function apply(graph: GraphTracking, change: GraphChange): GraphTracking {
  const counted = { ...graph, events: graph.events + 1 };
  const changed = { ...counted, changes: graph.changes + 1 };
  const kind = change.kind;
  switch (kind.case) {
    case 'created':
      return {
        ...counted,
        name: kind.value.name,
        typeAbstraction: kind.value.typeAbstraction,
        tagCount: kind.value.tagCount,
        metadataKeys: kind.value.metadataKeys,
        described: kind.value.described,
      };
    case 'updated':
      return {
        ...changed,
        ...(kind.value.tagCount !== undefined && {
          tagCount: kind.value.tagCount,
        }),
        ...(kind.value.metadataKeys !== undefined && {
          metadataKeys: kind.value.metadataKeys,
        }),
        ...(kind.value.described !== undefined && {
          described: kind.value.described,
        }),
      };
    case 'touched':
      return changed;
    case 'imported':
    case undefined:
      return counted;
    case 'nodeAdded': {
      const { nodeId, abstract, labelled, metadataKeys } = kind.value;
      if (graph.nodes.has(nodeId)) return counted;
      const node = { abstract, labelled, metadataKeys };
      return {
        ...counted,
        nodes: graph.nodes.set(nodeId, node),
        abstractNodes: graph.abstractNodes + (abstract ? 1 : 0),
        elementRichness: graph.elementRichness + nodeRichness(node),
      };
    }
    case 'nodeUpdated': {
      const node = graph.nodes.get(kind.value.nodeId);
      if (node === undefined) return changed;
      const next = { ...node, metadataKeys: kind.value.metadataKeys };
      return {
        ...changed,
        nodes: graph.nodes.set(kind.value.nodeId, next),
        elementRichness:
          graph.elementRichness - nodeRichness(node) + nodeRichness(next),
      };
    }
    case 'nodeRemoved': {
      const node = graph.nodes.get(kind.value.elementId);
      if (node === undefined) return changed;
      return {
        ...changed,
        nodes: graph.nodes.delete(kind.value.elementId),
        abstractNodes: graph.abstractNodes - (node.abstract ? 1 : 0),
        elementRichness: graph.elementRichness - nodeRichness(node),
      };
    }
    case 'edgeAdded': {
      const { edgeId, related, metadataKeys } = kind.value;
      if (graph.edges.has(edgeId)) return counted;
      const edge = { related, metadataKeys };
      return {
        ...counted,
        edges: graph.edges.set(edgeId, edge),
        elementRichness: graph.elementRichness + edgeRichness(edge),
      };
    }
    case 'edgeUpdated': {
      const edge = graph.edges.get(kind.value.edgeId);
      if (edge === undefined) return changed;
      const next = {
        related: edge.related || kind.value.related,
        metadataKeys: kind.value.metadataKeys ?? edge.metadataKeys,
      };
      return {
        ...changed,
        edges: graph.edges.set(kind.value.edgeId, next),
        elementRichness:
          graph.elementRichness - edgeRichness(edge) + edgeRichness(next),
      };
    }
    case 'edgeRemoved': {
      const edge = graph.edges.get(kind.value.elementId);
      if (edge === undefined) return changed;
      return {
        ...changed,
        edges: graph.edges.delete(kind.value.elementId),
        elementRichness: graph.elementRichness - edgeRichness(edge),
      };
    }
  }
}

/** Whether a change at `version` is already applied or waiting. */
export function isRecorded(graph: GraphTracking, version: bigint): boolean {
  return (
    version <= graph.applied || graph.pending.some((p) => p.version === version)
  );
}

/**
 * Records the change a graph's event made at `version`: applies it when it
 * is the next version, then every waiting change that now follows without a
 * gap; otherwise keeps it waiting. A version already recorded changes nothing.
 */
export function recordGraphChange(
  graph: GraphTracking,
  version: bigint,
  change: GraphChange,
): GraphTracking {
  if (isRecorded(graph, version)) return graph;
  if (version !== graph.applied + 1n) {
    const pending: PendingChange[] = [...graph.pending, { version, change }];
    pending.sort((a, b) => (a.version < b.version ? -1 : 1));
    return { ...graph, pending };
  }
  let next = { ...apply(graph, change), applied: version };
  let waiting = graph.pending;
  while (waiting[0]?.version === next.applied + 1n) {
    next = { ...apply(next, waiting[0].change), applied: waiting[0].version };
    waiting = waiting.slice(1);
  }
  return { ...next, pending: waiting };
}

/** All the graph's elements and the graph's own annotations that carry meaning. */
export function richnessOf(graph: GraphTracking): number {
  return (
    graph.elementRichness +
    graph.tagCount +
    graph.metadataKeys +
    (graph.described ? 1 : 0)
  );
}

/**
 * The graph's point: complexity, connectivity, abstractness, dynamism and
 * semantic density, each in [0, 1) by construction (README gives the formulas).
 */
export function graphFeatures(graph: GraphTracking): number[] {
  const n = graph.nodes.size;
  const m = graph.edges.size;
  const size = Math.log2(1 + n + m);
  const degree = n === 0 ? 0 : (2 * m) / n;
  const richness = richnessOf(graph);
  return [
    size / (size + 8),
    degree / (1 + degree),
    (graph.abstractNodes + graph.typeAbstraction) / (n + 2),
    graph.changes / (graph.events + 1),
    richness / (richness + n + m + 1),
  ];
}
