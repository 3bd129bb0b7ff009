/**
 * status-api routing on API Gateway v2 (HTTP API) events. Every JSON route needs a bearer token and answers
 * only within the token's tenant: another tenant's ids answer 404, exactly like ids that do not exist.
 *
 *   GET /                 the status page (HTML; the token is typed into the page, never put in a URL)
 *   GET /jobs             the tenant's jobs, newest first: ?limit=1..100 (20) &cursor=<opaque>
 *   GET /jobs/{id}        one job with progress, errors and results links (TempURLs)
 *   GET /batches/{id}     one batch
 *   GET /videos/{id}      one video's stage, and its source name (the tenant's own upload; lib/source-names.ts)
 *   GET /videos?source=<key> | ?sop=<SOPInstanceUID>  the video of the latest object uploaded under that key (or
 *                         of that PACS instance), found through the intake's lookup row (lib/store/source-lookup.ts)
 *   GET /videos/{id}/analysis  the video's `<id>.json` (named features, per-frame rows, label block), as stored
 *   GET /pacs/refusals    the PACS hook's latest refusals for the tenant, newest first: ?limit=1..100 (20)
 * Errors: JSON `{error, message}`; 400 bad query (`foreign_cursor`: another tenant's cursor), 401 token, 404 unknown,
 * 405 method, 503 keys or table down.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { AuthError, bearerToken, type TokenVerifier } from '#lib/auth/jwt.js';
import { httpFailureOf, RequestRefused } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { InvalidCursor } from '#lib/store/page-cursor.js';
import type { JobStatusStore } from '#lib/store/status-store.js';
import type { RefusalLog } from '#lib/store/refusals.js';
import { isDicomUid } from '#lib/dicom/uid.js';
import { dicomKeyOf, sopInstanceUidOf } from '#lib/pacs/instance-key.js';
import type { SourceNameSealer } from '#lib/source-names.js';
import type { VideoRecord } from '#lib/store/records.js';
import { refusalText } from '#lib/pacs/refusal-reasons.js';
import { statusPage } from './page.js';
import { batchView, jobDetailView, jobSummaryView, videoView } from './views.js';
import { readAnalysis } from '#lib/status/results.js';

export interface ApiDeps {
  verifier: TokenVerifier;
  store: JobStatusStore;
  swift: SwiftStore;
  results: { tempUrlKey: string; ttlSecs: number; maxLinks: number };
  pageRefreshSecs: number;
  /** Opens the source names the intake sealed onto video rows (SOURCE_NAME_KEY); absent: `source` is null. */
  sourceNames?: SourceNameSealer;
  log: Logger;
  refusals?: RefusalLog;
  now?: () => number;
}

export class ApiError extends RequestRefused {}

const ID = /^[0-9a-f]{32}$/;
const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;
const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(body),
});

export async function routeRequest(
  event: APIGatewayProxyEventV2,
  deps: ApiDeps,
  signal?: AbortSignal,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '/';
    if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', 'only GET is supported', { allow: 'GET' });
    if (path === '/') return statusPage(deps.pageRefreshSecs);
    const route = matchRoute(path);
    if (!route) throw new ApiError(404, 'not_found', 'no such resource');
    const tenant = await authenticate(event, deps.verifier, route.name, deps.log);
    const query = queryOf(event, QUERY_PARAMETERS[route.name] ?? []);
    return await answer(route, query, tenant, deps, signal);
  } catch (error) {
    return errorResponse(error, deps.log);
  }
}

type Route = { name: 'jobs' } | { name: 'refusals' } | { name: 'lookup' } | { name: 'job' | 'batch' | 'video' | 'analysis'; id: string };

const QUERY_PARAMETERS: Partial<Record<Route['name'], string[]>> = {
  jobs: ['limit', 'cursor'],
  refusals: ['limit'],
  lookup: ['source', 'sop'],
};

function matchRoute(path: string): Route | undefined {
  if (path === '/jobs') return { name: 'jobs' };
  if (path === '/videos') return { name: 'lookup' };
  if (path === '/pacs/refusals') return { name: 'refusals' };
  const analysis = /^\/videos\/([^/]+)\/analysis$/.exec(path);
  if (analysis) {
    if (!ID.test(analysis[1])) throw new ApiError(404, 'not_found', 'no such resource');
    return { name: 'analysis', id: analysis[1] };
  }
  const m = /^\/(jobs|batches|videos)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  if (!ID.test(m[2])) throw new ApiError(404, 'not_found', 'no such resource');
  return { name: ({ jobs: 'job', batches: 'batch', videos: 'video' } as const)[m[1] as 'jobs' | 'batches' | 'videos'], id: m[2] };
}

