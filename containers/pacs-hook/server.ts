/**
 * The PACS hook as a plain node:http server, streaming: request bodies flow part by part into the intake
 * bucket with backpressure, so a study of any size passes in constant memory. The same lib as the Lambda
 * (lib/pacs/hook.ts), on another transport; DICOMweb-only senders with studies above Lambda's 6 MB payload need it.
 * The container's entry is main.ts beside this file (its image: Dockerfile, its bundle: build.ts); tests and the
 * local stack start the server here with their own dependencies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerPacsRequest, pacsFailureResponse, type PacsHookDeps, type PacsResponse } from '#lib/pacs/hook.js';
import type { PacsServerTimeouts } from '#lib/pacs/config.js';

export interface PacsHookServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export const DEFAULT_SERVER_TIMEOUTS: PacsServerTimeouts = { headersMs: 20_000, requestMs: 3_600_000, idleMs: 60_000, keepAliveMs: 5_000 };

/**
 * Answers, and closes the connection after any refusal (4xx/5xx) or whenever the request body was not read to
 * its end: Node then destroys the socket once the answer is written, so the unread body is never read (no
 * draining an unauthenticated upload, no next request on the connection stalled behind it).
 */
function send(request: IncomingMessage, response: ServerResponse, answer: PacsResponse): void {
  if (response.headersSent || request.socket.destroyed) return;
  const close = answer.status >= 400 || !request.complete;
  response.writeHead(answer.status, {
    ...answer.headers,
    'content-length': Buffer.byteLength(answer.body),
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(answer.body);
}

export async function startPacsHookServer(
  deps: PacsHookDeps,
  options: { port?: number; host?: string; timeouts?: Partial<PacsServerTimeouts> } = {},
): Promise<PacsHookServer> {
  const timeouts = { ...DEFAULT_SERVER_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // how often Node checks the two timeouts above (its default, 30 s, would stretch short ones)
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
    },
    (request, response) => {
      const abort = new AbortController();
      request.on('close', () => {
        if (!request.complete) abort.abort(new Error('client went away'));
      });
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      const path = new URL(request.url ?? '/', 'http://hook').pathname;
      answerPacsRequest(
        { method: request.method ?? 'GET', path, headers, body: request, sourceIp: request.socket.remoteAddress },
        deps,
        abort.signal,
      )
        .then((answer) => send(request, response, answer))
        .catch((error: unknown) => send(request, response, pacsFailureResponse(error, deps.log)));
    },
  );
  // an idle socket (no bytes either way) is destroyed: a stalled body ends here, well before requestTimeout
  server.timeout = timeouts.idleMs;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
