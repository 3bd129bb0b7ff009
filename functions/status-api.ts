/**
 * HTTP API (API Gateway v2): the job status API and the status page (lib/status/api/router.ts).
 * Every answer is a response: the router maps errors to `{error, message}`; a failed start-up (outage 503,
 * misconfiguration 500, logged every time) is answered by `startupFailureResponse` through the HTTP middleware.
 */
import { httpFunction } from '#lib/middleware/http-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';
import { routeRequest, startupFailureResponse } from '#lib/status/api/router.js';
import { apiConfig } from '#lib/status/config.js';
import { buildApiDeps } from '#lib/status/wiring.js';

const tools = functionTools('status-api');
const apiDeps = buildOnce(() => buildApiDeps(apiConfig(), { log: tools.log }));

export const handler = httpFunction(tools, startupFailureResponse, async (event, _context, { signal }) =>
  routeRequest(event, await apiDeps(), signal),
);
