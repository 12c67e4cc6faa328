import { performance } from 'node:perf_hooks';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { graphDecider, type GraphState } from '@cim/graph';
import {
  GraphCommandSchema,
  GraphEventSchema,
  type GraphCommand,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { informational, type Benchmark } from './benchmark.js';
import { addNodeCommand, createdGraph, graphId } from './graph-fixtures.js';
import { rate } from './stats.js';

const FULL = { graphs: 10_000, operations: 200_000, warmUp: 20_000 };
const QUICK = { graphs: 1_000, operations: 20_000, warmUp: 2_000 };

/** Commands built per batch, outside the timed part. */
const BATCH = 10_000;

/**
 * (e) The pure part of an AddNode in this process: `decide` on the graph's
 * state, `evolve` the state with the event, and encode the event as the
 * commit will carry it. Round-robin over as many graphs as the service
 * benchmark uses; commands are built and decoded in batches outside the
 * timed part.
 */
export const benchmark: Benchmark = {
  name: 'graph-decide',
  run({ quick, note }) {
    const counts = quick ? QUICK : FULL;
    const states: GraphState[] = [];
    for (let g = 0; g < counts.graphs; g++)
      states.push(createdGraph(graphId(g)));
    let next = 0;
    let encodedBytes = 0;
    const step = (command: GraphCommand, g: number): void => {
      let state = states[g]!;
      for (const event of graphDecider.decide(command, state)) {
        state = graphDecider.evolve(state, event);
        encodedBytes += toBinary(GraphEventSchema, event).length;
      }
      states[g] = state;
    };
    const runFor = (operations: number): number => {
      let seconds = 0;
      for (let done = 0; done < operations; done += BATCH) {
        const size = Math.min(BATCH, operations - done);
        const graphs = new Int32Array(size);
        const commands: GraphCommand[] = [];
        for (let i = 0; i < size; i++) {
          const g = next++ % counts.graphs;
          graphs[i] = g;
          // Decoded, as the service receives it: strings arrive flat, not as built-up ropes.
          commands.push(
            fromBinary(
              GraphCommandSchema,
              toBinary(GraphCommandSchema, addNodeCommand(graphId(g))),
            ),
          );
        }
        const started = performance.now();
        for (let i = 0; i < size; i++) step(commands[i]!, graphs[i]!);
        seconds += (performance.now() - started) / 1000;
      }
      return seconds;
    };
    runFor(counts.warmUp);
    const seconds = runFor(counts.operations);
    const nodes = states.reduce(
      (sum, state) => sum + (state.status === 'absent' ? 0 : state.nodes.size),
      0,
    );
    // Also keeps the encoding from being optimised away.
    if (nodes !== next || encodedBytes === 0)
      throw new Error(`expected ${next} nodes, the states hold ${nodes}`);
    const opsPerSecond = rate(counts.operations, seconds);
    note(`decide+evolve+encode: ${opsPerSecond.toFixed(0)} op/s`);
    return Promise.resolve([
      informational('graph-decide-evolve-encode', opsPerSecond, 'op/s'),
    ]);
  },
};
