import { Server, ServerCredentials } from '@grpc/grpc-js';

/** A grpc-js server on a loopback port the OS picks. */
export interface TestServer {
  readonly server: Server;
  readonly address: string;
  stop(): Promise<void>;
}

export async function startServer(
  register: (server: Server) => void,
): Promise<TestServer> {
  const server = new Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      ServerCredentials.createInsecure(),
      (error, bound) => (error === null ? resolve(bound) : reject(error)),
    ),
  );
  return {
    server,
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        // Streams a test left open must not hold the suite: give up on them quickly.
        const force = setTimeout(() => server.forceShutdown(), 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** The error a failed call rejects with, for assertions on `code`, `details` and trailers. */
export async function failureOf(call: Promise<unknown>): Promise<{
  code: number;
  details: string;
  metadata: { get(key: string): unknown[] };
}> {
  try {
    await call;
  } catch (error) {
    return error as {
      code: number;
      details: string;
      metadata: { get(key: string): unknown[] };
    };
  }
  throw new Error('the call succeeded');
}
