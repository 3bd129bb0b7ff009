/**
 * HTTP API (API Gateway v2): the job status API and the status page (lib/status/api/router.ts).
 * Every answer is a response: errors map to `{error, message}` with their status in one place (the router).
 */
import middy from '@middy/core';
import { buildOnce } from '../lib/once.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { apiConfig } from '../lib/status/config.js';
import { buildApiDeps } from '../lib/status/wiring.js';
import { routeRequest, startupFailureResponse, type ApiDeps } from '../lib/status/api/router.js';
import { createLogger } from '../lib/log.js';

const apiDeps = buildOnce(() => buildApiDeps(apiConfig()));
const startupLog = createLogger({ function: 'status-api' });

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>().handler(async (event, _context, { signal }) => {
  let ready: ApiDeps;
  try {
    ready = await apiDeps();
  } catch (error) {
    return startupFailureResponse(error, startupLog);
  }
  return routeRequest(event, ready, signal);
});
