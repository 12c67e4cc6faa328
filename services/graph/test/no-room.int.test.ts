import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode, streamName, uuidv7 } from '@cim/kernel';
import { UnavailableError } from '@cim/messaging';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import { VAULT_BUCKET, type RunningService } from '@cim/service';
import {
  countCommits,
  recordingLogger,
  rejection,
  sendCommand,
  startNatsServer,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { graphService } from '../src/service.js';

const cmd = GraphCommandService.method;
const MAX_PAYLOAD = 64 * 1024;

describe('a graph service whose event store has no room', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let running: RunningService;
  const { log, lines } = recordingLogger();

  beforeAll(async () => {
    server = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}` });
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    running = await graphService.start({ natsUrl: server.url, log });
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  /** Sets the graph stream's max bytes, as an operator would with `nats stream edit`. */
  async function maxBytes(value: (stored: number) => number): Promise<void> {
    const { config, state } = await jsm.streams.info(streamName('graph'));
    await jsm.streams.update(config.name, {
      ...config,
      max_bytes: value(state.bytes),
    });
  }

  const appends = async (outcome: string) =>
    (
      await running.metrics.registry.getSingleMetric('cim_appends_total')!.get()
    ).values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;

  const said = (text: string) =>
    lines.filter((l) => String(l['msg']).startsWith(text));

  it('answers UNAVAILABLE and applies nothing while the stream is full, logs it once, and applies the same commands once there is room', async () => {
    const graphId = `full-${uuidv7()}`;
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'full' });
    await maxBytes((stored) => stored + 16);

    const commands = Array.from({ length: 5 }, (_, i) => ({
      nodeId: `n${i}`,
      commandId: uuidv7(),
    }));
    const send = ({ nodeId, commandId }: (typeof commands)[number]) =>
      sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId, nodeType: 't' },
        { commandId },
      );
    const answers = await Promise.all(
      commands.map((c) =>
        send(c).then(
          () => undefined,
          (error: unknown) => error as Error,
        ),
      ),
    );
    for (const error of answers) {
      expect(UnavailableError.is(error)).toBe(true);
      expect(error!.message).toBe(
        'the graph event store is full (maximum bytes exceeded); nothing was applied; retry once it has room',
      );
    }
    // Forgetting records its act in the same stream, and is refused the same way.
    const forget = { subjectId: graphId, reason: 'erasure request' };
    const forgetId = uuidv7();
    const forgetRefused = await sendCommand(nc, cmd.forgetSubject, forget, {
      commandId: forgetId,
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(UnavailableError.is(forgetRefused)).toBe(true);
    expect(forgetRefused!.message).toContain('the graph event store is full');
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    expect(await appends('full')).toBe(5);
    // What an alert on the stream's size reads.
    const { state } = await jsm.streams.info(streamName('graph'));
    const gauge = async (name: string) =>
      (await running.metrics.registry.getSingleMetric(name)!.get()).values[0]
        ?.value;
    expect(await gauge('cim_stream_bytes')).toBe(state.bytes);
    expect(await gauge('cim_stream_messages')).toBe(state.messages);
    // How long commits have been refused: at least the 20 ms waited here.
    await new Promise((r) => setTimeout(r, 20));
    expect(await gauge('cim_appends_failing_seconds')).toBeGreaterThanOrEqual(
      0.02,
    );
    expect(said('event store full')).toHaveLength(1);
    expect(said('event store full')[0]).toMatchObject({
      level: 50,
      refused: 1,
      apiCode: 10077,
    });

    await maxBytes(() => -1);
    for (const command of commands) await send(command);
    expect(await countCommits(nc, 'graph', graphId)).toBe(1 + commands.length);
    await sendCommand(nc, cmd.forgetSubject, forget, { commandId: forgetId });
    expect(await gauge('cim_appends_failing_seconds')).toBe(0);
    expect(said('event store stores commits again')).toEqual([
      expect.objectContaining({ level: 30, refused: 5 }),
    ]);
  });

  it('answers UNAVAILABLE, not INTERNAL, when the vault has no room for a new subject key, and applies the command once it has', async () => {
    const vault = `KV_${VAULT_BUCKET}`;
    const { config, state } = await jsm.streams.info(vault);
    // The vault takes no new key; the graph's own stream still takes commits.
    await jsm.streams.update(vault, { ...config, max_msgs: state.messages });
    const graphId = `keyless-${uuidv7()}`;
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'keyless' });
    const commandId = uuidv7();
    const addLabelled = () =>
      sendCommand(
        nc,
        cmd.addNode,
        { graphId, nodeId: 'n', nodeType: 't', label: 'Ada' },
        { commandId },
      );
    const error = await addLabelled().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(UnavailableError.is(error)).toBe(true);
    expect(error?.message).toBe(
      `personal data in ${graphId} cannot be protected (vault: maximum messages exceeded); nothing was applied`,
    );
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    // Forgetting writes to the vault too, and is refused the same way.
    const forgot = await sendCommand(nc, cmd.forgetSubject, {
      subjectId: graphId,
      reason: 'erasure request',
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(UnavailableError.is(forgot)).toBe(true);
    expect(forgot?.message).toBe(
      "the graph service's JetStream storage is full (maximum messages exceeded); nothing was applied; retry once it has room",
    );

    await jsm.streams.update(vault, { ...config, max_msgs: -1 });
    await addLabelled();
    expect(await countCommits(nc, 'graph', graphId)).toBe(2);
  });

  it('answers VALIDATION_FAILED for a command whose commit is over the server’s max_payload, stores nothing, and goes on', async () => {
    const graphId = `large-${uuidv7()}`;
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'large' });
    // The command fits in a message; its commit, with ids, hashes and headers around it, does not.
    const note = 'x'.repeat(MAX_PAYLOAD - 300);
    const error = await sendCommand(nc, cmd.addNode, {
      graphId,
      nodeId: 'big',
      nodeType: 't',
      metadata: { note },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /^the commit is too large for the graph stream \(commit of \d+ bytes \(and its headers\) is over the server's max_payload of 65536 bytes\)$/,
    );
    expect(await rejection(Promise.reject(error as Error))).toBe(
      ErrorCode.VALIDATION_FAILED,
    );
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    await sendCommand(nc, cmd.addNode, { graphId, nodeId: 'n', nodeType: 't' });
    expect(await countCommits(nc, 'graph', graphId)).toBe(2);
  });
});
