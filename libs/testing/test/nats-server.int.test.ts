import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  freePort,
  natsServerBinary,
  natsServerVersion,
  startNatsCluster,
  startNatsServer,
  versionAtLeast,
  type NatsServerHandle,
} from '../src/index.js';
import { retryOnPortClash } from '../src/nats-server.js';

const version = await natsServerVersion(natsServerBinary());
const itWithSyncInterval = versionAtLeast(version, '2.10.0') ? it : it.skip;

type Json = Record<string, unknown>;

/**
 * Just enough of the NATS client protocol for these tests (INFO, CONNECT, SUB, PUB, MSG, PING),
 * so the harness is checked without depending on a client library.
 */
class RawNatsClient {
  readonly info: Json;
  readonly #socket: Socket;
  readonly #replies = new Map<string, (payload: string) => void>();
  #buffer = '';
  #pong: (() => void) | undefined;
  #next = 0;

  private constructor(socket: Socket, info: Json) {
    this.#socket = socket;
    this.info = info;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk.toString('utf8')));
  }

  static async connect(url: string): Promise<RawNatsClient> {
    const { hostname, port } = new URL(url);
    const socket = createConnection({ host: hostname, port: Number(port) });
    const [first] = (await once(socket, 'data')) as [Buffer];
    const line = first.toString('utf8').split('\r\n')[0] ?? '';
    if (!line.startsWith('INFO '))
      throw new Error(`expected INFO, got ${line}`);
    const client = new RawNatsClient(
      socket,
      JSON.parse(line.slice('INFO '.length)) as Json,
    );
    socket.write(
      'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nSUB _INBOX.raw.* 1\r\n',
    );
    await client.ping();
    return client;
  }

  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.#pong = resolve;
      this.#socket.write('PING\r\n');
    });
  }

  request(subject: string, body: Json | string): Promise<Json> {
    const inbox = `_INBOX.raw.${(this.#next += 1)}`;
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply to ${subject}`)),
        5_000,
      );
      this.#replies.set(inbox, (reply) => {
        clearTimeout(timer);
        resolve(JSON.parse(reply) as Json);
      });
      this.#socket.write(
        `PUB ${subject} ${inbox} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`,
      );
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(text: string): void {
    this.#buffer += text;
    for (;;) {
      const end = this.#buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = this.#buffer.slice(0, end);
      if (line.startsWith('MSG ')) {
        const parts = line.split(' ');
        const size = Number(parts.at(-1));
        // Payloads here are ASCII JSON, so characters and bytes agree.
        if (this.#buffer.length < end + 2 + size + 2) return;
        const payload = this.#buffer.slice(end + 2, end + 2 + size);
        this.#buffer = this.#buffer.slice(end + 2 + size + 2);
        this.#replies.get(parts[1] ?? '')?.(payload);
        continue;
      }
      this.#buffer = this.#buffer.slice(end + 2);
      if (line === 'PING') this.#socket.write('PONG\r\n');
      else if (line === 'PONG') this.#pong?.();
    }
  }
}

async function withClient<T>(
  url: string,
  use: (client: RawNatsClient) => T | Promise<T>,
): Promise<T> {
  const client = await RawNatsClient.connect(url);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function createStream(
  client: RawNatsClient,
  name: string,
  replicas = 1,
): Promise<Json> {
  return client.request(`$JS.API.STREAM.CREATE.${name}`, {
    name,
    subjects: [`${name.toLowerCase()}.>`],
    storage: 'file',
    num_replicas: replicas,
  });
}

async function storedMessages(url: string, stream: string): Promise<unknown> {
  return withClient(url, async (client) => {
    const info = await client.request(`$JS.API.STREAM.INFO.${stream}`, '');
    return (info['state'] as Json | undefined)?.['messages'];
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('startNatsServer', () => {
  describe('when started with defaults', () => {
    let server: NatsServerHandle;

    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('listens on a server-chosen loopback port', () => {
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      expect(server.port).toBeGreaterThan(0);
    });

    it('announces JetStream to clients', async () => {
      await withClient(server.url, (client) => {
        expect(client.info['jetstream']).toBe(true);
        expect(client.info['version']).toBe(server.version);
      });
    });

    it('serves the monitoring endpoint', async () => {
      const response = await fetch(`${server.monitorUrl ?? ''}/healthz`);
      expect(response.status).toBe(200);
    });
  });

  describe('when restarted', () => {
    it('keeps its port and the messages JetStream acknowledged', async () => {
      await using server = await startNatsServer();
      const { port } = server;
      await withClient(server.url, async (client) => {
        await createStream(client, 'RESTART');
        const ack = await client.request('restart.a', 'one');
        expect(ack).toMatchObject({ stream: 'RESTART', seq: 1 });
      });
      const before = server.pid;

      await server.restart();

      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(before);
      expect(isRunning(before)).toBe(false);
      expect(await storedMessages(server.url, 'RESTART')).toBe(1);
    });
  });

  describe('when killed', () => {
    it('leaves no process behind and restarts from the same store', async () => {
      await using server = await startNatsServer();
      await withClient(server.url, async (client) => {
        await createStream(client, 'CRASH');
        await client.request('crash.a', 'one');
      });
      const { pid } = server;

      await server.kill();

      expect(isRunning(pid)).toBe(false);
      await server.restart();
      expect(await storedMessages(server.url, 'CRASH')).toBe(1);
    });
  });

  describe('when stopped', () => {
    let callerStore: string;

    beforeAll(async () => {
      callerStore = await mkdtemp(join(tmpdir(), 'cim-store-'));
    });
    afterAll(async () => {
      await rm(callerStore, { recursive: true, force: true });
    });

    it('removes its temporary directory and ends the process', async () => {
      const server = await startNatsServer();
      const { pid, storeDir } = server;

      await server.stop();

      expect(isRunning(pid)).toBe(false);
      expect(existsSync(dirname(storeDir))).toBe(false);
    });

    it('keeps a store directory the caller passed', async () => {
      const server = await startNatsServer({ storeDir: callerStore });
      await withClient(server.url, (client) => createStream(client, 'KEPT'));

      await server.stop();

      expect(await readdir(join(callerStore, 'jetstream'))).not.toHaveLength(0);
      await using again = await startNatsServer({ storeDir: callerStore });
      expect(await storedMessages(again.url, 'KEPT')).toBe(0);
    });
  });

  describe('when syncAlways is set', () => {
    itWithSyncInterval(
      `fsyncs every write (needs nats-server 2.10+, have ${version})`,
      async () => {
        await using server = await startNatsServer({ syncAlways: true });
        const response = await fetch(`${server.monitorUrl ?? ''}/jsz`);
        const jsz = (await response.json()) as Json;
        expect((jsz['config'] as Json | undefined)?.['sync_always']).toBe(true);
      },
    );
  });

  describe('when the binary does not exist', () => {
    it('rejects with the instruction to get one', async () => {
      await expect(
        startNatsServer({ binary: join(tmpdir(), 'no-such-nats-server') }),
      ).rejects.toThrow(/CIM_NATS_SERVER/);
    });
  });
});

describe('startNatsCluster', () => {
  describe('when three nodes start', () => {
    it('elects a meta leader and places a stream on three replicas', async () => {
      await using cluster = await startNatsCluster(3);
      expect(cluster.servers).toHaveLength(3);
      expect(cluster.url.split(',')).toEqual(cluster.urls);

      const created = await withClient(cluster.urls[0] ?? '', (client) =>
        createStream(client, 'REPLICATED', 3),
      );

      expect(created['error']).toBeUndefined();
      expect((created['config'] as Json | undefined)?.['num_replicas']).toBe(3);
    }, 60_000);
  });
});

describe('retryOnPortClash', () => {
  it('starts again when a port picked in advance was taken meanwhile, and not for other failures', async () => {
    // A port held open here stands for one another process took between picking and binding.
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as { port: number }).port;
    let starts = 0;
    try {
      const server = await retryOnPortClash(async () => {
        const port = ++starts === 1 ? taken : await freePort();
        return startNatsServer({
          config: `leafnodes {\n  listen: "127.0.0.1:${port}"\n}`,
        });
      });
      await server.stop();
      expect(starts).toBe(2);

      let other = 0;
      await expect(
        retryOnPortClash(() => {
          other += 1;
          return Promise.reject(new Error('bad configuration'));
        }),
      ).rejects.toThrow('bad configuration');
      expect(other).toBe(1);
    } finally {
      holder.close();
    }
  }, 60_000);
});
