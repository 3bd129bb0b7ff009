/** HTTP API (v2): PACS exports — STOW-RS, raw instances (Orthanc peers, Lua), presigned uploads — into the intake bucket. */
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '#lib/log.js';
import { meteredPacsDeps } from '#lib/middleware/function-metrics.js';
import { httpFunction } from '#lib/middleware/http-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';
import { pacsHookConfig } from '#lib/pacs/config.js';
import { answerPacsRequest, pacsFailureResponse, type PacsRequest, type PacsResponse } from '#lib/pacs/hook.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';

const tools = functionTools('pacs-hook');
const pacsHookDeps = buildOnce(async () =>
  meteredPacsDeps(await buildPacsHookDeps(pacsHookConfig(), { log: tools.log }), tools.metricSink),
);

function pacsRequestOf(event: APIGatewayProxyEventV2): PacsRequest {
  const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(body.length);
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers,
    body: Readable.from([body]),
    sourceIp: event.requestContext.http.sourceIp,
  };
}

const resultOf = (answer: PacsResponse): APIGatewayProxyStructuredResultV2 => ({
  statusCode: answer.status,
  headers: answer.headers,
  body: answer.body,
});

export const handler = httpFunction(
  tools,
  (error: unknown, log: Logger) => resultOf(pacsFailureResponse(error, log)),
  async (event, _context, { signal }) => resultOf(await answerPacsRequest(pacsRequestOf(event), await pacsHookDeps(), signal)),
);
