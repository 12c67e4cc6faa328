import type { Decider } from '@cim/kernel';
import type {
  GraphCommand,
  GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type GraphState } from './state.js';

/** The graph aggregate: typed nodes and edges under one graph id (domains.md §2.1). */
export const graphDecider: Decider<GraphState, GraphCommand, GraphEvent> = {
  initialState,
  decide,
  evolve,
};

export { reviveGraphState } from './state.js';
export type {
  EdgeEnds,
  EdgeState,
  GraphData,
  GraphState,
  NodeState,
  PresentGraph,
} from './state.js';
