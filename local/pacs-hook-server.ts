/**
 * The PACS hook as a plain node:http server, streaming: request bodies flow part by part into the intake
 * bucket with backpressure, so a study of any size passes in constant memory. The same lib as the Lambda
 * (lib/pacs/hook.ts); this is also the entry for running the hook as a container (see the README, "PACS export hooks"),
 * which DICOMweb-only senders with studies above Lambda's 6 MB payload need.
 * Emulates nothing; it is the real handler on another transport.
 *
 *   node --import tsx local/pacs-hook-server.ts    (configuration from the environment, PORT default 8099)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { answerPacsRequest, type PacsHookDeps } from '../lib/pacs/hook.js';
import { errorFields } from '../lib/log.js';
import { RetryableError } from '../lib/errors.js';

export interface PacsHookServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startPacsHookServer(deps: PacsHookDeps, options: { port?: number; host?: string } = {}): Promise<PacsHookServer> {
  const server = createServer((request, response) => {
    const abort = new AbortController();
    request.on('aborted', () => abort.abort(new Error('client went away')));
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const path = new URL(request.url ?? '/', 'http://hook').pathname;
    answerPacsRequest({ method: request.method ?? 'GET', path, headers, body: request }, deps, abort.signal)
      .then((answer) => {
        response.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
        response.end(answer.body);
      })
      .catch((error: unknown) => {
        deps.log.error('pacs hook failed', errorFields(error));
        const status = error instanceof RetryableError ? 503 : 500;
        if (!response.headersSent) response.writeHead(status, { 'content-type': 'application/json', 'retry-after': '5', connection: 'close' });
        response.end(JSON.stringify({ HttpStatus: status, Reason: 'unavailable', Message: 'try again later' }));
      });
  });
  server.requestTimeout = 0;
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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { pacsHookConfig } = await import('../lib/pacs/config.js');
  const { buildPacsHookDeps } = await import('../lib/pacs/wiring.js');
  const hook = await startPacsHookServer(await buildPacsHookDeps(pacsHookConfig()), { port: Number(process.env.PORT ?? 8099), host: process.env.HOST ?? '0.0.0.0' });
  process.stdout.write(JSON.stringify({ message: 'pacs hook listening', url: hook.url }) + '\n');
}