/**
 * Each parameter at most once. Read from the raw query string when there is one: API Gateway joins a repeated
 * parameter's values with commas, and a source key may itself hold a comma.
 */
function queryOf(event: APIGatewayProxyEventV2, allowed: string[]): Record<string, string> {
  const pairs: Array<[string, string | undefined]> =
    event.rawQueryString !== undefined
      ? [...new URLSearchParams(event.rawQueryString)]
      : Object.entries(event.queryStringParameters ?? {}).map(([name, value]) => [name, value?.includes(',') ? undefined : value]);
  const params: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (!allowed.includes(name)) throw new ApiError(400, 'bad_request', `unknown query parameter`);
    if (value === undefined || name in params) throw new ApiError(400, 'bad_request', `query parameter ${name} must be given once`);
    params[name] = value;
  }
  return params;
}

/** Every refusal is logged with its reason code (the audit trail); never the token or its claims. */
async function authenticate(event: APIGatewayProxyEventV2, verifier: TokenVerifier, route: Route['name'], log: Logger): Promise<string> {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const token = bearerToken(header);
  try {
    if (!token)
      throw new AuthError(
        'missing_token',
        header ? 'the Authorization header must be "Bearer <token>"' : 'a bearer token is required',
        header ? 'not_bearer' : 'missing_token',
      );
    return (await verifier.verify(token)).tenant;
  } catch (error) {
    if (error instanceof AuthError && error.problem === 'keys_unavailable')
      log.error('token not verifiable: signing keys unavailable', { route, reason: error.reason });
    else if (error instanceof AuthError) log.warn('token refused', { route, problem: error.problem, reason: error.reason });
    throw error;
  }
}

async function answer(route: Route, query: Record<string, string>, tenant: string, deps: ApiDeps, signal?: AbortSignal) {
  if (route.name === 'jobs') {
    const limit = parseLimit(query.limit);
    const page = await jobsPage(deps.store, tenant, limit, query.cursor);
    return json(200, { jobs: page.batches.map(jobSummaryView), next_cursor: page.cursor ?? null });
  }
  if (route.name === 'refusals') {
    if (!deps.refusals) throw notFound('refusals');
    const refusals = await deps.refusals.recent(tenant, parseLimit(query.limit));
    return json(200, {
      refusals: refusals.map((r) => ({
        at: r.at,
        route: r.route,
        sop_instance_uid: r.sopInstanceUid ?? null,
        reason: r.reason,
        text: refusalText(r.reason),
        status: r.status,
      })),
    });
  }
  if (route.name === 'analysis') {
    const video = await deps.store.getVideo(route.id);
    const batch = video?.tenant === tenant && video.batchId ? await deps.store.getBatch(video.batchId) : undefined;
    const analysis = batch?.tenant === tenant ? await readAnalysis(deps.swift, batch.batchId, route.id, signal) : undefined;
    if (!analysis) throw notFound('analysis');
    return { statusCode: 200, headers: { ...JSON_HEADERS }, body: analysis.toString('utf8') };
  }
  if (route.name === 'video') return videoAnswer(route.id, tenant, deps, signal);
  if (route.name === 'lookup')
    return videoAnswer(await deps.store.videoIdOfSource(tenant, sourceKeyOf(query, tenant)), tenant, deps, signal);
  const batch = await deps.store.getBatch(route.id);
  if (!batch || batch.tenant !== tenant || (route.name === 'job' && !batch.jobId)) throw notFound(route.name);
  if (route.name === 'batch') return json(200, batchView(batch));
  const nowMs = (deps.now ?? Date.now)();
  return json(200, await jobDetailView(batch, { swift: deps.swift, ...deps.results, nowMs }, signal));
}

const notFound = (what: string) => new ApiError(404, 'not_found', `no such ${what}`);

async function videoAnswer(videoId: string | undefined, tenant: string, deps: ApiDeps, signal?: AbortSignal) {
  const video = videoId === undefined ? undefined : await deps.store.getVideo(videoId);
  if (!video || video.tenant !== tenant) throw notFound('video');
  const batch = video.batchId ? await deps.store.getBatch(video.batchId) : undefined;
  return json(200, await videoView(video, batch?.tenant === tenant ? batch : undefined, deps.swift, signal, sourceOf(video, deps)));
}

