import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { freePort, isFree, recordedPorts, reserve } from '../src/ports.js';

/** A listener on `port` and `host` (every interface when undefined), closed by the test. */
function listen(port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    const ready = () => resolve(server);
    if (host === undefined) server.listen(port, ready);
    else server.listen(port, host, ready);
  });
}

const close = (server: Server) =>
  new Promise<void>((resolve) => server.close(() => resolve()));

describe('isFree', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['every interface', undefined],
  ])('is false while something listens on %s', async (_, host) => {
    const port = await freePort();
    const server = await listen(port, host);
    try {
      expect(await isFree(port)).toBe(false);
    } finally {
      await close(server);
    }
    expect(await isFree(port)).toBe(true);
  });
});

describe('reserve', () => {
  it('holds a port until released', async () => {
    const port = await freePort();
    const release = await reserve(port);
    expect(release).toBeDefined();
    expect(await isFree(port)).toBe(false);
    expect(await reserve(port)).toBeUndefined();
    await release!();
    expect(await isFree(port)).toBe(true);
  });
});

describe('recordedPorts', () => {
  let dir: string;
  let file: string;
  const held: Server[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cim-ports-'));
    file = join(dir, 'ports.json');
  });

  afterEach(async () => {
    await Promise.all(held.splice(0).map(close));
    await rm(dir, { recursive: true, force: true });
  });

  const saved = async () =>
    JSON.parse(await readFile(file, 'utf8')) as Record<string, number>;

  it('takes free ports and writes them by listener name', async () => {
    const ports = recordedPorts(file);
    const nats = await ports.take('nats');
    const http = await ports.take('http:graph');
    ports.save();
    expect(nats).not.toBe(http);
    expect(await saved()).toEqual({ nats, 'http:graph': http });
  });

  it('reuses the ports of the last run while they are free', async () => {
    const first = recordedPorts(file);
    const nats = await first.take('nats');
    const http = await first.take('http:graph');
    first.save();
    const second = recordedPorts(file);
    expect(await second.take('nats')).toBe(nats);
    expect(await second.take('http:graph')).toBe(http);
  });

  it('moves a listener whose recorded port another process holds', async () => {
    const first = recordedPorts(file);
    const port = await first.take('http:graph');
    first.save();
    held.push(await listen(port));
    const second = recordedPorts(file);
    const moved = await second.take('http:graph');
    expect(moved).not.toBe(port);
    expect(await isFree(moved)).toBe(true);
  });

  it('never hands one port to two listeners, even when the file names it twice', async () => {
    const port = await freePort();
    await writeFile(file, JSON.stringify({ a: port, b: port }));
    const ports = recordedPorts(file);
    expect(await ports.take('a')).toBe(port);
    expect(await ports.take('b')).not.toBe(port);
  });

  it('starts afresh from a file that is missing or unreadable', async () => {
    await writeFile(file, '{ not json');
    const port = await recordedPorts(file).take('nats');
    expect(await isFree(port)).toBe(true);
  });

  describe('retake', () => {
    it('keeps a listener on its port while the port is free again', async () => {
      const ports = recordedPorts(file);
      const port = await ports.take('http:graph');
      expect(await ports.retake('http:graph')).toBe(port);
    });

    it('moves a listener whose port was taken meanwhile, and saves the move', async () => {
      const ports = recordedPorts(file);
      const port = await ports.take('http:graph');
      const other = await ports.take('nats');
      held.push(await listen(port));
      const moved = await ports.retake('http:graph');
      ports.save();
      expect([port, other]).not.toContain(moved);
      expect(await saved()).toEqual({ 'http:graph': moved, nats: other });
    });
  });
});
