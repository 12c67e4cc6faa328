// node:assert rather than jest's expect, so @cim/testing also loads outside jest (benchmarks).
import { deepStrictEqual, match, strictEqual } from 'node:assert/strict';
import {
  DomainError,
  errorCodeName,
  fold,
  type Decider,
  type ErrorCode,
} from '@cim/kernel';

/** The outcome half of a given/when/then specification. */
export interface DeciderThen<Event> {
  /** Asserts that the command decides exactly these events, in order. */
  then(expected: readonly Event[]): void;
  /** Asserts that the command is refused with a DomainError of this code. */
  thenRejects(code: ErrorCode, message?: RegExp): void;
  /** Asserts that the command decides no events. */
  thenNothing(): void;
  /** The events decided, for assertions the other forms cannot express. */
  events(): readonly Event[];
}

/**
 * Given/when/then for a pure decider (emmett's DeciderSpecification):
 * `given(events).when(command).then(events) | .thenRejects(code) | .thenNothing()`.
 * The given events are folded with `evolve`; `decide` runs once per assertion.
 */
export function deciderSpec<State, Command, Event>(
  decider: Decider<State, Command, Event>,
) {
  return (given: readonly Event[]) => ({
    when(command: Command): DeciderThen<Event> {
      const decideNow = () => decider.decide(command, fold(decider, given));
      return {
        then(expected) {
          deepStrictEqual(decideNow(), expected);
        },
        thenRejects(code, message) {
          let thrown: unknown;
          try {
            decideNow();
          } catch (error) {
            thrown = error;
          }
          if (!DomainError.is(thrown)) {
            throw new Error(
              `expected a DomainError ${errorCodeName(code)}, got ${String(thrown)}`,
            );
          }
          strictEqual(errorCodeName(thrown.code), errorCodeName(code));
          if (message !== undefined) match(thrown.message, message);
        },
        thenNothing() {
          deepStrictEqual(decideNow(), []);
        },
        events: decideNow,
      };
    },
  });
}
