/** HTTP API (v2): PACS exports — STOW-RS, raw instances (Orthanc peers, Lua), presigned uploads — into the intake bucket. */
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ConfigError, RetryableError } from '#lib/errors.js';
import { meteredPacsDeps } from '#lib/middleware/function-metrics.js';
import { errorFields, type Logger } from '#lib/log.js';
import { httpFunction } from '#lib/middleware/http-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';
import { pacsHookConfig } from '#lib/pacs/config.js';
import { answerPacsRequest, type PacsRequest } from '#lib/pacs/hook.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';

const tools = functionTools('pacs-hook');
const pacsHookDeps = buildOnce(async () => meteredPacsDeps(await buildPacsHookDeps(pacsHookConfig(), { log: tools.log }), tools.metricSink));

function pacsRequestOf(event: APIGatewayProxyEventV2): PacsRequest {
  const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(body.length);
  return { method: event.requestContext.http.method, path: event.rawPath, headers, body: Readable.from([body]), sourceIp: event.requestContext.http.sourceIp };
}

/** An outage answers 503 (the PACS retries); a misconfiguration or a fault 500. Both in the hook's error shape. */
function failureResponse(error: unknown, log: Logger) {
  const status = error instanceof RetryableError ? 503 : 500;
  log.error(error instanceof ConfigError ? 'misconfigured' : 'pacs hook failed', errorFields(error));
  const body = { HttpStatus: status, Reason: 'unavailable', Message: 'try again later' };
  return { statusCode: status, headers: { 'content-type': 'application/json', 'retry-after': '5' }, body: JSON.stringify(body) };
}

export const handler = httpFunction(tools, failureResponse, async (event, _context, { signal }) => {
  const answer = await answerPacsRequest(pacsRequestOf(event), await pacsHookDeps(), signal);
  return { statusCode: answer.status, headers: answer.headers, body: answer.body };
});
