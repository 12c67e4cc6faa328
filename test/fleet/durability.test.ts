import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { graphService } from '@cim/graph';
import { decodeCommit, uuidv7 } from '@cim/kernel';
import { Header, request } from '@cim/messaging';
import { CommandResultSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AddNodeSchema,
  GraphCommandService,
  GraphEventSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { Durability } from '@cim/service';
import {
  sendCommand,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const cmd = GraphCommandService.method;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fleet(
  durability: Durability,
  options: { syncAlways: boolean; ownConnection?: boolean },
) {
  const server = await startNatsServer({ syncAlways: options.syncAlways });
  cleanups.push(() => server.stop());
  const nc = await connect({
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  cleanups.push(() => nc.close());
  const service = await graphService.start(
    options.ownConnection === true
      ? { natsUrl: server.url, log: testLogger(), durability }
      : { nc, log: testLogger(), durability },
  );
  cleanups.push(() => service.stop());
  return { server, nc, service };
}

/** Attaches strace to a running process and records its file writes, syncs and socket writes. */
async function traceSyscalls(
  pid: number,
): Promise<{ stop(): Promise<string[]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cim-strace-'));
  const out = join(dir, 'trace');
  const child = spawn(
    'strace',
    [
      '-f',
      '-p',
      String(pid),
      '-e',
      'trace=write,writev,pwrite64,fsync,fdatasync',
      '-s',
      '4096',
      '-o',
      out,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`strace did not attach: ${stderr}`)),
      10_000,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/attached/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`strace exited: ${stderr}`)));
  });
  // strace attaches to the server's threads one by one after the first; let it finish.
  await new Promise((r) => setTimeout(r, 300));
  return {
    stop: async () => {
      const exited = new Promise<void>((resolve) =>
        child.once('exit', () => resolve()),
      );
      child.kill('SIGINT');
      await exited;
      const lines = readFileSync(out, 'utf8').split('\n');
      rmSync(dir, { recursive: true, force: true });
      return lines;
    },
  };
}

/** Sends one AddNode and returns the trace lines from the commit's write to its ack, plus the ack. */
async function traceOneCommand(server: NatsServerHandle, nc: NatsConnection) {
  const { aggregateId: graphId } = await sendCommand(nc, cmd.createGraph, {
    name: 'probe',
  });
  const trace = await traceSyscalls(server.pid);
  const nodeId = `probe-${uuidv7()}`;
  const result = await sendCommand(nc, cmd.addNode, {
    graphId,
    nodeId,
    nodeType: 't',
  });
  const lines = await trace.stop();
  const stored = lines.findIndex(
    (l) =>
      /pwrite64|write\(/.test(l) && l.includes(nodeId) && !l.includes('HPUB'),
  );
  // strace prints the ack JSON with escaped quotes: {\"stream\":\"CIM_GRAPH\",\"seq\":N}
  const acked = lines.findIndex(
    (l) =>
      l.includes(`\\"seq\\":${result.streamSequence}`) &&
      l.includes('CIM_GRAPH'),
  );
  return { lines, stored, acked };
}

const haveStrace = existsSync('/usr/bin/strace') || existsSync('/bin/strace');

describe('durability', () => {
  (haveStrace ? describe : describe.skip)(
    'fsync before the acknowledgement (traced with strace)',
    () => {
      it('strict: the server fsyncs the commit before it acknowledges it', async () => {
        const { server, nc } = await fleet('strict', { syncAlways: true });
        const { lines, stored, acked } = await traceOneCommand(server, nc);
        expect(stored).toBeGreaterThanOrEqual(0);
        expect(acked).toBeGreaterThan(stored);
        const between = lines.slice(stored, acked);
        expect(between.some((l) => /\b(fsync|fdatasync)\(/.test(l))).toBe(true);
      });

      it('fast: the server acknowledges without an fsync', async () => {
        const { server, nc } = await fleet('fast', { syncAlways: false });
        const { lines, acked } = await traceOneCommand(server, nc);
        expect(acked).toBeGreaterThanOrEqual(0);
        expect(
          lines.slice(0, acked).some((l) => /\b(fsync|fdatasync)\(/.test(l)),
        ).toBe(false);
      });
    },
  );

  describe('when nats-server is killed with SIGKILL under load', () => {
    it('keeps every acknowledged command, and the service reconnects and carries on', async () => {
      const { server, nc } = await fleet('strict', {
        syncAlways: true,
        ownConnection: true,
      });
      const graphs = await Promise.all(
        Array.from(
          { length: 16 },
          async () =>
            (await sendCommand(nc, cmd.createGraph, { name: 'load' }))
              .aggregateId,
        ),
      );
      const acknowledged = new Map<string, string>(); // node id → graph id
      let sent = 0;
      let afterRestart = 0;
      let restarted = false;
      const deadline = Date.now() + 60_000;

      const worker = async () => {
        while (Date.now() < deadline && (!restarted || afterRestart < 300)) {
          const graphId = graphs[sent % graphs.length]!;
          const nodeId = `n${sent++}`;
          const body = toBinary(
            AddNodeSchema,
            create(AddNodeSchema, { graphId, nodeId, nodeType: 't' }),
          );
          try {
            const reply = await request(nc, 'cim.graph.cmd.AddNode', body, {
              headers: { [Header.commandId]: uuidv7() },
              timeoutMs: 2000,
            });
            fromBinary(CommandResultSchema, reply);
            acknowledged.set(nodeId, graphId);
            if (restarted) afterRestart++;
          } catch {
            // Unavailable while the server is down: not acknowledged, so nothing is promised.
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      const workers = Array.from({ length: 32 }, worker);
      while (acknowledged.size < 500 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await server.kill('SIGKILL');
      const ackedBeforeCrash = acknowledged.size;
      await server.restart();
      restarted = true;
      await Promise.all(workers);

      expect(ackedBeforeCrash).toBeGreaterThanOrEqual(500);
      expect(afterRestart).toBeGreaterThanOrEqual(300);
      const store = await EventStore.open(nc, {
        domain: 'graph',
        durability: 'fast',
      });
      const stored = new Map<string, number>();
      for (const graphId of graphs) {
        for (const commit of await store.read(graphId)) {
          for (const record of decodeCommit(commit.data).events) {
            const event = fromBinary(GraphEventSchema, record.payload);
            if (event.body.case === 'nodeAdded') {
              stored.set(
                event.body.value.nodeId,
                (stored.get(event.body.value.nodeId) ?? 0) + 1,
              );
            }
          }
        }
      }
      store.close();
      const missing = [...acknowledged.keys()].filter(
        (nodeId) => stored.get(nodeId) !== 1,
      );
      expect(missing).toEqual([]);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
    });
  });
});
