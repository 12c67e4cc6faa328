import type { Decider } from '@cim/kernel';
import type {
  ConceptualspacesCommand,
  ConceptualspacesEvent,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type SpaceState } from './state.js';

/** The conceptual space aggregate: quality dimensions, a metric, concepts and regions (domains.md §2.4). */
export const conceptualspacesDecider: Decider<
  SpaceState,
  ConceptualspacesCommand,
  ConceptualspacesEvent
> = {
  initialState,
  decide,
  evolve,
};
