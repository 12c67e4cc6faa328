import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uuidv7 } from '@cim/kernel';
import { freePort, startNatsServer, type NatsServerHandle } from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const CLI = fileURLToPath(new URL('../bin/cim.js', import.meta.url));
const GRAPH_MAIN = fileURLToPath(
  new URL('../../../services/graph/dist/main.js', import.meta.url),
);
const READY_TIMEOUT_MS = 30_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment a child process gets: ours without CIM settings, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env))
    if (key.startsWith('CIM_') || key === 'LOG_LEVEL') delete env[key];
  return { ...env, ...extra };
}

/** Runs `cim <args>` to completion. */
function cim(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code =
          error === null
            ? 0
            : typeof error.code === 'number'
              ? error.code
              : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Parses what a run printed on stdout, failing with its whole output when it is not JSON. */
function json(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(
      `cim printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
    );
  }
}

/** Polls `$SRV.PING.<name>` until the service answers, failing early when the process died. */
async function waitForService(
  nc: NatsConnection,
  name: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited during start-up:\n${output()}`);
    try {
      await nc.request(`$SRV.PING.${name}`, '', { timeout: 500 });
      return;
    } catch {
      // Not registered yet (no responders) or slow: ask again until the deadline.
    }
  }
  throw new Error(`${name} did not answer $SRV.PING:\n${output()}`);
}

