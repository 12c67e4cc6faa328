import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode, uuidv7 } from '@cim/kernel';
import { UnavailableError } from '@cim/messaging';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  recordingLogger,
  rejection,
  sendCommand,
  sendQuery,
  startNatsServer,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { graphService } from '../src/service.js';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;
const OVERLOADED = 'the graph service is overloaded';

describe('a graph service past its in-flight limit', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService | undefined;
  const { log, lines } = recordingLogger();

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await running?.stop();
    await nc.close();
    await server.stop();
  });

  /** Starts the instance under test on its own connection, with `maxRequests` and a 1 MiB byte bound. */
  async function start(
    maxRequests: number,
    maxQueuedPerAggregate?: number,
  ): Promise<RunningService> {
    await running?.stop();
    running = await graphService.start({
      natsUrl: server.url,
      log,
      minVersionTimeoutMs: 1500,
      admission: { maxRequests, maxBytes: 1024 * 1024 },
      ...(maxQueuedPerAggregate === undefined ? {} : { maxQueuedPerAggregate }),
    });
    return running;
  }

  /** A command or query's error, or undefined when it was answered. */
  const failure = (answer: Promise<unknown>) =>
    answer.then(
      () => undefined,
      (error: unknown) => error as Error,
    );

  /** Counted outcomes of one metric, by its `outcome` label. */
  async function outcomes(
    service: RunningService,
    metric: string,
  ): Promise<Record<string, number>> {
    const { values } = await service.metrics.registry
      .getSingleMetric(metric)!
      .get();
    const counted: Record<string, number> = {};
    for (const v of values)
      counted[String(v.labels['outcome'])] =
        (counted[String(v.labels['outcome'])] ?? 0) + v.value;
    return counted;
  }

  const inFlight = async (service: RunningService) =>
    (
      await service.metrics.registry
        .getSingleMetric('cim_requests_in_flight')!
        .get()
    ).values[0]?.value;

  it('refuses commands and queries with UNAVAILABLE while its slots are held, applies nothing of them, and takes requests again after', async () => {
    const service = await start(4);
    const graphId = `held-${uuidv7()}`;
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'held' });

    // Four reads of a version the graph will not reach hold all four slots until they time out.
    const held = [0, 1, 2, 3].map(() =>
      failure(sendQuery(nc, qry.graphInfo, { graphId, minVersion: 1000n })),
    );
    await nc.flush();
    const refusedCommand = await failure(
      sendCommand(nc, cmd.addNode, { graphId, nodeId: 'n1', nodeType: 't' }),
    );
    const refusedQuery = await failure(
      sendQuery(nc, qry.graphInfo, { graphId }),
    );
    for (const refused of [refusedCommand, refusedQuery]) {
      expect(UnavailableError.is(refused)).toBe(true);
      expect(refused!.message).toContain(OVERLOADED);
    }
    expect(await inFlight(service)).toBe(4);

    // The held reads end as they would without the limit: not reached in time.
    for (const answer of await Promise.all(held)) {
      expect(UnavailableError.is(answer)).toBe(true);
      expect(answer!.message).not.toContain(OVERLOADED);
    }
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    // The refused command, retried with its id, is applied now.
    const added = await sendCommand(nc, cmd.addNode, {
      graphId,
      nodeId: 'n1',
      nodeType: 't',
    });
    expect(
      (
        await sendQuery(nc, qry.graphInfo, {
          graphId,
          minVersion: added.version,
        })
      ).graph?.nodeCount,
    ).toBe(1n);
    expect(await countCommits(nc, 'graph', graphId)).toBe(2);
    expect(await inFlight(service)).toBe(0);
    expect(await outcomes(service, 'cim_commands_total')).toMatchObject({
      overloaded: 1,
    });
    expect(await outcomes(service, 'cim_queries_total')).toMatchObject({
      overloaded: 1,
    });
    const told = lines.filter((l) => String(l['msg']).includes('overload'));
    expect(told.map((l) => l['msg'])).toEqual([
      'overloaded: refusing requests with UNAVAILABLE',
      'taking requests again after overload',
    ]);
    expect(told[1]).toMatchObject({ refused: 2 });
  });

  it('answers every command of a burst on one graph at once, and stores exactly the accepted ones', async () => {
    // The per-aggregate bound is lifted here: this is about what the instance admits.
    await start(16, 1000);
    const graphId = `burst-${uuidv7()}`;
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'burst' });
    const commands = Array.from({ length: 400 }, (_, i) => ({
      nodeId: `n${i}`,
      commandId: uuidv7(),
    }));
    const send = ({ nodeId, commandId }: (typeof commands)[number]) =>
      failure(
        sendCommand(
          nc,
          cmd.addNode,
          { graphId, nodeId, nodeType: 't' },
          { commandId },
        ),
      );
    const answers = await Promise.all(commands.map(send));
    const refused = commands.filter((_, i) => answers[i] !== undefined);
    for (const error of answers.filter((a) => a !== undefined))
      expect(error.message).toContain(OVERLOADED);
    // Commands to one graph run one at a time: a burst of 400 cannot fit in 16 slots.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(commands.length);
    expect(await countCommits(nc, 'graph', graphId)).toBe(
      1 + commands.length - refused.length,
    );

    // Retried one at a time, with their ids, the refused ones are applied once each.
    for (const command of refused) expect(await send(command)).toBeUndefined();
    expect(await countCommits(nc, 'graph', graphId)).toBe(1 + commands.length);
    const last = BigInt(1 + commands.length);
    expect(
      (await sendQuery(nc, qry.graphInfo, { graphId, minVersion: last })).graph
        ?.nodeCount,
    ).toBe(BigInt(commands.length));
  });

  it('refuses commands to one aggregate past its queue bound while other aggregates go on', async () => {
    const service = await start(10_000, 8);
    const hot = `hot-${uuidv7()}`;
    const calm = `calm-${uuidv7()}`;
    for (const graphId of [hot, calm])
      await sendCommand(nc, cmd.createGraph, { graphId, name: graphId });
    const addTo = (graphId: string, nodeId: string) =>
      failure(sendCommand(nc, cmd.addNode, { graphId, nodeId, nodeType: 't' }));
    // One burst: 200 commands to the hot graph, then 6 to the calm one.
    const hotAnswers = Array.from({ length: 200 }, (_, i) =>
      addTo(hot, `n${i}`),
    );
    const calmAnswers = Array.from({ length: 6 }, (_, i) =>
      addTo(calm, `n${i}`),
    );
    const refused = (await Promise.all(hotAnswers)).filter(
      (a) => a !== undefined,
    );
    expect(await Promise.all(calmAnswers)).toEqual(Array(6).fill(undefined));
    expect(refused.length).toBeGreaterThan(0);
    for (const error of refused) {
      expect(UnavailableError.is(error)).toBe(true);
      expect(error.message).toMatch(
        new RegExp(`^${hot} has 8 commands waiting; retry later$`),
      );
    }
    expect(await countCommits(nc, 'graph', hot)).toBe(1 + 200 - refused.length);
    expect(await countCommits(nc, 'graph', calm)).toBe(7);
    expect(await outcomes(service, 'cim_commands_total')).toMatchObject({
      unavailable: refused.length,
    });
    const told = lines.filter((l) =>
      String(l['msg']).includes('too many waiting'),
    );
    expect(told.every((l) => l['aggregateId'] === hot)).toBe(true);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ aggregateId: hot, queued: 8, refused: 1 });
  });

  describe("a caller's time", () => {
    /** AddNode on `graphId` over NATS, saying the caller waits `timeout` ms (Cim-Timeout-Ms), itself waiting 10 s. */
    const addNode = (graphId: string, nodeId: string, timeout?: string) =>
      sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId, nodeType: 't' },
        // Without a timeout the header says 10 s, the client's own wait.
        { waitMs: 10_000, ...(timeout === undefined ? {} : { timeout }) },
      );

    it('does not apply a command whose caller stopped waiting before its turn came', async () => {
      await start(10_000);
      const graphId = `late-${uuidv7()}`;
      await sendCommand(nc, cmd.createGraph, { graphId, name: graphId });
      // Ten callers that wait, then 390 that wait 2 ms for a turn behind them on one graph.
      const answers = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          failure(addNode(graphId, `n${i}`, i < 10 ? undefined : '2')),
        ),
      );
      expect(answers.slice(0, 10)).toEqual(Array(10).fill(undefined));
      const late = answers.filter((a) => a !== undefined);
      // Each command waits for the one before it to be stored: 390 cannot all start within 2 ms.
      expect(late.length).toBeGreaterThan(0);
      for (const error of late) {
        expect(UnavailableError.is(error)).toBe(true);
        expect(error.message).toBe(
          `the caller's time ran out before the command's turn on ${graphId}; nothing was applied`,
        );
      }
      expect(await countCommits(nc, 'graph', graphId)).toBe(
        1 + answers.length - late.length,
      );
    });

    it.each(['0', '-5', 'soon', '1.5', '1000000000'])(
      'answers Cim-Timeout-Ms %j with VALIDATION_FAILED and applies nothing',
      async (timeout) => {
        await start(10_000);
        const graphId = `bad-${uuidv7()}`;
        await sendCommand(nc, cmd.createGraph, { graphId, name: graphId });
        expect(await rejection(addNode(graphId, 'n', timeout))).toBe(
          ErrorCode.VALIDATION_FAILED,
        );
        expect(await countCommits(nc, 'graph', graphId)).toBe(1);
      },
    );
  });
});
