import { create, toBinary } from '@bufbuild/protobuf';
import { graphDecider, type GraphState } from '@cim/graph';
import { uuidv7 } from '@cim/kernel';
import { Header, isErrorReply } from '@cim/messaging';
import {
  CommandMetaSchema,
  type CommandMeta,
} from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AddNodeSchema,
  CreateGraphSchema,
  GraphCommandSchema,
  type CreateGraph,
  type GraphCommand,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { headers, type Msg, type MsgHdrs } from '@nats-io/nats-core';

/** The actor the graph service records for commands that arrive over NATS. */
const NATS_ACTOR = 'external:nats';

/** The id of benchmark graph `index`: fixed width, so every commit has the same size. */
export function graphId(index: number): string {
  return `bench-graph-${String(index).padStart(6, '0')}`;
}

/** The AddNode fields every benchmark sends: fresh node id, a type and a label. */
export function addNodeFields(
  graph: string,
  nodeId: string,
): { graphId: string; nodeId: string; nodeType: string; label: string } {
  return {
    graphId: graph,
    nodeId,
    nodeType: 'concept',
    label: 'benchmark node',
  };
}

/** The CreateGraph every benchmark sends for `graph`. */
export function createGraph(graph: string): CreateGraph {
  return create(CreateGraphSchema, {
    graphId: graph,
    name: `benchmark ${graph}`,
    description: 'created by the benchmarks',
  });
}

/** An encoded CreateGraph request for `graph`. */
export function createGraphRequest(graph: string): Uint8Array {
  return toBinary(CreateGraphSchema, createGraph(graph));
}

/** An encoded AddNode request for `graph` with a fresh node id. */
export function addNodeRequest(graph: string): Uint8Array {
  return toBinary(
    AddNodeSchema,
    create(AddNodeSchema, addNodeFields(graph, uuidv7())),
  );
}

/** Request headers of one command: a fresh `Cim-Command-Id`. */
export function commandHeaders(): MsgHdrs {
  const h = headers();
  h.set(Header.commandId, uuidv7());
  return h;
}

/** Checks a command reply: undefined when accepted, else what the error reply or status says. */
export function checkCommandReply(reply: Msg): string | undefined {
  if (isErrorReply(reply))
    return reply.headers?.get(Header.errorMessage) ?? 'error reply';
  const code = reply.headers?.code ?? 0;
  // A 503 status is NATS saying no service listens on the subject.
  if (code !== 0 && code !== 200)
    return `status ${code} ${reply.headers?.description ?? ''}`.trim();
  return undefined;
}

/** Command metadata as the graph service builds it from one request's headers. */
export function commandMeta(commandId: string = uuidv7()): CommandMeta {
  return create(CommandMetaSchema, {
    commandId,
    correlationId: commandId,
    causationId: commandId,
    actor: NATS_ACTOR,
  });
}

/** A GraphCommand holding an AddNode with a fresh node id, as the service builds it. */
export function addNodeCommand(graph: string): GraphCommand {
  return create(GraphCommandSchema, {
    meta: commandMeta(),
    body: {
      case: 'addNode',
      value: create(AddNodeSchema, addNodeFields(graph, uuidv7())),
    },
  });
}

/** The state of `graph` just after its CreateGraph, folded through the graph decider. */
export function createdGraph(graph: string): GraphState {
  const command = create(GraphCommandSchema, {
    meta: commandMeta(),
    body: { case: 'create', value: createGraph(graph) },
  });
  let state = graphDecider.initialState();
  for (const event of graphDecider.decide(command, state))
    state = graphDecider.evolve(state, event);
  return state;
}
