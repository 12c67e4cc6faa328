import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get, type ClientRequest } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@cim/grpc';
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from '@cim/proto/grpc/health/v1/health_pb';
import {
  eventually as poll,
  freePort,
  natsServerBinary,
  startNatsServer,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const LAUNCHER = join(ROOT, 'deploy/local/dist/main.js');
const CLI = join(ROOT, 'tools/cli/bin/cim.js');
const GRAPH_MAIN = join(ROOT, 'services/graph/dist/main.js');
const START_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Our environment without CIM settings (a developer's CIM_NATS_URL must not leak in), plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env))
    if (key.startsWith('CIM_') || key === 'LOG_LEVEL') delete env[key];
  return { ...env, ...extra };
}

/** Runs a Node script to completion. */
function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      args,
      { env, timeout: STEP_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code =
          error === null
            ? 0
            : typeof error.code === 'number'
              ? error.code
              : null;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}

/** A launched `npm start` whose output is collected, so tests can wait for lines in it. */
class Launcher {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.#child = spawn(process.execPath, [LAUNCHER, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = once(this.#child, 'exit').then(([code]) =>
      typeof code === 'number' ? code : null,
    );
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Resolves once `pattern` matches stdout or stderr (checked on each chunk); rejects on exit or after `timeoutMs`. */
  waitFor(
    stream: 'stdout' | 'stderr',
    pattern: RegExp,
    timeoutMs = STEP_TIMEOUT_MS,
  ): Promise<RegExpExecArray> {
    return new Promise((resolveMatch, reject) => {
      const source = this.#child[stream];
      const check = (): boolean => {
        const match = pattern.exec(this[stream]);
        if (match === null) return false;
        finish();
        resolveMatch(match);
        return true;
      };
      const onExit = (): void => {
        if (check()) return;
        finish();
        reject(
          new Error(`npm start exited before ${pattern}:\n${this.output()}`),
        );
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output()}`),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        source?.off('data', onData);
        this.#child.off('exit', onExit);
      };
      // Listeners run after the collecting listener added in the constructor, so the text is current.
      const onData = (): void => void check();
      if (check()) return;
      source?.on('data', onData);
      this.#child.once('exit', onExit);
    });
  }

  output(): string {
    return `--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }
}

/** Whether a process with this id exists (a zombie counts, so it must have been reaped too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function procEntries(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    // The process ended between the directory listing and this read.
    return undefined;
  }
}

/** Every live descendant of `root`, from the parent ids in /proc/<pid>/stat. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const pid of procEntries()) {
    const stat = readProc(pid, 'stat');
    // The command name in parentheses may hold spaces; the parent id is the second field after it.
    const ppid =
      stat === undefined
        ? undefined
        : stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (ppid !== undefined) parentOf.set(pid, Number(ppid));
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const [pid, ppid] of parentOf)
      if (ppid === parent) {
        found.push(pid);
        frontier.push(pid);
      }
  }
  return found;
}

/** Processes whose command line contains `text`. */
function processesWith(text: string): number[] {
  return procEntries().filter((pid) =>
    (readProc(pid, 'cmdline') ?? '').split('\0').join(' ').includes(text),
  );
}

/**
 * `npm start <args>` on a free gRPC port, once `ready` matches its output;
 * on another port when the one chosen was taken before npm start reserved it.
 */
async function startFleet(
  args: readonly string[],
  ready: RegExp,
): Promise<{ launcher: Launcher; grpcPort: number }> {
  for (let attempt = 1; ; attempt++) {
    const grpcPort = await freePort();
    const launcher = new Launcher(
      args,
      childEnv({
        CIM_NATS_SERVER: natsBinary,
        CIM_GRPC_PORT: String(grpcPort),
        LOG_LEVEL: 'warn',
      }),
    );
    try {
      await launcher.waitFor('stdout', ready, START_TIMEOUT_MS);
      return { launcher, grpcPort };
    } catch (error) {
      if (
        attempt === 3 ||
        !/for the gRPC gateway is in use/.test(launcher.stderr)
      )
        throw error;
      await launcher.exited;
    }
  }
}

/** Listens on `port` on every interface, trying every 5 ms while another process still holds it. */
async function holdPort(port: number): Promise<Server> {
  for (const deadline = Date.now() + STEP_TIMEOUT_MS; ;) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolveBound) => {
      server.once('error', () => resolveBound(false));
      server.listen(port, () => resolveBound(true));
    });
    if (bound) return server;
    if (Date.now() > deadline) throw new Error(`port ${port} stayed taken`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether `http://127.0.0.1:<port>/readyz` answers 200. */
function readyz(port: number): Promise<boolean> {
  return new Promise((resolveReady) => {
    get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolveReady(res.statusCode === 200);
    })
      .once('error', () => resolveReady(false))
      .once('timeout', function (this: ClientRequest) {
        this.destroy();
      });
  });
}

