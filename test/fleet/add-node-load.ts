import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { decodeCommit, uuidv7 } from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AddNodeSchema,
  GraphCommandService,
  GraphEventSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { sendCommand } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';

/** `count` new graphs, created one after another. */
export async function createGraphs(
  nc: NatsConnection,
  count: number,
): Promise<string[]> {
  const graphs: string[] = [];
  for (let i = 0; i < count; i++) {
    const { aggregateId } = await sendCommand(
      nc,
      GraphCommandService.method.createGraph,
      { name: `load ${i}` },
    );
    graphs.push(aggregateId);
  }
  return graphs;
}

/**
 * AddNode commands over NATS from concurrent clients, spread over a set of
 * graphs, as a failure test's load. A command is never retried: a failed
 * one was not acknowledged, so nothing is promised for it. Every
 * acknowledged node is recorded, to compare with what the stream holds.
 */
export class AddNodeLoad {
  /** Acknowledged node id → its graph id. */
  readonly acknowledged = new Map<string, string>();
  /** Commands that failed (unavailable, timed out, conflicted). */
  failures = 0;
  #sent = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly graphs: readonly string[],
    private readonly timeoutMs = 2000,
  ) {}

  /**
   * Runs 32 clients; once `before` commands are acknowledged, injects
   * `fault`, then goes on until `after` more are acknowledged or `withinMs`
   * has passed. Resolves with the count acknowledged before the fault.
   */
  async across(
    fault: () => Promise<void>,
    options: { before: number; after: number; withinMs: number },
  ): Promise<number> {
    const deadline = Date.now() + options.withinMs;
    let faulted = false;
    let before = 0;
    const running = this.run(
      32,
      () =>
        Date.now() > deadline ||
        (faulted && this.acknowledged.size >= before + options.after),
    );
    while (this.acknowledged.size < options.before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    before = this.acknowledged.size;
    await fault();
    faulted = true;
    await running;
    return before;
  }

  /** Runs `clients` clients until `done()` holds; resolves when all have stopped. */
  async run(clients: number, done: () => boolean): Promise<void> {
    await Promise.all(Array.from({ length: clients }, () => this.client(done)));
  }

  private async client(done: () => boolean): Promise<void> {
    while (!done()) {
      const n = this.#sent++;
      const graphId = this.graphs[n % this.graphs.length]!;
      const nodeId = `n${n}`;
      const body = toBinary(
        AddNodeSchema,
        create(AddNodeSchema, { graphId, nodeId, nodeType: 't' }),
      );
      try {
        const reply = await request(this.nc, 'cim.graph.cmd.AddNode', body, {
          headers: { [Header.commandId]: uuidv7() },
          timeoutMs: this.timeoutMs,
        });
        fromBinary(CommandResultSchema, reply);
        this.acknowledged.set(nodeId, graphId);
      } catch {
        this.failures++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/**
 * How many times each node id was added, read from the graphs' commits in
 * the stream (of `replicas` replicas). Right after a failover the JetStream
 * API may not answer until the cluster has a meta leader again: reading is
 * retried for up to 30 s.
 */
export async function storedNodes(
  nc: NatsConnection,
  graphs: readonly string[],
  replicas = 1,
): Promise<Map<string, number>> {
  return settled(() => readNodes(nc, graphs, replicas));
}

/** `read`, asked again every 250 ms for up to 30 s while it fails (a cluster electing leaders after a failure). */
export async function settled<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function readNodes(
  nc: NatsConnection,
  graphs: readonly string[],
  replicas: number,
): Promise<Map<string, number>> {
  const store = await EventStore.open(nc, {
    domain: 'graph',
    durability: 'fast',
    replicas,
  });
  const stored = new Map<string, number>();
  try {
    for (const graphId of graphs) {
      for (const commit of await store.read(graphId)) {
        for (const record of decodeCommit(commit.data).events) {
          const event = fromBinary(GraphEventSchema, record.payload);
          if (event.body.case === 'nodeAdded') {
            const { nodeId } = event.body.value;
            stored.set(nodeId, (stored.get(nodeId) ?? 0) + 1);
          }
        }
      }
    }
  } finally {
    store.close();
  }
  return stored;
}

/** Acknowledged nodes the stream does not hold exactly once, and nodes it holds more than once. */
export function lostOrDuplicated(
  acknowledged: ReadonlyMap<string, string>,
  stored: ReadonlyMap<string, number>,
): string[] {
  const lost = [...acknowledged.keys()].filter((id) => stored.get(id) !== 1);
  const twice = [...stored].filter(([, n]) => n > 1).map(([id]) => id);
  return [...new Set([...lost, ...twice])];
}
