import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  create,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import {
  DomainError,
  ErrorCode,
  eventRecord,
  sealCommit,
  uuidv7,
  decodeCommit,
} from '@cim/kernel';
import { Header, UnavailableError, request } from '@cim/messaging';
import {
  CommandMetaSchema,
  type CommandResultSchema,
} from '@cim/proto/cim/common/v1/envelope_pb';
import {
  GraphCommandService,
  GraphEventSchema,
  GraphQueryService,
  type GraphEvent,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { ephemeralKeyring, type RunningService } from '@cim/service';
import { AggregateLoader } from '@cim/service/internal';
import {
  sendCommand,
  sendQuery,
  countCommits,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
  rejection,
  withoutSnapshotMark,
  eventually,
  streamPosition,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { graphDecider, reviveGraphState } from '../src/domain/index.js';
import { graphService } from '../src/service.js';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;

describe('graph service over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  // The service's keys, so that a test can write a commit as another instance of it would.
  const keyring = ephemeralKeyring();
  const start = (
    options: {
      snapshotEvery?: number;
      snapshotBytesPerVersion?: number;
      cacheSize?: number;
      cacheBytes?: number;
      resultCacheSize?: number;
      duplicateWindowMs?: number;
      retryReadsPerSecond?: number;
      minVersionTimeoutMs?: number;
      integrity?: boolean;
    } = {},
  ) => graphService.start({ nc, log: testLogger(), keyring, ...options });

  /** Commits stored on one graph's subject. */
  const commitsOf = (graphId: string) => countCommits(nc, 'graph', graphId);
  const totalCommits = () => countCommits(nc, 'graph');

  /** Adds one node of type `t`. */
  const addNode = (
    graphId: string,
    nodeId: string,
    headers?: Parameters<typeof sendCommand>[3],
  ) =>
    sendCommand(nc, cmd.addNode, { graphId, nodeId, nodeType: 't' }, headers);

  /** Runs `body` against an instance started with `options`, then goes back to a default one. */
  async function onInstance(
    options: Parameters<typeof start>[0],
    body: () => Promise<void>,
  ): Promise<void> {
    await running.stop();
    running = await start(options);
    try {
      await body();
    } finally {
      await running.stop();
      running = await start();
    }
  }

  /** How many refused or no-op commands were checked for an earlier attempt, with this outcome. */
  const retryChecks = async (outcome: string) =>
    (
      await running.metrics.registry
        .getSingleMetric('cim_retry_checks_total')!
        .get()
    ).values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;

  /** Adds nodes n0, n1, … to the graph, one command at a time. */
  async function addNodes(graphId: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++)
      await sendCommand(nc, cmd.addNode, {
        graphId,
        nodeId: `n${i}`,
        nodeType: 't',
      });
  }

  /** Loads graphs as the service does, from its snapshots, or by replaying every commit. */
  const graphLoader = (store: EventStore, from?: 'full replay') =>
    from === undefined
      ? new AggregateLoader(
          store,
          graphDecider,
          GraphEventSchema,
          graphService.snapshotVersion,
          reviveGraphState,
        )
      : new AggregateLoader(store, graphDecider, GraphEventSchema, -1);

  /** Stored snapshot bytes with every `from` (there must be one) overwritten by `to`, of the same length. */
  function renamedIn(bytes: Uint8Array, from: string, to: string): Buffer {
    const changed = Buffer.from(bytes);
    let at = changed.indexOf(from);
    expect(at).toBeGreaterThanOrEqual(0);
    for (; at >= 0; at = changed.indexOf(from, at + 1)) changed.write(to, at);
    return changed;
  }

  async function newGraph(name = 'g'): Promise<string> {
    const graphId = uuidv7();
    await sendCommand(nc, cmd.createGraph, { graphId, name });
    return graphId;
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await start();
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  describe('when a command is accepted', () => {
    it('stores one commit on the aggregate subject and answers queries with it', async () => {
      const graphId = await newGraph('orders');
      const added = await sendCommand(nc, cmd.addNode, {
        graphId,
        nodeId: 'a',
        nodeType: 'concept',
      });
      expect(added).toMatchObject({ aggregateId: graphId, version: 2n });
      expect(await commitsOf(graphId)).toBe(2);
      const info = await sendQuery(nc, qry.graphInfo, {
        graphId,
        minVersion: added.version,
      });
      expect(info.graph).toMatchObject({
        graphId,
        name: 'orders',
        nodeCount: 1n,
        version: 2n,
      });
    });

    it('assigns a new aggregate id when a create names none', async () => {
      const result = await sendCommand(nc, cmd.createGraph, {
        name: 'unnamed',
      });
      expect(result.aggregateId).toBe(result.commandId);
      expect(await commitsOf(result.aggregateId)).toBe(1);
    });

    it('stores a multi-event command as one commit', async () => {
      const graphId = await newGraph();
      for (const nodeId of ['a', 'b', 'c'])
        await sendCommand(nc, cmd.addNode, { graphId, nodeId, nodeType: 't' });
      await sendCommand(nc, cmd.addEdge, {
        graphId,
        edgeId: 'ab',
        source: 'a',
        target: 'b',
        edgeType: 'e',
      });
      await sendCommand(nc, cmd.addEdge, {
        graphId,
        edgeId: 'ca',
        source: 'c',
        target: 'a',
        edgeType: 'e',
      });
      const before = await commitsOf(graphId);
      const removed = await sendCommand(nc, cmd.removeNode, {
        graphId,
        nodeId: 'a',
      });
      expect(removed.eventIds).toHaveLength(3); // EdgeRemoved ×2, NodeRemoved
      expect(await commitsOf(graphId)).toBe(before + 1);
      const stored = await running.store.get(Number(removed.streamSequence));
      const commit = decodeCommit(stored!.data);
      expect(commit.events.map((e) => e.eventType)).toEqual([
        'EdgeRemoved',
        'EdgeRemoved',
        'NodeRemoved',
      ]);
      expect(commit.version).toBe(removed.version);
    });
  });

  describe('when a command id repeats', () => {
    it('applies it once and answers the repeat with the first result', async () => {
      const graphId = await newGraph();
      const commandId = uuidv7();
      const first = await sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId: 'x', nodeType: 't' },
        { commandId },
      );
      const again = await sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId: 'x', nodeType: 't' },
        { commandId },
      );
      expect(again).toEqual(first);
      expect(await commitsOf(graphId)).toBe(2);
    });

    it('answers with the first result from a fresh instance too', async () => {
      const graphId = await newGraph();
      const commandId = uuidv7();
      const first = await sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId: 'x', nodeType: 't' },
        { commandId },
      );
      await running.stop();
      running = await start();
      const again = await sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId: 'x', nodeType: 't' },
        { commandId },
      );
      expect(again).toEqual(first);
      expect(await commitsOf(graphId)).toBe(2);
    });

    describe('after the instance forgot its result', () => {
      // Deciding each retry again refuses it, or changes nothing: the commits stored within the
      // stream's duplicate window are read for the first attempt.
      beforeAll(async () => {
        await running.stop();
        running = await start({ resultCacheSize: 1 });
      });
      afterAll(async () => {
        await running.stop();
        running = await start();
      });

      /**
       * Sends a command, then another to its graph, which pushes the first
       * one's result out, then the command again: both answers.
       */
      async function retriedAfterForgetting<I extends DescMessage>(
        method: DescMethodUnary<I, typeof CommandResultSchema>,
        init: MessageInitShape<I> & { graphId: string },
        headers: Parameters<typeof sendCommand>[3],
      ) {
        const first = await sendCommand(nc, method, init, headers);
        await addNode(init.graphId, uuidv7());
        const again = await sendCommand(nc, method, init, headers);
        return { first, again };
      }

      it('answers a retried AddNode with its first result, though the node exists', async () => {
        const graphId = await newGraph();
        const reads = jest.spyOn(running.store, 'readSince');
        try {
          const { first, again } = await retriedAfterForgetting(
            cmd.addNode,
            { graphId, nodeId: 'x', nodeType: 't' },
            { commandId: uuidv7() },
          );
          expect(again).toEqual(first);
          expect(reads).toHaveBeenCalledTimes(1);
        } finally {
          reads.mockRestore();
        }
        expect(await commitsOf(graphId)).toBe(3);
        expect(await retryChecks('found')).toBeGreaterThanOrEqual(1);
      });

      it('answers a retried RemoveNode with its first result, though the node is gone', async () => {
        const graphId = await newGraph();
        await addNodes(graphId, 1);
        const { first, again } = await retriedAfterForgetting(
          cmd.removeNode,
          { graphId, nodeId: 'n0' },
          { commandId: uuidv7() },
        );
        expect(again).toEqual(first);
        expect(again.eventIds).toHaveLength(1);
      });

      it('answers a retried change that would now change nothing with its first result', async () => {
        const graphId = await newGraph();
        await addNodes(graphId, 1);
        // A mirror's change: once applied, the same source version again is a no-op.
        const { first, again } = await retriedAfterForgetting(
          cmd.changeNodeMetadata,
          {
            graphId,
            nodeId: 'n0',
            metadata: { colour: 'red' },
            sourceVersion: 5n,
          },
          { commandId: uuidv7() },
        );
        expect(again).toEqual(first);
        expect(again.eventIds).toHaveLength(1);
      });

      it('answers a retry that expected the version it moved past with its first result', async () => {
        const graphId = await newGraph();
        const { first, again } = await retriedAfterForgetting(
          cmd.addNode,
          { graphId, nodeId: 'x', nodeType: 't' },
          { commandId: uuidv7(), expectedVersion: 1n },
        );
        expect(again).toEqual(first);
      });

      it('answers UNAVAILABLE when the stream cannot tell, and goes on taking commands', async () => {
        const graphId = await newGraph();
        await addNodes(graphId, 1);
        const reads = jest
          .spyOn(running.store, 'readSince')
          .mockRejectedValueOnce(new Error('stream unreachable'));
        try {
          await expect(addNode(graphId, 'n0')).rejects.toBeInstanceOf(
            UnavailableError,
          );
        } finally {
          reads.mockRestore();
        }
        const next = await addNode(graphId, 'n1');
        expect(next.version).toBe(3n);
      });

      it('still refuses, and stores nothing for, what no earlier attempt stored', async () => {
        const graphId = await newGraph();
        await addNodes(graphId, 1);
        await sendCommand(nc, cmd.changeNodeMetadata, {
          graphId,
          nodeId: 'n0',
          sourceVersion: 5n,
        });
        const before = await totalCommits();
        await expect(addNode(graphId, 'n0')).rejects.toMatchObject({
          code: ErrorCode.ALREADY_EXISTS,
        });
        const changeNothing = await sendCommand(nc, cmd.changeNodeMetadata, {
          graphId,
          nodeId: 'n0',
          sourceVersion: 4n,
        });
        expect(changeNothing.eventIds).toEqual([]);
        await expect(
          addNode(graphId, 'n1', { expectedVersion: 1n }),
        ).rejects.toMatchObject({ code: ErrorCode.CONCURRENCY_CONFLICT });
        expect(await totalCommits()).toBe(before);
      });
    });

    it('refuses without reading the stream once its results cover the duplicate window', async () => {
      // A window of 300 ms: with the margin for clocks, retries reach 1.3 s back.
      await onInstance({ duplicateWindowMs: 300 }, async () => {
        const graphId = await newGraph();
        await addNodes(graphId, 1);
        const reads = jest.spyOn(running.store, 'readSince');
        try {
          // The aggregate was just loaded: what it stored before is not known here yet.
          await expect(addNode(graphId, 'n0')).rejects.toMatchObject({
            code: ErrorCode.ALREADY_EXISTS,
          });
          expect(reads).toHaveBeenCalledTimes(1);
          await new Promise((resolve) => setTimeout(resolve, 1_400));
          await expect(addNode(graphId, 'n0')).rejects.toMatchObject({
            code: ErrorCode.ALREADY_EXISTS,
          });
          expect(reads).toHaveBeenCalledTimes(1);
          expect(await retryChecks('none')).toBe(1);
          expect(await retryChecks('covered')).toBeGreaterThanOrEqual(1);
        } finally {
          reads.mockRestore();
        }
      });
    });

    it('answers as the command decides once its reads of the stream run out', async () => {
      await onInstance(
        { resultCacheSize: 1, retryReadsPerSecond: 0 },
        async () => {
          const graphId = await newGraph();
          const commandId = uuidv7();
          await addNode(graphId, 'x', { commandId });
          await addNode(graphId, 'y');
          const reads = jest.spyOn(running.store, 'readSince');
          try {
            // A bound on what refusals cost the stream: the retry is refused as a new command would be.
            await expect(
              addNode(graphId, 'x', { commandId }),
            ).rejects.toMatchObject({ code: ErrorCode.ALREADY_EXISTS });
            expect(reads).not.toHaveBeenCalled();
            expect(await retryChecks('over-bound')).toBe(1);
          } finally {
            reads.mockRestore();
          }
        },
      );
    });
  });

  describe('when a create that named no id is retried', () => {
    it('answers with the first result though the instance forgot it, and stores one graph', async () => {
      // An instance that holds one aggregate and one result only: the retry finds neither.
      await onInstance({ cacheSize: 1, resultCacheSize: 1 }, async () => {
        const commandId = uuidv7();
        const first = await sendCommand(
          nc,
          cmd.createGraph,
          { name: 'once' },
          { commandId },
        );
        expect(first.aggregateId).toBe(commandId);
        await newGraph('pushes the first result out of the cache');
        const again = await sendCommand(
          nc,
          cmd.createGraph,
          { name: 'once' },
          { commandId },
        );
        expect(again).toEqual(first);
        expect(await commitsOf(commandId)).toBe(1);
      });
    });
  });

  describe('when the aggregate changed behind the service', () => {
    /** Appends a commit the way another instance would, bypassing this instance's cache. */
    async function appendBehind(
      graphId: string,
      event: GraphEvent,
    ): Promise<void> {
      const store = await EventStore.open(nc, { domain: 'graph' });
      const loader = graphLoader(store);
      const current = await loader.load(graphId, () => undefined);
      const meta = create(CommandMetaSchema, {
        commandId: uuidv7(),
        actor: 'user:other',
      });
      const sealed = sealCommit({
        commitId: uuidv7(),
        domain: 'graph',
        aggregateType: 'Graph',
        aggregateId: graphId,
        version: current.version + 1n,
        events: [
          eventRecord(uuidv7(), 'NodeAdded', toBinary(GraphEventSchema, event)),
        ],
        meta,
        occurredAtMs: Date.now(),
        prevHash: current.lastHash,
        macKey: keyring.active.macKey,
      });
      await store.appendAsync(
        graphId,
        current.lastSeq,
        meta.commandId,
        sealed.bytes,
      );
      store.close();
    }

    const nodeAdded = (graphId: string, nodeId: string) =>
      create(GraphEventSchema, {
        body: { case: 'nodeAdded', value: { graphId, nodeId, nodeType: 't' } },
      });

    it('catches up and decides again on the new state', async () => {
      const graphId = await newGraph();
      await appendBehind(graphId, nodeAdded(graphId, 'other'));
      const result = await sendCommand(nc, cmd.addNode, {
        graphId,
        nodeId: 'mine',
        nodeType: 't',
      });
      expect(result.version).toBe(3n);
      const nodes = await sendQuery(nc, qry.listNodes, {
        graphId,
        minVersion: 3n,
      });
      expect(nodes.nodes.map((n) => n.nodeId).sort()).toEqual([
        'mine',
        'other',
      ]);
    });

    it('refuses a command the new state no longer allows', async () => {
      const graphId = await newGraph();
      await appendBehind(graphId, nodeAdded(graphId, 'same'));
      expect(
        await rejection(
          sendCommand(nc, cmd.addNode, {
            graphId,
            nodeId: 'same',
            nodeType: 't',
          }),
        ),
      ).toBe(ErrorCode.ALREADY_EXISTS);
      expect(await commitsOf(graphId)).toBe(2);
    });

    it('accepts exactly one of two commands that expect the same version', async () => {
      const graphId = await newGraph();
      const outcomes = await Promise.allSettled(
        ['p', 'q'].map((nodeId) =>
          sendCommand(
            nc,
            cmd.addNode,
            { graphId, nodeId, nodeType: 't' },
            { expectedVersion: 1n },
          ),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const lost = outcomes.find(
        (o): o is PromiseRejectedResult => o.status === 'rejected',
      );
      expect(DomainError.is(lost?.reason) && lost.reason.code).toBe(
        ErrorCode.CONCURRENCY_CONFLICT,
      );
      expect(await commitsOf(graphId)).toBe(2);
    });
  });

  describe('when two instances share the queue group', () => {
    it('applies every accepted command exactly once when both take commands on one aggregate', async () => {
      const second = await start();
      try {
        const graphId = await newGraph();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 40 }, (_, i) =>
            sendCommand(nc, cmd.addNode, {
              graphId,
              nodeId: `n${i}`,
              nodeType: 't',
            }),
          ),
        );
        const accepted = outcomes.flatMap((o) =>
          o.status === 'fulfilled' ? [o.value] : [],
        );
        const refused = outcomes.flatMap((o) =>
          o.status === 'rejected' ? [o.reason as unknown] : [],
        );
        // Under contention a command may give up after its bounded retries; it is then absent.
        expect(
          refused.every(
            (e) =>
              DomainError.is(e) && e.code === ErrorCode.CONCURRENCY_CONFLICT,
          ),
        ).toBe(true);
        expect(accepted.length).toBeGreaterThan(0);
        expect(new Set(accepted.map((r) => r.version)).size).toBe(
          accepted.length,
        );
        expect(await commitsOf(graphId)).toBe(accepted.length + 1);
        const info = await sendQuery(nc, qry.graphInfo, {
          graphId,
          minVersion: BigInt(accepted.length + 1),
        });
        expect(info.graph?.nodeCount).toBe(BigInt(accepted.length));
      } finally {
        await second.stop();
      }
    });
  });

  describe('when two instances take turns on one aggregate', () => {
    /** Appends refused for a wrong last sequence, summed over instances. */
    async function conflicts(
      instances: readonly RunningService[],
    ): Promise<number> {
      let total = 0;
      for (const instance of instances) {
        const { values } = await instance.metrics.appends.get();
        total += values
          .filter((v) => v.labels.outcome === 'conflict')
          .reduce((sum, v) => sum + v.value, 0);
      }
      return total;
    }

    it("keeps each instance's cached aggregate current with the other's commits", async () => {
      const second = await start();
      try {
        const graphId = await newGraph();
        // Both instances hold the aggregate, so every later command finds it cached.
        for (let i = 0; i < 6; i++)
          await sendCommand(nc, cmd.addNode, {
            graphId,
            nodeId: `warm${i}`,
            nodeType: 't',
          });
        const before = await conflicts([running, second]);
        for (let i = 0; i < 30; i++) {
          await sendCommand(nc, cmd.addNode, {
            graphId,
            nodeId: `n${i}`,
            nodeType: 't',
          });
          // Time for the other instance's projection to see the commit.
          await new Promise((r) => setTimeout(r, 20));
        }
        // The queue group spread the 30 commands over both instances; with
        // stale caches about half of them would have conflicted first.
        expect(
          (await conflicts([running, second])) - before,
        ).toBeLessThanOrEqual(2);
        const info = await sendQuery(nc, qry.graphInfo, {
          graphId,
          minVersion: 37n,
        });
        expect(info.graph?.nodeCount).toBe(36n);
      } finally {
        await second.stop();
      }
    });
  });

  describe('its state, as metrics', () => {
    const gauge = async (name: string) =>
      (await running.metrics.registry.getSingleMetric(name)!.get()).values;

    it('reports the read model position and lag, the aggregates in memory, and the batch sizes', async () => {
      const graphId = await newGraph();
      await addNodes(graphId, 3);
      await eventually(async () => {
        const position = await streamPosition(nc, 'graph');
        const [at] = await gauge('cim_read_model_position');
        const [lag] = await gauge('cim_read_model_lag');
        return at?.value === Number(position) && lag?.value === 0
          ? true
          : undefined;
      }, 'the read model to report the stream position with no lag');
      const [entries] = await gauge('cim_aggregate_cache_entries');
      expect(entries?.value).toBeGreaterThanOrEqual(1);
      // Strict durability: every commit left in a batch, 1 when alone.
      const batches = await gauge('cim_append_batch_size');
      const count = batches.find(
        (v) =>
          (v as { metricName?: string }).metricName ===
          'cim_append_batch_size_count',
      );
      expect(count?.value).toBeGreaterThanOrEqual(4);
    });
  });

  describe('when a query reads across graphs', () => {
    /** Creates graphs named `<tag> <i>` concurrently; their results. */
    const createTagged = (tag: string, count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          sendCommand(nc, cmd.createGraph, { name: `${tag} ${i}` }),
        ),
      );

    it('answers only once its read model holds the stream position it names', async () => {
      // Without checkpoints the next message in the stream is the next commit.
      await onInstance({ integrity: false }, async () => {
        const tag = `across-${uuidv7()}`;
        const next = (await streamPosition(nc, 'graph')) + 1n;
        // Sent first, so the service takes it before the command below.
        const listing = sendQuery(
          nc,
          qry.listGraphs,
          { nameContains: tag },
          { minPosition: next },
        );
        const [created] = await createTagged(tag, 1);
        expect(created!.streamSequence).toBe(next);
        const listed = await listing;
        expect(listed.graphs.map((g) => g.graphId)).toEqual([
          created!.aggregateId,
        ]);
      });
    });

    it('answers UNAVAILABLE for a position not reached in time, and VALIDATION_FAILED for one that is not a sequence', async () => {
      await onInstance({ minVersionTimeoutMs: 100 }, async () => {
        const [created] = await createTagged(`ahead-${uuidv7()}`, 1);
        const ahead = created!.streamSequence + 1000n;
        const late = await sendQuery(
          nc,
          qry.listGraphs,
          {},
          { minPosition: ahead },
        ).catch((e: unknown) => e);
        expect(UnavailableError.is(late)).toBe(true);
        expect((late as Error).message).toMatch(
          `has not reached stream position ${ahead}`,
        );
        for (const malformed of ['-1', '1.5', 'next', '99999999999999999'])
          expect(
            await rejection(
              sendQuery(nc, qry.listGraphs, {}, { minPosition: malformed }),
            ),
          ).toBe(ErrorCode.VALIDATION_FAILED);
      });
    });
  });

  describe('when the input is bad', () => {
    it('answers garbage bytes with VALIDATION_FAILED and appends nothing', async () => {
      const before = await totalCommits();
      const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0x01);
      const error = await request(nc, 'cim.graph.cmd.AddNode', garbage, {
        headers: { [Header.commandId]: uuidv7() },
      }).catch((e: unknown) => e);
      expect(DomainError.is(error) && error.code).toBe(
        ErrorCode.VALIDATION_FAILED,
      );
      expect(await totalCommits()).toBe(before);
    });

    it('answers a missing field with VALIDATION_FAILED and appends nothing', async () => {
      const graphId = await newGraph();
      expect(
        await rejection(sendCommand(nc, cmd.addNode, { graphId, nodeId: 'n' })),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await commitsOf(graphId)).toBe(1);
    });

    it('answers an unknown graph with NOT_FOUND and appends nothing', async () => {
      const graphId = uuidv7();
      expect(
        await rejection(
          sendCommand(nc, cmd.addNode, { graphId, nodeId: 'n', nodeType: 't' }),
        ),
      ).toBe(ErrorCode.NOT_FOUND);
      expect(await rejection(sendQuery(nc, qry.graphInfo, { graphId }))).toBe(
        ErrorCode.NOT_FOUND,
      );
      expect(await commitsOf(graphId)).toBe(0);
    });

    it('answers an id that cannot be a subject token with VALIDATION_FAILED', async () => {
      const before = await totalCommits();
      expect(
        await rejection(
          sendCommand(nc, cmd.createGraph, { graphId: 'a.b', name: 'x' }),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await totalCommits()).toBe(before);
    });

    it('answers a malformed command id header with VALIDATION_FAILED', async () => {
      const before = await totalCommits();
      expect(
        await rejection(
          sendCommand(
            nc,
            cmd.createGraph,
            { name: 'x' },
            { commandId: 'not-a-uuid' },
          ),
        ),
      ).toBe(ErrorCode.VALIDATION_FAILED);
      expect(await totalCommits()).toBe(before);
    });
  });

  describe('when the service restarts', () => {
    it('rebuilds the same read model and continues the aggregate where it was', async () => {
      const graphId = await newGraph();
      await addNodes(graphId, 12);
      const before = await sendQuery(nc, qry.graphInfo, {
        graphId,
        minVersion: 13n,
      });
      const list = await sendQuery(nc, qry.listGraphs, {});
      await running.stop();
      running = await start();
      expect(await sendQuery(nc, qry.graphInfo, { graphId })).toEqual(before);
      expect(await sendQuery(nc, qry.listGraphs, {})).toEqual(list);
      const next = await sendCommand(nc, cmd.addNode, {
        graphId,
        nodeId: 'after',
        nodeType: 't',
      });
      expect(next.version).toBe(14n);
    });

    it('loads an aggregate from its snapshot plus the tail to the same state as a full replay', async () => {
      await running.stop();
      running = await start({ snapshotEvery: 5 });
      const graphId = await newGraph();
      await addNodes(graphId, 12);
      await sendCommand(nc, cmd.addEdge, {
        graphId,
        edgeId: 'e',
        source: 'n1',
        target: 'n2',
        edgeType: 'x',
      });
      // Snapshots are written after the reply: wait until one is there.
      const store = await EventStore.open(nc, { domain: 'graph' });
      const withSnapshots = graphLoader(store);
      const fullReplay = graphLoader(store, 'full replay');
      for (
        let tries = 0;
        tries < 50 &&
        (await store.snapshots.load(`agg/${graphId}`)) === undefined;
        tries++
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const fromSnapshot = await withSnapshots.load(graphId, () => undefined);
      const replayed = await fullReplay.load(graphId, () => undefined);
      expect(await store.snapshots.load(`agg/${graphId}`)).toBeDefined();
      expect(withoutSnapshotMark(fromSnapshot)).toEqual(
        withoutSnapshotMark(replayed),
      );
      expect(fromSnapshot.snapshot.version).toBeGreaterThan(0n);
      expect(replayed.snapshot).toEqual({ version: 0n, bytes: 0 });
      expect(replayed.version).toBe(14n);
      store.close();
    });
  });

  describe('loading an aggregate', () => {
    it('replays every commit when its snapshot cannot be read, and the next command succeeds', async () => {
      const graphId = await newGraph();
      await addNodes(graphId, 3);
      const store = await EventStore.open(nc, { domain: 'graph' });
      try {
        const replayed = await graphLoader(store, 'full replay').load(
          graphId,
          () => undefined,
        );
        // Bytes that are no snapshot at all, under the aggregate's key.
        await store.snapshots.save(`agg/${graphId}`, Uint8Array.of(1, 2, 3, 4));
        const loaded = await graphLoader(store).load(graphId, () => undefined);
        expect(withoutSnapshotMark(loaded)).toEqual(
          withoutSnapshotMark(replayed),
        );
        expect(loaded.snapshot).toEqual({ version: 0n, bytes: 0 });
        // The service, which holds the graph in memory no more after a restart, loads it the same way.
        await running.stop();
        running = await start();
        const next = await sendCommand(nc, cmd.addNode, {
          graphId,
          nodeId: 'after-bad-snapshot',
          nodeType: 't',
        });
        expect(next.version).toBe(5n);
      } finally {
        store.close();
      }
    });

    it('refuses a snapshot changed in the bucket: the state it holds decides nothing', async () => {
      await onInstance({ snapshotEvery: 5 }, async () => {
        const graphId = await newGraph();
        await sendCommand(nc, cmd.addNode, {
          graphId,
          nodeId: 'tamper-target',
          nodeType: 't',
        });
        await addNodes(graphId, 6);
        const store = await EventStore.open(nc, { domain: 'graph' });
        try {
          const key = `agg/${graphId}`;
          const snapshot = await eventually(
            () => store.snapshots.load(key),
            'a snapshot of the graph',
          );
          // The node renamed inside the stored state, the seal left as it was.
          await store.snapshots.save(
            key,
            renamedIn(snapshot, 'tamper-target', 'tamper-taxget'),
          );
          // A new instance loads the graph: from its commits, not from that state.
          await running.stop();
          running = await start({ snapshotEvery: 5 });
          expect(
            await rejection(
              sendCommand(nc, cmd.addNode, {
                graphId,
                nodeId: 'tamper-target',
                nodeType: 't',
              }),
            ),
          ).toBe(ErrorCode.ALREADY_EXISTS);
        } finally {
          store.close();
        }
      });
    });

    it('answers from the stream, not from a read-model snapshot changed in the bucket', async () => {
      const graphId = await newGraph('projection-truth');
      await running.stop(); // writes the read model's snapshot
      const store = await EventStore.open(nc, { domain: 'graph' });
      try {
        const snapshot = await store.snapshots.load('projection');
        await store.snapshots.save(
          'projection',
          renamedIn(snapshot!, 'projection-truth', 'projection-lies!'),
        );
      } finally {
        store.close();
        running = await start();
      }
      const info = await sendQuery(nc, qry.graphInfo, { graphId });
      expect(info.graph?.name).toBe('projection-truth');
    });

    it('reads only its last commit when it has none, and looks for no snapshot', async () => {
      const store = await EventStore.open(nc, { domain: 'graph' });
      try {
        const snapshotLoads = jest.spyOn(store.snapshots, 'load');
        const reads = jest.spyOn(store, 'read');
        const loaded = await graphLoader(store).load(uuidv7(), () => undefined);
        expect(loaded.version).toBe(0n);
        expect(loaded.snapshot).toEqual({ version: 0n, bytes: 0 });
        expect(snapshotLoads).not.toHaveBeenCalled();
        expect(reads).not.toHaveBeenCalled();
      } finally {
        store.close();
      }
    });

    it('reads the tail after its snapshot up to the last commit it read first', async () => {
      const graphId = await newGraph();
      await addNodes(graphId, 3);
      const store = await EventStore.open(nc, { domain: 'graph' });
      try {
        const last = await store.lastOf(graphId);
        const reads = jest.spyOn(store, 'read');
        const loaded = await graphLoader(store).load(graphId, () => undefined);
        expect(loaded.version).toBe(4n);
        expect(loaded.lastSeq).toBe(last!.seq);
        // One read of the tail, bounded by that last commit instead of asking for it again.
        expect(reads).toHaveBeenCalledTimes(1);
        expect(reads.mock.calls[0]![2]).toEqual(last);
      } finally {
        store.close();
      }
    });
  });

  describe('when an aggregate grows large', () => {
    it('forgets it from memory once it outweighs the cache, and carries on from its snapshot', async () => {
      await running.stop();
      // One byte of cache: every graph that has a snapshot is forgotten once it is idle.
      running = await start({ snapshotEvery: 5, cacheBytes: 1 });
      const big = await newGraph();
      await addNodes(big, 12);
      const other = await newGraph();
      await addNodes(other, 12);
      // The next command on the big graph loads it again: snapshot plus tail.
      const loads = jest.spyOn(AggregateLoader.prototype, 'load');
      let result;
      try {
        result = await sendCommand(nc, cmd.addNode, {
          graphId: big,
          nodeId: 'again',
          nodeType: 't',
        });
        expect(loads.mock.calls.map(([id]) => id)).toEqual([big]);
      } finally {
        loads.mockRestore();
      }
      expect(result.version).toBe(14n);
      const { graph } = await sendQuery(nc, qry.graphInfo, {
        graphId: big,
        minVersion: 14n,
      });
      expect(graph?.nodeCount).toBe(13n);
      expect(await commitsOf(big)).toBe(14);
    });

    it('snapshots it once per so many bytes of its last snapshot, not once per so many versions', async () => {
      await running.stop();
      // One version per byte: after its first snapshot (at version 5, as for any aggregate) the
      // graph is due again only after as many versions as that snapshot had bytes, hundreds.
      running = await start({ snapshotEvery: 5, snapshotBytesPerVersion: 1 });
      const graphId = await newGraph();
      await addNodes(graphId, 30);
      const store = await EventStore.open(nc, { domain: 'graph' });
      const loader = graphLoader(store);
      try {
        const loaded = await eventually(async () => {
          const current = await loader.load(graphId, () => undefined);
          return current.snapshot.version > 0n ? current : undefined;
        }, 'a snapshot of the graph');
        expect(loaded.version).toBe(31n);
        expect(loaded.snapshot.version).toBe(5n);
        expect(loaded.snapshot.bytes).toBeGreaterThan(100);
        // Every 5 versions, as a small aggregate, it would have been written at 30.
        await sendCommand(nc, cmd.addNode, {
          graphId,
          nodeId: 'last',
          nodeType: 't',
        });
        const again = await loader.load(graphId, () => undefined);
        expect(again.snapshot.version).toBe(5n);
        expect(again.version).toBe(32n);
      } finally {
        store.close();
      }
    });
  });

  it('keeps every commit of every aggregate on its hash chain', async () => {
    const store = await EventStore.open(nc, { domain: 'graph' });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('CIM_GRAPH', {
      subjects_filter: 'cim.graph.evt.>',
    });
    const loader = graphLoader(store, 'full replay');
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      // load() verifies every link and throws IntegrityError on a broken one.
      await loader.load(
        subject.slice('cim.graph.evt.'.length),
        () => undefined,
      );
    }
    store.close();
  });
});
