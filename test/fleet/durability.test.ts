import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import { uuidv7 } from '@cim/kernel';
import { GraphCommandService } from '@cim/proto/cim/graph/v1/graph_pb';
import { verifyDomain, type Durability } from '@cim/service';
import {
  AddNodeLoad,
  createGraphs,
  lostOrDuplicated,
  storedNodes,
} from './add-node-load.js';
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
      const graphs = await createGraphs(nc, 16);
      const load = new AddNodeLoad(nc, graphs);
      const ackedBeforeCrash = await load.across(
        async () => {
          await server.kill('SIGKILL');
          await server.restart();
        },
        { before: 500, after: 300, withinMs: 60_000 },
      );

      expect(ackedBeforeCrash).toBeGreaterThanOrEqual(500);
      expect(load.acknowledged.size).toBeGreaterThanOrEqual(
        ackedBeforeCrash + 300,
      );
      const stored = await storedNodes(nc, graphs);
      expect(lostOrDuplicated(load.acknowledged, stored)).toEqual([]);
      // The crash broke no hash chain and no checkpoint.
      expect((await verifyDomain(nc, 'graph')).findings).toEqual([]);
    });
  });

  describe('when nats-server stalls under load (SIGSTOP, longer than an append waits for its ack)', () => {
    it('keeps every acknowledged command, stores none twice, and a command whose outcome was unknown is applied once when sent again', async () => {
      const { server, nc } = await fleet('strict', {
        syncAlways: true,
        ownConnection: true,
      });
      const graphs = await createGraphs(nc, 16);
      const load = new AddNodeLoad(nc, graphs);
      // Sent during the stall with a fixed command id, then sent again.
      const straggler = {
        commandId: uuidv7(),
        nodeId: `straggler-${uuidv7()}`,
      };
      const sendStraggler = () =>
        sendCommand(
          nc,
          cmd.addNode,
          { graphId: graphs[0]!, nodeId: straggler.nodeId, nodeType: 't' },
          { commandId: straggler.commandId },
        );
      let stalled: unknown;
      const ackedBeforeStall = await load.across(
        async () => {
          process.kill(server.pid, 'SIGSTOP');
          // The service's appends wait 5 s for their ack: the stall outlasts them.
          const during = sendStraggler().catch((error: unknown) => error);
          await new Promise((r) => setTimeout(r, 7000));
          process.kill(server.pid, 'SIGCONT');
          stalled = await during;
        },
        { before: 300, after: 300, withinMs: 60_000 },
      );

      expect(ackedBeforeStall).toBeGreaterThanOrEqual(300);
      expect(load.acknowledged.size).toBeGreaterThanOrEqual(
        ackedBeforeStall + 300,
      );
      // Its caller did not learn the outcome; sent again with its id, it is stored once.
      expect(stalled).toBeInstanceOf(Error);
      await sendStraggler();
      const stored = await storedNodes(nc, graphs);
      expect(stored.get(straggler.nodeId)).toBe(1);
      expect(lostOrDuplicated(load.acknowledged, stored)).toEqual([]);
      expect((await verifyDomain(nc, 'graph')).findings).toEqual([]);
    });
  });
});