/**
 * What the tenant uploaded as this video (the caller owns it: checked before): the object key, or a PACS
 * instance's SOPInstanceUID. Null without a sealed name, or when it does not open under the key configured.
 */
function sourceOf(video: VideoRecord, deps: ApiDeps): string | null {
  if (!video.sourceName || !deps.sourceNames) return null;
  const key = deps.sourceNames.open(video.sourceName, { tenant: video.tenant, videoId: video.videoId });
  if (key === undefined) {
    deps.log.warn('source name does not open', { videoId: video.videoId });
    return null;
  }
  return sopInstanceUidOf(video.tenant, key) ?? key;
}

/** S3 caps a key at 1024 bytes of UTF-8. */
const MAX_SOURCE_KEY_BYTES = 1024;

/**
 * The intake key a lookup names: `source` as uploaded (`<tenant>/<name>`), or the key the PACS hook gives the
 * instance `sop`. A key under another tenant's prefix is looked up like any other, within the caller's tenant,
 * so it answers 404 exactly as an unknown one.
 */
function sourceKeyOf(query: Record<string, string>, tenant: string): string {
  const { source, sop } = query;
  if ((source === undefined) === (sop === undefined)) throw new ApiError(400, 'bad_request', 'give exactly one of source or sop');
  if (sop !== undefined) {
    if (!isDicomUid(sop)) throw new ApiError(400, 'bad_request', 'sop must be a DICOM UID');
    return dicomKeyOf(tenant, sop);
  }
  if (source.length === 0 || Buffer.byteLength(source, 'utf8') > MAX_SOURCE_KEY_BYTES)
    throw new ApiError(400, 'bad_request', `source must be an object key of 1 to ${MAX_SOURCE_KEY_BYTES} bytes`);
  return source;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE;
  if (!/^[1-9][0-9]{0,2}$/.test(text) || Number(text) > MAX_PAGE)
    throw new ApiError(400, 'bad_request', `limit must be an integer from 1 to ${MAX_PAGE}`);
  return Number(text);
}

/** Jobs only (batches with a job id), newest first; keeps querying until `limit` are found or the index ends. */
async function jobsPage(store: JobStatusStore, tenant: string, limit: number, cursor?: string) {
  const batches = [];
  let next = cursor;
  for (let round = 0; round < 10; round++) {
    const page = await tenantBatches(store, tenant, limit - batches.length, next);
    batches.push(...page.batches.filter((b) => b.jobId));
    next = page.cursor;
    if (!next || batches.length >= limit) break;
  }
  return { batches, cursor: next };
}

async function tenantBatches(store: JobStatusStore, tenant: string, limit: number, cursor?: string) {
  try {
    return await store.tenantBatches(tenant, limit, cursor);
  } catch (error) {
    if (error instanceof InvalidCursor)
      throw new ApiError(400, error.reason === 'foreign_cursor' ? 'foreign_cursor' : 'bad_request', error.message);
    throw error;
  }
}

/** The dependencies could not be built: an outage (SSM, say) answers 503; a misconfiguration 500, logged as an error. */
export function startupFailureResponse(error: unknown, log: Logger): APIGatewayProxyStructuredResultV2 {
  const failure = httpFailureOf(error);
  if (failure.kind === 'unavailable') {
    log.warn('status-api cannot start yet', errorFields(error));
    return json(503, { error: 'unavailable', message: 'the service is starting; retry shortly' }, failure.headers);
  }
  log.error('status-api is misconfigured', errorFields(error));
  return json(500, { error: 'internal', message: 'the service is misconfigured' });
}

function errorResponse(error: unknown, log: Logger): APIGatewayProxyStructuredResultV2 {
  if (error instanceof AuthError) {
    if (error.problem === 'keys_unavailable')
      return json(503, { error: 'unavailable', message: 'the token cannot be verified right now' }, { 'retry-after': '5' });
    const challenge = error.problem === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token"`;
    return json(401, { error: 'unauthorized', message: error.message }, { 'www-authenticate': challenge });
  }
  const failure = httpFailureOf(error);
  if (failure.kind === 'refused') return json(failure.status, { error: failure.code, message: failure.message }, failure.headers);
  if (failure.kind === 'unavailable') {
    log.warn('status-api dependency unavailable', errorFields(error));
    return json(503, { error: 'unavailable', message: 'a backing service is unavailable; retry shortly' }, failure.headers);
  }
  log.error('status-api failure', errorFields(error));
  return json(500, { error: 'internal', message: 'internal error' });
}