/** Asks `$SRV.PING.<name>` and returns the id of the instance that answered, or undefined when none did. */
async function ping(
  nc: NatsConnection,
  name: string,
): Promise<string | undefined> {
  try {
    const reply = await nc.request(`$SRV.PING.${name}`, '', { timeout: 1000 });
    return reply.json<{ id: string }>().id;
  } catch {
    // No responders or no answer in time: not (yet) serving.
    return undefined;
  }
}

/** The shared poll, with this file's step time-out and poll interval. */
function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string | (() => string),
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<T> {
  return poll(probe, what, timeoutMs, POLL_MS);
}

type StatusJson = {
  readonly nats: { readonly serverVersion: string };
  readonly gateway: { readonly up: boolean };
  readonly services: ReadonlyArray<{
    readonly domain: string;
    readonly up: boolean;
    readonly instances: readonly unknown[];
  }>;
};

const natsBinary = process.env['CIM_NATS_SERVER'] || natsServerBinary();

describe('npm start', () => {
  describe('when the fleet runs', () => {
    let dataDir: string;
    let grpcPort: number;
    let launcher: Launcher;
    let nc: NatsConnection | undefined;
    const started = new Set<number>();

    /** `cim status` against the URL npm start recorded in the data directory. */
    async function status(): Promise<StatusJson> {
      const run = await runNode(
        [CLI, 'status'],
        childEnv({ CIM_DATA_DIR: dataDir }),
      );
      if (run.code !== 0)
        throw new Error(`cim status exited ${run.code}: ${run.stderr}`);
      return JSON.parse(run.stdout) as StatusJson;
    }

    /** The HTTP port and pid the table printed for one process. */
    function tableRow(name: string): { httpPort: number; pid: number } {
      const row = new RegExp(
        `^${name}\\s+http://127\\.0\\.0\\.1:(\\d+)/metrics\\s+pid (\\d+);`,
        'm',
      ).exec(launcher.stdout);
      if (row === null)
        throw new Error(`no table row for ${name}:\n${launcher.output()}`);
      return { httpPort: Number(row[1]), pid: Number(row[2]) };
    }

    const tablePid = (name: string): number => tableRow(name).pid;

    /** The ports recorded by listener name in <data dir>/nats/ports.json. */
    const recordedPorts = (): Record<string, number> =>
      JSON.parse(
        readFileSync(join(dataDir, 'nats', 'ports.json'), 'utf8'),
      ) as Record<string, number>;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'cim-npm-start-'));
      // The table is written row by row; wait for the gateway row and the last line after it.
      ({ launcher, grpcPort } = await startFleet(
        ['--data-dir', dataDir],
        /^gRPC gateway\s+127\.0\.0\.1:\d+.*\n[\s\S]*^stop: Ctrl-C$/m,
      ));
      for (const pid of descendants(launcher.pid)) started.add(pid);
    }, START_TIMEOUT_MS + 10_000);

    afterAll(async () => {
      await nc?.close();
      if (launcher.running) {
        for (const pid of [...started, ...descendants(launcher.pid)])
          if (alive(pid)) process.kill(pid, 'SIGKILL');
        launcher.kill('SIGKILL');
        await launcher.exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    it('prints a table with the gateway on the asked port and a pid per process', () => {
      expect(launcher.stdout).toMatch(
        new RegExp(`^gRPC gateway\\s+127\\.0\\.0\\.1:${grpcPort}\\s`, 'm'),
      );
      expect(alive(tablePid('graph'))).toBe(true);
      expect(alive(tablePid('gateway'))).toBe(true);
    });

    it('shows how to reach the fleet with the CLI from its data directory', () => {
      expect(launcher.stdout).toContain(
        `\ntry: CIM_DATA_DIR=${dataDir} npm run cim -- status\n`,
      );
    });

    it('records the NATS URL in <data dir>/nats.url', () => {
      const file = join(dataDir, 'nats.url');
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file, 'utf8')).toMatch(
        /^nats:\/\/127\.0\.0\.1:\d+\n$/,
      );
    });

    it('serves graph and the gateway, as cim status shows', async () => {
      const out = await status();
      expect(out.gateway.up).toBe(true);
      expect(out.services.find((s) => s.domain === 'graph')).toMatchObject({
        up: true,
        instances: [expect.anything()],
      });
    });

    it('answers a gRPC health check with SERVING', async () => {
      const health = createClient(Health, `127.0.0.1:${grpcPort}`);
      try {
        const answer = await health.check(
          { service: '' },
          { deadlineMs: 10_000 },
        );
        expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      } finally {
        health.close();
      }
    });

    it('restarts a service that was killed', async () => {
      const url = readFileSync(join(dataDir, 'nats.url'), 'utf8').trim();
      nc = await connect({ servers: url });
      const before = await ping(nc, 'cim-graph');
      expect(before).toBeDefined();
      const graphPid = tablePid('graph');

      process.kill(graphPid, 'SIGKILL');
      await launcher.waitFor(
        'stderr',
        /^graph stopped \(signal SIGKILL\); restarting in [\d.]+ s/m,
      );
      const connection = nc;
      const after = await eventually(async () => {
        const id = await ping(connection, 'cim-graph');
        return id !== undefined && id !== before ? id : undefined;
      }, 'graph answered $SRV.PING again');
      expect(after).not.toBe(before);
      expect(alive(graphPid)).toBe(false);
      const restarted = descendants(launcher.pid).filter((pid) =>
        (readProc(pid, 'cmdline') ?? '').includes(GRAPH_MAIN),
      );
      expect(restarted).toHaveLength(1);
      expect(restarted[0]).not.toBe(graphPid);
    });

    it("records every process's HTTP port with the NATS ports, for the next run to reuse", () => {
      const recorded = recordedPorts();
      for (const name of ['graph', 'location', 'gateway'])
        expect(recorded[`http:${name}`]).toBe(tableRow(name).httpPort);
      expect(recorded['nats']).toEqual(expect.any(Number));
    });

    it('restarts a service whose HTTP port another process took meanwhile on a new port', async () => {
      const { httpPort, pid } = tableRow('location');
      process.kill(pid, 'SIGKILL');
      // Taken as soon as the killed process lets go of it, well before the restart's back-off ends.
      const squatter = await holdPort(httpPort);
      try {
        const [, moved] = await launcher.waitFor(
          'stderr',
          new RegExp(
            `^location: HTTP port ${httpPort} is taken; now on http://127\\.0\\.0\\.1:(\\d+)/metrics$`,
            'm',
          ),
        );
        const port = Number(moved);
        expect(port).not.toBe(httpPort);
        await eventually(
          async () => ((await readyz(port)) ? true : undefined),
          `location ready on port ${port}`,
        );
        expect(recordedPorts()['http:location']).toBe(port);
      } finally {
        squatter.close();
      }
    });

    it(
      'stops everything it started on SIGTERM and exits 0',
      async () => {
        await nc?.close();
        nc = undefined;
        const natsPids = processesWith(join(dataDir, 'nats', 'cim.conf'));
        expect(natsPids).toHaveLength(1);
        const all = new Set([
          ...started,
          ...descendants(launcher.pid),
          ...natsPids,
          tablePid('graph'),
          tablePid('gateway'),
        ]);

        launcher.kill('SIGTERM');
        expect(await launcher.exited).toBe(0);

        expect([...all].filter(alive)).toEqual([]);
        expect(processesWith(join(dataDir, 'nats', 'cim.conf'))).toEqual([]);
        expect(existsSync(join(dataDir, 'nats.url'))).toBe(false);
        expect(launcher.stderr).toMatch(/^stopped$/m);
      },
      STEP_TIMEOUT_MS + 10_000,
    );
  });

  describe.each([
    ['sharded', ['cim-hub', 'cim-graph', 'cim-location']],
    ['cluster', ['cim-1', 'cim-2', 'cim-3']],
  ])('with --topology %s', (topology, servers) => {
    let dataDir: string;
    let launcher: Launcher;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), `cim-npm-start-${topology}-`));
      ({ launcher } = await startFleet(
        ['--data-dir', dataDir, '--topology', topology],
        /^stop: Ctrl-C$/m,
      ));
    }, START_TIMEOUT_MS + 10_000);

    afterAll(async () => {
      if (launcher.running) {
        // A test that failed before the SIGTERM one: leave no service or server behind.
        const children = descendants(launcher.pid);
        launcher.kill('SIGKILL');
        await launcher.exited;
        for (const pid of children)
          if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      for (const pid of processesWith(join(dataDir, 'nats')))
        process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });

    it(
      'runs its nats-servers and every service, which take commands',
      async () => {
        for (const server of servers)
          expect(launcher.stdout).toMatch(
            new RegExp(`^${server}\\s+nats://127\\.0\\.0\\.1:\\d+`, 'm'),
          );
        const env = childEnv({ CIM_DATA_DIR: dataDir });
        const run = await runNode([CLI, 'status'], env);
        expect(run.code).toBe(0);
        const status = JSON.parse(run.stdout) as StatusJson & {
          topology: string;
          services: ReadonlyArray<{ stream: { jetStreamDomain?: string } }>;
        };
        expect(status.topology).toBe(topology);
        expect(status.services.every((s) => s.up)).toBe(true);
        for (const service of status.services) {
          expect(service.stream.jetStreamDomain).toBe(
            topology === 'sharded' ? service.domain : undefined,
          );
        }
        const created = await runNode(
          [CLI, 'cmd', 'graph', 'CreateGraph', '{"name":"topology"}'],
          env,
        );
        expect(created.code).toBe(0);
        let last = '';
        const verified = await eventually(
          async () => {
            const r = await runNode([CLI, 'verify', 'graph'], env);
            last = `exit ${r.code}: ${r.stdout}${r.stderr}`;
            return r.code === 0 ? r : undefined;
          },
          () => `graph to verify clean; last: ${last}`,
          // A cluster that is still electing the leaders of the new streams under load answers slowly.
          2 * STEP_TIMEOUT_MS,
        );
        expect(verified.stdout).toMatch(/^clean$/m);
      },
      3 * STEP_TIMEOUT_MS,
    );

    it('restarts a nats-server that was killed, and the fleet carries on', async () => {
      const victim = servers[1]!;
      const [pid] = processesWith(join(dataDir, 'nats', `${victim}.conf`));
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      await launcher.waitFor(
        'stderr',
        new RegExp(`^${victim} stopped \\(signal SIGKILL\\); restarting`, 'm'),
        STEP_TIMEOUT_MS,
      );
      const env = childEnv({ CIM_DATA_DIR: dataDir });
      const created = await eventually(async () => {
        const r = await runNode(
          [CLI, 'cmd', 'graph', 'CreateGraph', '{"name":"after"}'],
          env,
        );
        return r.code === 0 ? r : undefined;
      }, 'a command after the restart');
      expect(JSON.parse(created.stdout)).toHaveProperty('version', '1');
      await eventually(
        () =>
          processesWith(join(dataDir, 'nats', `${victim}.conf`)).length === 1
            ? true
            : undefined,
        `${victim} running again`,
      );
    });

    it(
      'stops every server and service on SIGTERM',
      async () => {
        const all = descendants(launcher.pid);
        const natsServers = processesWith(join(dataDir, 'nats'));
        // Its nats-servers, every domain service, and the gateway.
        expect(natsServers.length).toBeGreaterThanOrEqual(servers.length);
        expect(all.length).toBeGreaterThan(natsServers.length + 1);
        launcher.kill('SIGTERM');
        expect(await launcher.exited).toBe(0);
        expect(all.filter(alive)).toEqual([]);
      },
      STEP_TIMEOUT_MS + 10_000,
    );
  });

  describe('on an external nats-server', () => {
    let server: NatsServerHandle;
    let dataDir: string;

    beforeAll(async () => {
      server = await startNatsServer();
      dataDir = await mkdtemp(join(tmpdir(), 'cim-npm-start-external-'));
    });

    afterAll(async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it(
      'says what strict durability needs of a server it did not start, and serves on it',
      async () => {
        const launcher = new Launcher(
          ['--data-dir', dataDir],
          childEnv({
            CIM_NATS_URL: server.url,
            CIM_GRPC_PORT: String(await freePort()),
            LOG_LEVEL: 'warn',
          }),
        );
        try {
          await launcher.waitFor('stdout', /^stop: Ctrl-C$/m, START_TIMEOUT_MS);
          expect(launcher.stdout).toMatch(/^nats\s+.*external server/m);
          expect(launcher.stderr).toContain(
            `using the nats-server at ${server.url} (CIM_NATS_URL), not started here: strict durability holds only if it runs with jetstream { sync_interval: always }`,
          );
          expect(readFileSync(join(dataDir, 'nats.url'), 'utf8')).toBe(
            `${server.url}\n`,
          );
        } finally {
          launcher.kill('SIGTERM');
          await launcher.exited;
        }
      },
      START_TIMEOUT_MS + STEP_TIMEOUT_MS,
    );
  });

  describe('when the options are wrong', () => {
    let dataDir: string;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'cim-npm-start-bad-'));
    });

    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    const launch = (
      args: readonly string[],
      env: Record<string, string> = {},
    ) =>
      runNode(
        [LAUNCHER, '--data-dir', dataDir, ...args],
        childEnv({ CIM_NATS_SERVER: natsBinary, ...env }),
      );

    it('exits 2 for an unknown topology, naming the ones available', async () => {
      const run = await launch(['--topology', 'bogus']);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        'npm start: --topology takes single, sharded, cluster, got "bogus"\n',
      );
    });

    it('exits 2 for a sharded or clustered topology on an external server', async () => {
      const run = await launch(['--topology', 'cluster'], {
        CIM_NATS_URL: 'nats://127.0.0.1:4222',
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        'npm start: --topology cluster starts its own nats-servers; unset CIM_NATS_URL (it names an external server)\n',
      );
    });

    it('exits 2 for an unknown durability, naming the accepted ones', async () => {
      const run = await launch([], { CIM_DURABILITY: 'sometimes' });
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        'npm start: CIM_DURABILITY must be strict or fast, got "sometimes"\n',
      );
    });

    it('exits 2 for a gRPC port that is not a port', async () => {
      const run = await launch([], { CIM_GRPC_PORT: 'grpc' });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^npm start: CIM_GRPC_PORT must be a port number/,
      );
    });

    it('exits 2 for an unknown argument, with the usage', async () => {
      const run = await launch(['--turbo']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('unknown argument "--turbo"');
      expect(run.stderr).toContain('usage: npm start');
    });

    it('exits 1 when the gRPC port is in use, naming it, before starting anything', async () => {
      const held = await holdPort(await freePort());
      try {
        const port = (held.address() as AddressInfo).port;
        const run = await launch([], { CIM_GRPC_PORT: String(port) });
        expect(run.code).toBe(1);
        expect(run.stderr).toBe(
          `npm start: port ${port} for the gRPC gateway is in use; set CIM_GRPC_PORT to a free port\n`,
        );
      } finally {
        held.close();
      }
    });

    it('starts nothing', () => {
      expect(existsSync(join(dataDir, 'nats.url'))).toBe(false);
      expect(existsSync(join(dataDir, 'nats'))).toBe(false);
    });
  });
});
