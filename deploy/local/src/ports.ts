import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports by listener name, kept across runs of the fleet. */
export interface RecordedPorts {
  /** The listener's port of the last run while it is free, else a free one; never one already taken in this run. */
  take(listener: string): Promise<number>;
  /**
   * A new port for a listener whose port another process took meanwhile
   * (its own process could not bind it and stopped): the same port while it
   * is free again, else a free one. Call `save` after it.
   */
  retake(listener: string): Promise<number>;
  /** Writes every port taken so far to the file. */
  save(): void;
}

/**
 * Ports by listener name, recorded in a file: a port from an earlier run is
 * reused while it is free, so clients, leaf nodes and a metrics scraper find a
 * restarted fleet where it was.
 */
export function recordedPorts(file: string): RecordedPorts {
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(readFileSync(file, 'utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    previous = {};
  }
  const taken = new Map<string, number>();
  const inUse = (port: number, except: string) =>
    [...taken].some(([name, p]) => p === port && name !== except);
  const pick = async (listener: string, wanted: unknown): Promise<number> => {
    let port =
      typeof wanted === 'number' &&
      Number.isInteger(wanted) &&
      !inUse(wanted, listener) &&
      (await isFree(wanted))
        ? wanted
        : await freePort();
    // The kernel may hand out a port again once it was closed: never give two listeners one port.
    while (inUse(port, listener)) port = await freePort();
    taken.set(listener, port);
    return port;
  };
  return {
    take: (listener) => pick(listener, previous[listener]),
    retake: (listener) => pick(listener, taken.get(listener)),
    save: () =>
      writeFileSync(
        file,
        `${JSON.stringify(Object.fromEntries(taken), null, 2)}\n`,
      ),
  };
}

/** A port nothing listens on now, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      server.close(() =>
        resolve(
          typeof address === 'object' && address !== null ? address.port : 0,
        ),
      );
    });
  });
}

/**
 * Listens on `port` on every interface until the returned release is
 * called, so that nothing else takes it meanwhile; undefined when the port
 * is in use.
 */
export function reserve(
  port: number,
): Promise<(() => Promise<void>) | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, () =>
      resolve(() => new Promise((closed) => server.close(() => closed()))),
    );
  });
}

/**
 * Whether nothing listens on `port`, on any interface: tried on the wildcard
 * address, which clashes with a listener on 127.0.0.1 as well as with one on
 * 0.0.0.0, where the services bind.
 */
export async function isFree(port: number): Promise<boolean> {
  const release = await reserve(port);
  await release?.();
  return release !== undefined;
}
