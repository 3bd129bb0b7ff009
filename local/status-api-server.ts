/**
 * A tiny node:http adapter that serves an API Gateway v2 (HTTP API, payload 2.0) handler locally: each request
 * becomes an `APIGatewayProxyEventV2` (rawPath, rawQueryString, lower-cased headers, queryStringParameters with
 * repeated names joined by commas, as API Gateway does) and is passed to the real handler with a full Context.
 * Emulates: the event shape and the response mapping. Does not emulate: route matching (the handler routes on
 * rawPath itself, like a `$default` route), authorizers, throttling, binary bodies.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './lambda-local.js';

export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalHttpApi {
  url: string;
  close(): Promise<void>;
}

export function toHttpApiEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQueryString = q < 0 ? '' : target.slice(q + 1);
  const params: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) params[name] = name in params ? `${params[name]},${value}` : value;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    queryStringParameters: rawQueryString ? params : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body || undefined,
    isBase64Encoded: false,
  };
}

export async function startLocalHttpApi(
  handler: HttpHandler,
  options: { port?: number; functionName?: string } = {},
): Promise<LocalHttpApi> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handler(toHttpApiEvent(req, Buffer.concat(chunks).toString('utf8')), lambdaContext(options.functionName ?? 'status-api', 30_000))
        .then((result) => {
          res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
          res.end(result.body ?? '');
        })
        .catch(() => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Internal Server Error' }));
        });
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
