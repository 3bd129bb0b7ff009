/**
 * A real HTTP proxy (a TCP listener on 127.0.0.1) in front of a real service, usually Swift All-In-One, that can
 * inject faults: answer a status (503, 429, 500 ...) instead of forwarding, reset the connection, or hang.
 * It forwards everything else unchanged, including the Host header, so TempAuth hands out storage URLs that point
 * back at the proxy. Reuse it wherever a test needs Swift to fail on cue:
 *
 *   const proxy = await startFaultyProxy(services.swift.proxyUrl);
 *   proxy.failNext(1, { status: 503, match: (r) => r.method === 'PUT' });
 *   ... new TempAuth({ authUrl: `${proxy.url}/auth/v1.0`, ... }) ...
 *   expect(proxy.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([503, 201]);
 *   await proxy.close();
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path and query as received (still percent-encoded). */
  path: string;
  /** The status answered to the client (0: connection reset or hung). */
  status: number;
  /** True when the status was injected rather than answered by the target. */
  injected: boolean;
}

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'reset' }
  | { kind: 'hang' };

export interface FailOptions {
  /** Default 503. */
  status?: number;
  /** Default 'status'. */
  kind?: Fault['kind'];
  headers?: Record<string, string>;
  /** Which requests count; default all (auth requests included, so usually match a method or path). */
  match?: (request: { method: string; path: string }) => boolean;
}

export interface FaultyProxy {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly port: number;
  /** Every request seen, in order. */
  readonly requests: SeenRequest[];
  /** Injects a fault into the next `count` matching requests. Rules queue up in call order. */
  failNext(count: number, options?: FailOptions): void;
  /** Drops pending fault rules and the request log. */
  reset(): void;
  close(): Promise<void>;
}

interface Rule {
  remaining: number;
  fault: Fault;
  match: (request: { method: string; path: string }) => boolean;
}

export async function startFaultyProxy(targetUrl: string): Promise<FaultyProxy> {
  const target = new URL(targetUrl);
  const requests: SeenRequest[] = [];
  let rules: Rule[] = [];
  const sockets = new Set<Socket>();

  const takeFault = (method: string, path: string): Fault | null => {
    for (const rule of rules) {
      if (rule.remaining > 0 && rule.match({ method, path })) {
        rule.remaining--;
        return rule.fault;
      }
    }
    return null;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const seen: SeenRequest = { method, path, status: 0, injected: false };
    requests.push(seen);
    const fault = takeFault(method, path);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      req.resume(); // read and ignore, never answer
      return;
    }
    if (fault?.kind === 'status') {
      seen.status = fault.status;
      seen.injected = true;
      req.resume();
      req.on('end', () => {
        const body = fault.body ?? `<html><h1>injected ${fault.status}</h1></html>`;
        res.writeHead(fault.status, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body), ...fault.headers });
        res.end(body);
      });
      return;
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers: req.headers,
      },
      (up) => {
        seen.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        seen.status = 502;
        res.writeHead(502).end('upstream error');
      } else {
        res.destroy();
      }
    });
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    failNext(count, options = {}) {
      const kind = options.kind ?? 'status';
      const fault: Fault = kind === 'status' ? { kind, status: options.status ?? 503, headers: options.headers } : { kind };
      rules.push({ remaining: count, fault, match: options.match ?? (() => true) });
    },
    reset() {
      rules = [];
      requests.length = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
