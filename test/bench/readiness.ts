import { createServer } from 'node:http';

/**
 * What every benchmark child process serves: `/readyz` on 127.0.0.1:`port`
 * (startChild waits for it), and on SIGTERM `close` and then exit.
 */
export function serveReadiness(
  port: number,
  close: () => void | Promise<void>,
): void {
  const http = createServer((req, res) => {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
  });
  http.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => {
    http.closeAllConnections();
    http.close(() => {
      void Promise.resolve(close()).finally(() => process.exit(0));
    });
  });
}
