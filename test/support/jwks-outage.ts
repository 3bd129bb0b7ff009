/**
 * A JWKS endpoint that fails the ways real ones do: error statuses, an HTML error page, a malformed key set, a
 * redirect, a reset connection, or no answer at all. Switch the failure with `fail(mode)`; `refusedUrl` points
 * at a port nothing listens on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type JwksFailure =
  | 'status-500'
  | 'status-503'
  | 'status-429'
  | 'status-404'
  | 'html'
  | 'keys-not-a-list'
  | 'redirect'
  | 'reset'
  | 'silent';

export interface FailingJwks {
  url: string;
  refusedUrl: string;
  fail(mode: JwksFailure): void;
  close(): Promise<void>;
}

export async function startFailingJwks(): Promise<FailingJwks> {
  let mode: JwksFailure = 'status-500';
  const server: Server = createServer((req, res) => {
    if (mode.startsWith('status-')) {
      res.writeHead(Number(mode.slice(7)), { 'content-type': 'application/json' });
      res.end('{"error":"unavailable"}');
    } else if (mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Bad gateway</body></html>');
    } else if (mode === 'keys-not-a-list') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"keys":"x"}');
    } else if (mode === 'redirect') {
      res.writeHead(302, { location: 'https://login.example.invalid/jwks.json' });
      res.end();
    } else if (mode === 'reset') {
      req.socket.destroy();
    }
    // 'silent': never answers
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  const refusedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    refusedUrl: `http://127.0.0.1:${refusedPort}/.well-known/jwks.json`,
    fail: (next) => {
      mode = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
