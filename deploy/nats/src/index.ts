export {
  CLUSTER_SIZE,
  MAX_PAYLOAD,
  TOPOLOGY_KINDS,
  jetStreamBlock,
  planTopology,
  renderConfig,
  topologyBlocks,
} from './topology.js';
export type {
  ClusterSpec,
  PlanOptions,
  RenderOptions,
  ServerSpec,
  TopologyKind,
  TopologyPlan,
} from './topology.js';
