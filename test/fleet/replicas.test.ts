import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { EventStore } from '@cim/eventstore';
import { DomainError, ErrorCode, decodeCommit, uuidv7 } from '@cim/kernel';
import { Header, UnavailableError, request } from '@cim/messaging';
import {
  CommandResultSchema,
  type CommandResult,
} from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AddNodeSchema,
  GraphCommandService,
  GraphEventSchema,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { keysDir, rotateKey, verifyDomain } from '@cim/service';
import {
  freePort,
  sendCommand,
  startNatsServer,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const MAIN = join(process.cwd(), 'services', 'graph', 'dist', 'main.js');

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/readyz', timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('error', () => resolve(false));
  });
}

/**
 * One graph service instance in its own process, as `npm start --replicas
 * graph=3` runs them, once it is ready. An instance that exits first (its
 * HTTP port was taken between choosing and binding it) is started again on
 * another port.
 */
async function instance(
  natsUrl: string,
  dataDir: string,
): Promise<ChildProcess> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        CIM_NATS_URL: natsUrl,
        CIM_DATA_DIR: dataDir,
        CIM_HTTP_PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    let exited = false;
    child.once('exit', () => (exited = true));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      if (await ready(port)) return child;
      if (exited) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) {
      child.kill('SIGKILL');
      throw new Error(`graph instance on HTTP port ${port} not ready in 20 s`);
    }
  }
  throw new Error('graph instance exited before it was ready, three times');
}

describe('three instances of the graph service', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startNatsServer({ syncAlways: true });
    nc = await connect({ servers: server.url });
    dataDir = mkdtempSync(join(tmpdir(), 'cim-replicas-'));
    // One key for all instances, as the launcher writes it before starting them.
    rotateKey(keysDir(dataDir, 'graph'));
    for (let i = 0; i < 3; i++)
      children.push(await instance(server.url, dataDir));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await nc.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('applies every acknowledged command exactly once, through a SIGKILL of one instance', async () => {
    const graphs = await Promise.all(
      Array.from(
        { length: 5 },
        async () =>
          (
            await sendCommand(nc, GraphCommandService.method.createGraph, {
              name: 'shared',
            })
          ).aggregateId,
      ),
    );
    const commands = Array.from({ length: 900 }, (_, i) => ({
      graphId: graphs[i % graphs.length]!,
      nodeId: `n${i}`,
      commandId: uuidv7(),
    }));
    const results = new Map<string, CommandResult>();
    const send = async (
      c: (typeof commands)[number],
    ): Promise<CommandResult> => {
      const body = toBinary(
        AddNodeSchema,
        create(AddNodeSchema, {
          graphId: c.graphId,
          nodeId: c.nodeId,
          nodeType: 't',
        }),
      );
      const reply = await request(nc, 'cim.graph.cmd.AddNode', body, {
        headers: { [Header.commandId]: c.commandId },
        timeoutMs: 3000,
      });
      return fromBinary(CommandResultSchema, reply);
    };
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < commands.length) {
        const c = commands[next++]!;
        // A client retries with the same command id until it has an answer.
        for (let attempt = 0; attempt < 40; attempt++) {
          try {
            results.set(c.commandId, await send(c));
            break;
          } catch (error) {
            const retryable =
              UnavailableError.is(error) ||
              (DomainError.is(error) &&
                error.code === ErrorCode.CONCURRENCY_CONFLICT);
            if (!retryable) throw error;
            await new Promise((r) => setTimeout(r, 25));
          }
        }
        if (!killed && results.size >= 300) {
          killed = true;
          children[1]!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    expect(killed).toBe(true);
    expect(results.size).toBe(commands.length);

    // A retry of an acknowledged command is answered with its first result.
    for (const c of commands.slice(0, 50))
      expect(await send(c)).toEqual(results.get(c.commandId));

    // The stream holds each acknowledged command once, at the version its result named.
    const store = await EventStore.open(nc, { domain: 'graph' });
    const stored = new Map<string, bigint>();
    for (const graphId of graphs) {
      for (const commit of (await store.read(graphId)).map((m) =>
        decodeCommit(m.data),
      )) {
        for (const record of commit.events) {
          const event = fromBinary(GraphEventSchema, record.payload);
          if (event.body.case === 'nodeAdded') {
            expect(stored.has(event.body.value.nodeId)).toBe(false);
            stored.set(event.body.value.nodeId, commit.version);
          }
        }
      }
    }
    store.close();
    for (const c of commands)
      expect(stored.get(c.nodeId)).toBe(results.get(c.commandId)!.version);

    // And the history verifies: chains intact, everything sealed by the surviving instances.
    let report = await verifyDomain(nc, 'graph');
    for (let i = 0; i < 100 && report.unsealed.commits > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      report = await verifyDomain(nc, 'graph');
    }
    expect(report.findings).toEqual([]);
    expect(report.unsealed.commits).toBe(0);
  });
});
