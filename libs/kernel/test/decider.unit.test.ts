import { describe, expect, it } from '@jest/globals';
import { fold, type Decider } from '@cim/kernel';

type Event = { readonly letter: string };
type State = { readonly text: string; readonly count: number };

const initialStates: State[] = [];
const spelling: Decider<State, never, Event> = {
  initialState: () => {
    const state = { text: '', count: 0 };
    initialStates.push(state);
    return state;
  },
  decide: () => [],
  evolve: (state, { letter }) => ({
    text: state.text + letter,
    count: state.count + 1,
  }),
};

const events = (text: string): Event[] =>
  [...text].map((letter) => ({ letter }));

describe('fold', () => {
  describe('when there are no events', () => {
    it('returns a fresh initial state', () => {
      const a = fold(spelling, []);
      const b = fold(spelling, []);
      expect(a).toEqual({ text: '', count: 0 });
      expect(a).not.toBe(b);
    });
  });

  describe('when there are events', () => {
    it('evolves them in order', () => {
      expect(fold(spelling, events('fold'))).toEqual({
        text: 'fold',
        count: 4,
      });
    });

    it('accepts any iterable, read once', () => {
      function* generated(): Generator<Event> {
        yield* events('abc');
      }
      expect(fold(spelling, generated())).toEqual({ text: 'abc', count: 3 });
    });
  });

  describe('when given a starting state', () => {
    it('continues from it without asking for an initial state', () => {
      const before = initialStates.length;
      expect(fold(spelling, events('ing'), { text: 'fold', count: 4 })).toEqual(
        { text: 'folding', count: 7 },
      );
      expect(initialStates.length).toBe(before);
    });

    it('equals folding the whole history at once', () => {
      const half = fold(spelling, events('event'));
      expect(fold(spelling, events('sourcing'), half)).toEqual(
        fold(spelling, events('eventsourcing')),
      );
    });
  });
});