describe('cim', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graph: ChildProcess;
  let graphOutput = '';
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dataDir = await mkdtemp(join(tmpdir(), 'cim-cli-'));
    env = childEnv({ CIM_NATS_URL: server.url, CIM_DATA_DIR: dataDir });
    graph = spawn(process.execPath, [GRAPH_MAIN], {
      env: childEnv({
        CIM_NATS_URL: server.url,
        CIM_DATA_DIR: dataDir,
        CIM_HTTP_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      graphOutput += chunk.toString('utf8');
    };
    graph.stdout?.on('data', collect);
    graph.stderr?.on('data', collect);
    await waitForService(nc, 'cim-graph', graph, () => graphOutput);
  }, 60_000);

  afterAll(async () => {
    if (graph.exitCode === null && graph.signalCode === null) {
      const exited = once(graph, 'exit');
      graph.kill('SIGTERM');
      await exited;
    }
    await nc.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('when sending a command', () => {
    it('prints the CommandResult as JSON and exits 0', async () => {
      const run = await cim(
        ['cmd', 'graph', 'CreateGraph', '{"name":"x"}'],
        env,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = json(run);
      expect(result).toMatchObject({ version: '1' });
      expect(result['aggregateId']).toBe(result['commandId']);
      expect(result['eventIds']).toHaveLength(1);
    });

    it('answers a command sent again with --command-id with its first result', async () => {
      const commandId = uuidv7();
      const send = () =>
        cim(
          [
            'cmd',
            'graph',
            'CreateGraph',
            '{"name":"once"}',
            '--command-id',
            commandId,
          ],
          env,
        );
      const first = await send();
      const again = await send();
      expect(again.code).toBe(0);
      expect(json(again)).toEqual(json(first));
      expect(json(first)).toMatchObject({ commandId, aggregateId: commandId });
    });

    it('refuses a command whose --expected-version the aggregate is not at', async () => {
      const created = json(
        await cim(['cmd', 'graph', 'CreateGraph', '{"name":"v"}'], env),
      );
      const graphId = String(created['aggregateId']);
      const run = await cim(
        [
          'cmd',
          'graph',
          'AddNode',
          JSON.stringify({ graphId, nodeType: 't' }),
          '--expected-version',
          '5',
        ],
        env,
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^cim: CONCURRENCY_CONFLICT: expected version 5 of .+, found 1\n$/,
      );
    });

    it('exits 2 for a --command-id that is not a UUID or a version that is not one', async () => {
      const bad = await cim(
        ['cmd', 'graph', 'CreateGraph', '{"name":"x"}', '--command-id', 'x'],
        env,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^cim: --command-id takes a lower-case UUID/);
      const version = await cim(
        [
          'cmd',
          'graph',
          'CreateGraph',
          '{"name":"x"}',
          '--expected-version',
          '0',
        ],
        env,
      );
      expect(version.code).toBe(2);
      expect(version.stderr).toMatch(/^cim: --expected-version takes/);
    });

    it('exits 1 and prints the code of a refused command', async () => {
      const run = await cim(
        ['cmd', 'graph', 'CreateGraph', '{"name":""}'],
        env,
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^cim: VALIDATION_FAILED: .+\n$/);
    });
  });

  describe('when sending a query', () => {
    it('prints the answer as JSON', async () => {
      const graphId = uuidv7();
      const created = await cim(
        ['cmd', 'graph', 'CreateGraph', JSON.stringify({ graphId, name: 'x' })],
        env,
      );
      expect(created.code).toBe(0);
      const run = await cim(
        [
          'query',
          'graph',
          'GraphInfo',
          JSON.stringify({ graphId, minVersion: '1' }),
        ],
        env,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(json(run)).toMatchObject({
        graph: { graphId, name: 'x', version: '1' },
      });
    });

    it('reads after a stream position with --min-position', async () => {
      const name = `listed-${uuidv7()}`;
      const created = await cim(
        ['cmd', 'graph', 'CreateGraph', JSON.stringify({ name })],
        env,
      );
      const { streamSequence } = json(created) as { streamSequence: string };
      const list = (position: string) =>
        cim(
          [
            'query',
            'graph',
            'ListGraphs',
            JSON.stringify({ nameContains: name }),
            '--min-position',
            position,
          ],
          env,
        );
      const run = await list(streamSequence);
      expect(run.stderr).toBe('');
      expect(json(run)).toMatchObject({ graphs: [{ name }] });
      // The service does wait: a position far ahead is never reached (4 s).
      const ahead = await list(String(BigInt(streamSequence) + 1_000_000n));
      expect(ahead.code).toBe(1);
      expect(ahead.stderr).toMatch(
        /^cim: UNAVAILABLE: .*has not reached stream position/,
      );
      const bad = await cim(
        ['query', 'graph', 'ListGraphs', '{}', '--min-position', 'soon'],
        env,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(
        /^cim: --min-position takes a stream sequence/,
      );
    });

    it('exits 1 with NOT_FOUND for an unknown graph', async () => {
      const graphId = uuidv7();
      const run = await cim(
        ['query', 'graph', 'GraphInfo', JSON.stringify({ graphId })],
        env,
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^cim: NOT_FOUND: .+\n$/);
      expect(run.stderr).toContain(graphId);
    });
  });

  describe('when the request is wrong', () => {
    it('exits 2 when the JSON does not parse', async () => {
      const run = await cim(['cmd', 'graph', 'CreateGraph', '{name:'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^cim: the request is not JSON: /);
    });

    it('exits 2 when the JSON does not fit the request message', async () => {
      const run = await cim(
        ['cmd', 'graph', 'CreateGraph', '{"colour":"red"}'],
        env,
      );
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^cim: the request does not fit cim\.graph\.v1\.CreateGraph: /,
      );
    });

    it('exits 2 for an unknown domain, listing the known ones', async () => {
      const run = await cim(['cmd', 'nosuch', 'CreateGraph', '{}'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^cim: unknown domain "nosuch"; known: .*\bgraph\b/,
      );
    });

    it('exits 2 for an unknown command, listing the known ones', async () => {
      const run = await cim(['cmd', 'graph', 'Explode', '{}'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^cim: graph has no command Explode; known: /);
      expect(run.stderr).toContain('CreateGraph');
      expect(run.stderr).toContain('AddNode');
    });

    it('exits 2 for an unknown query, listing the known ones', async () => {
      const run = await cim(['query', 'graph', 'CreateGraph', '{}'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^cim: graph has no query CreateGraph; known: /,
      );
      expect(run.stderr).toContain('GraphInfo');
    });

    it('exits 2 for an unknown verb, with the usage', async () => {
      const run = await cim(['frobnicate'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('cim: unknown verb "frobnicate"');
      expect(run.stderr).toContain('usage:');
    });

    it('exits 2 and prints the usage when called without arguments', async () => {
      const run = await cim([], env);
      expect(run.code).toBe(2);
      expect(run.stdout).toContain('usage:');
    });
  });

  describe('when asked for the status', () => {
    it('prints the server version and graph up with one instance and its stream count', async () => {
      const jsm = await jetstreamManager(nc);
      const messages = (await jsm.streams.info('CIM_GRAPH')).state.messages;
      expect(messages).toBeGreaterThan(0);
      const run = await cim(['status'], env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const out = json(run);
      expect(out['nats']).toEqual({
        url: server.url,
        serverVersion: server.version,
        jetstream: true,
      });
      const services = out['services'] as Array<Record<string, unknown>>;
      const graphStatus = services.find((s) => s['domain'] === 'graph');
      expect(graphStatus).toMatchObject({
        up: true,
        stream: { name: 'CIM_GRAPH', messages },
      });
      expect(graphStatus?.['instances']).toHaveLength(1);
      expect(out['gateway']).toEqual({ up: false, instances: [] });
    });
  });

  describe('when no service answers', () => {
    it('exits 1 with UNAVAILABLE', async () => {
      const empty = await startNatsServer({ jetstream: false });
      try {
        const run = await cim(
          ['query', 'graph', 'GraphInfo', '{"graphId":"g"}'],
          childEnv({ CIM_NATS_URL: empty.url, CIM_DATA_DIR: dataDir }),
        );
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(
          'cim: UNAVAILABLE: cim.graph.qry.GraphInfo: no service is answering\n',
        );
      } finally {
        await empty.stop();
      }
    });

    it('names the command id to send a command again with', async () => {
      const empty = await startNatsServer({ jetstream: false });
      try {
        const commandId = uuidv7();
        const run = await cim(
          [
            'cmd',
            'graph',
            'CreateGraph',
            '{"name":"x"}',
            '--command-id',
            commandId,
          ],
          childEnv({ CIM_NATS_URL: empty.url, CIM_DATA_DIR: dataDir }),
        );
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(
          `cim: UNAVAILABLE: cim.graph.cmd.CreateGraph: no service is answering; it may have been stored all the same: send it again with --command-id ${commandId} to be answered with its result\n`,
        );
      } finally {
        await empty.stop();
      }
    });
  });

  describe('when no NATS URL is set and npm start recorded none', () => {
    it('exits 2 with the npm start hint', async () => {
      const empty = await mkdtemp(join(tmpdir(), 'cim-cli-empty-'));
      try {
        const run = await cim(['status'], childEnv({ CIM_DATA_DIR: empty }));
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/^cim: CIM_NATS_URL is not set/);
        expect(run.stderr).toContain('npm start');
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });

  describe('when the NATS URL points at nothing', () => {
    it('exits 1 naming the URL', async () => {
      const url = `nats://127.0.0.1:${await freePort()}`;
      const run = await cim(
        ['status'],
        childEnv({ CIM_NATS_URL: url, CIM_DATA_DIR: dataDir }),
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`cim: cannot connect to NATS at ${url}`);
    });
  });
});
