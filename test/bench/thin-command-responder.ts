// A child process: the floor of the command path for the graph-add-node
// benchmark. It does only the transport work of a command: it takes AddNode
// requests from a queue group, decodes each, appends fixed commit bytes (those
// of a real AddNode commit) through the event store with the same
// expected-sequence and msg-id headers, and answers with a CommandResult once
// the append is acknowledged. No aggregate, decide, hash chain, encryption or
// projection: the ratio it reaches is what the architecture leaves for them.
// Environment: CIM_NATS_URL, CIM_HTTP_PORT (/readyz), CIM_DURABILITY
// (strict|fast, default fast), CIM_BENCH_SUBJECT, CIM_BENCH_COMMIT (base64).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { Header, errorReplyFor } from '@cim/messaging';
import { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import { AddNodeSchema } from '@cim/proto/cim/graph/v1/graph_pb';
import { connect } from '@nats-io/transport-node';
import { serveReadiness } from './readiness.js';

const httpPort = Number(process.env['CIM_HTTP_PORT']);
const subject = process.env['CIM_BENCH_SUBJECT'] ?? 'cim.bench.cmd.AddNode';
const commit = Buffer.from(process.env['CIM_BENCH_COMMIT'] ?? '', 'base64');

const nc = await connect({ servers: process.env['CIM_NATS_URL'] ?? '' });
const store = await EventStore.open(nc, {
  domain: 'thin',
  durability: process.env['CIM_DURABILITY'] === 'strict' ? 'strict' : 'fast',
});
/** Each aggregate's last stream sequence, for the next append's expectation. */
const lastSeq = new Map<string, number>();

nc.subscribe(subject, {
  queue: 'thin',
  callback: (_error, msg) => {
    const { graphId } = fromBinary(AddNodeSchema, msg.data);
    const commandId = msg.headers?.get(Header.commandId) ?? '';
    store.append(
      graphId,
      lastSeq.get(graphId) ?? 0,
      commandId,
      commit,
      (error, ack) => {
        if (error !== undefined) {
          // Answered as the services answer, so the load generator counts it as a failure.
          const { headers, body } = errorReplyFor(error);
          msg.respond(body, { headers });
          return;
        }
        lastSeq.set(graphId, ack!.seq);
        msg.respond(
          toBinary(
            CommandResultSchema,
            create(CommandResultSchema, {
              commandId,
              aggregateId: graphId,
              streamSequence: BigInt(ack!.seq),
            }),
          ),
        );
      },
    );
  },
});
await nc.flush();

serveReadiness(httpPort, () => nc.close());
