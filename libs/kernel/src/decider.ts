/**
 * A pure aggregate. `decide` turns a command into events for the current
 * state, or throws DomainError; `evolve` folds one event into the state.
 * Neither reads clocks, makes ids or performs I/O.
 */
export interface Decider<State, Command, Event> {
  readonly initialState: () => State;
  readonly decide: (command: Command, state: State) => readonly Event[];
  readonly evolve: (state: State, event: Event) => State;
}

/** Folds events over the decider's initial state (or over `state`), in order. */
export function fold<State, Command, Event>(
  decider: Decider<State, Command, Event>,
  events: Iterable<Event>,
  state: State = decider.initialState(),
): State {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}
