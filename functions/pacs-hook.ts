/** HTTP API (v2): PACS exports — STOW-RS, raw instances (Orthanc peers, Lua), presigned uploads — into the intake bucket. */
import { Readable } from 'node:stream';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { pacsHookConfig } from '../lib/pacs/config.js';
import { buildOnce } from '../lib/once.js';
import { answerPacsRequest } from '../lib/pacs/hook.js';
import { buildPacsHookDeps } from '../lib/pacs/wiring.js';
import { errorFields } from '../lib/log.js';
import { RetryableError } from '../lib/errors.js';

const pacsHookDeps = buildOnce(() => buildPacsHookDeps(pacsHookConfig()));

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>().handler(async (event, _context, { signal }) => {
  const hook = await pacsHookDeps();
  const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(body.length);
  try {
    const answer = await answerPacsRequest(
      { method: event.requestContext.http.method, path: event.rawPath, headers, body: Readable.from([body]) },
      hook,
      signal,
    );
    return { statusCode: answer.status, headers: answer.headers, body: answer.body };
  } catch (error) {
    hook.log.error('pacs hook failed', errorFields(error));
    const status = error instanceof RetryableError ? 503 : 500;
    return { statusCode: status, headers: { 'content-type': 'application/json', 'retry-after': '5' }, body: JSON.stringify({ HttpStatus: status, Reason: 'unavailable', Message: 'try again later' }) };
  }
});
