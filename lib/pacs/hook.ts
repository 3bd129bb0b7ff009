/**
 * The PACS export hook, transport-neutral: the Lambda adapter (functions/pacs-hook.ts) and the streaming
 * local server (containers/pacs-hook/server.ts) both turn their request into a PacsRequest and call answerPacsRequest.
 *
 * Routes (POST):
 *   …/dicomweb/studies[/{study}]  STOW-RS, multipart/related; parts streamed one by one to the intake bucket
 *   …/instances                   one raw DICOM body (Orthanc peers, Lua HttpPost); Content-Type ignored
 *   …/uploads                     {studyUid, sopUid, size, sha256 | md5} → a presigned PUT (or multipart) ticket
 * Every route authenticates first (the tenant comes from the credential) and reads no body before that.
 * Errors map to statuses here and only here: a refusal answers as it carries itself; what escapes a route is
 * `pacsFailureResponse`, which both transports send.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ConfigError, httpFailureOf, RejectedInput, type RequestRefused } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import { DicomProbe } from '#lib/dicom/probe.js';
import { isDicomUid } from '#lib/dicom/uid.js';
import type { RefusalLog } from '#lib/store/refusals.js';
import { Unauthorized, type Authenticator, type Principal } from './auth.js';
import type { LoginThrottle } from './login-throttle.js';
import { MultipartError, MultipartReader, parseMultipartRelated } from './multipart.js';
import { dicomKeyOf, type DicomObjects, type UploadPresigner } from './objects.js';
import { failureReasonOf, stowResponseBody, stowStatus, type FailedInstance, type StoredInstance } from './stow-response.js';

export interface PacsRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string | undefined>;
  body: Readable;
  /** The client's address (socket or API Gateway sourceIp), for the failed-login throttle. */
  sourceIp?: string;
}

export interface PacsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface PacsLimits {
  /** Cap on one DICOM instance (a STOW part or a raw body). */
  maxInstanceBytes: number;
  /** Cap on a whole request's declared Content-Length (6 MB of base64 on Lambda; larger on the streaming server). */
  maxRequestBytes: number;
  /** Cap on a presigned upload's declared size. */
  maxUploadBytes: number;
  /** Cap on the parts (instances) of one STOW-RS request; default DEFAULT_MAX_STOW_PARTS. */
  maxStowParts?: number;
}

export interface PacsHookDeps {
  auth: Authenticator;
  objects: DicomObjects;
  presigner: UploadPresigner;
  limits: PacsLimits;
  /** Base of the RetrieveURLs in STOW answers, e.g. https://pacs-hook.example.org/dicomweb. */
  retrieveBase: string;
  log: Logger;
  loginThrottle?: LoginThrottle;
  /** Where refusals are recorded for the hospital to read (status API, GET /pacs/refusals). */
  refusals?: RefusalLog;
}

const json = (status: number, body: unknown, contentType = 'application/json'): PacsResponse => ({
  status,
  headers: { 'content-type': contentType },
  body: JSON.stringify(body),
});

const problem = (status: number, code: string, message: string, extra: Record<string, string> = {}): PacsResponse => {
  const response = json(status, { HttpStatus: status, Reason: code, Message: message });
  Object.assign(response.headers, extra);
  return response;
};

const refusal = (error: RequestRefused): PacsResponse => problem(error.status, error.code, error.message, error.headers);

/** What escaped a route, logged: an outage answers 503 (the PACS retries), a misconfiguration or a fault 500; both say to retry. */
export function pacsFailureResponse(error: unknown, log: Logger): PacsResponse {
  const failure = httpFailureOf(error);
  if (failure.kind === 'refused') return refusal(error as RequestRefused);
  log.error(error instanceof ConfigError ? 'misconfigured' : 'pacs hook failed', errorFields(error));
  return problem(failure.status, 'unavailable', 'try again later', { 'retry-after': '5' });
}

export type Route = 'stow' | 'instances' | 'uploads';

/** The route, and for STOW-RS the study segment of `/studies/{study}` as sent (validated after authentication). */
export function routeOf(method: string, path: string): { route: Route; study?: string } | undefined {
  if (method !== 'POST') return undefined;
  const clean = path.replace(/\/+$/, '');
  const stow = /(?:^|\/)dicomweb\/studies(?:\/([^/]+))?$/i.exec(clean);
  if (stow) return { route: 'stow', study: stow[1] };
  if (/(^|\/)instances$/.test(clean)) return { route: 'instances' };
  if (/(^|\/)uploads$/.test(clean)) return { route: 'uploads' };
  return undefined;
}

const UPLOAD_REQUEST_CAP = 64 * 1024;
export const DEFAULT_MAX_STOW_PARTS = 1000;

export async function answerPacsRequest(request: PacsRequest, deps: PacsHookDeps, signal?: AbortSignal): Promise<PacsResponse> {
  const routed = routeOf(request.method.toUpperCase(), request.path);
  if (!routed) return problem(404, 'no_route', 'POST /dicomweb/studies, /instances or /uploads');
  const { route } = routed;
  const attempt = { source: request.sourceIp, authorization: request.headers.authorization };
  const blockedForSecs = deps.loginThrottle?.blockedForSecs(attempt);
  if (blockedForSecs !== undefined) {
    deps.log.warn('login throttled', { route });
    return problem(429, 'too_many_failures', 'too many failed logins from this source or for this user; try again later', {
      'retry-after': String(blockedForSecs),
    });
  }
  let principal: Principal;
  try {
    principal = await deps.auth.authenticate(request.headers.authorization);
  } catch (error) {
    if (error instanceof Unauthorized) {
      if (error.code !== 'missing_credentials') deps.loginThrottle?.recordFailure(attempt);
      deps.log.warn('unauthorized', { route, code: error.code });
      return refusal(error);
    }
    throw error;
  }
  const log = deps.log.child({ route, tenant: principal.tenant, auth: principal.method });
  const started = Date.now();
  const response = await answerAuthenticated(request, routed, principal, deps, log, signal);
  log.info('answered', {
    status: response.status,
    ms: Date.now() - started,
    transfer: request.headers['transfer-encoding'] ? 'chunked' : 'length',
  });
  return response;
}

async function answerAuthenticated(
  request: PacsRequest,
  { route, study }: { route: Route; study?: string },
  principal: Principal,
  deps: PacsHookDeps,
  log: Logger,
  signal?: AbortSignal,
): Promise<PacsResponse> {
  const refuse = refusalRecorder(route, principal.tenant, deps, log);
  if (study !== undefined && !isDicomUid(study)) {
    return refuse(
      problem(400, 'bad_study_uid', 'the study in the path is not a DICOM UID (PS3.5: digits and dots, at most 64 characters)'),
    );
  }
  const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
  if (route === 'uploads' && declared !== undefined && declared > UPLOAD_REQUEST_CAP) {
    log.warn('request too large', { declaredBytes: declared });
    return refuse(problem(413, 'too_large', uploadRequestTooLarge));
  }
  if (route !== 'uploads' && declared !== undefined && declared > deps.limits.maxRequestBytes) {
    log.warn('request too large', { declaredBytes: declared });
    return refuse(problem(413, 'too_large', `the request exceeds the ${deps.limits.maxRequestBytes}-byte cap; use POST /uploads`));
  }
  if (route === 'instances' && declared !== undefined && declared > deps.limits.maxInstanceBytes) {
    log.warn('instance too large', { declaredBytes: declared });
    return refuse(problem(413, 'too_large', `the instance exceeds the ${deps.limits.maxInstanceBytes}-byte cap; use POST /uploads`));
  }
  const exchange: Exchange = { request, principal, deps, log, refuse, signal };
  if (route === 'stow') return storeStudy(exchange, study);
  if (route === 'instances') return storeRawInstance(exchange, declared);
  return presignUpload(exchange);
}

/** One authenticated request and what answering it needs. */
interface Exchange {
  request: PacsRequest;
  principal: Principal;
  deps: PacsHookDeps;
  log: Logger;
  refuse: Refuse;
  signal?: AbortSignal;
}

const uploadRequestTooLarge = `the upload request body exceeds ${UPLOAD_REQUEST_CAP} bytes; it holds only {studyUid, sopUid, size, sha256 | md5}`;

/** Records each refused instance or request for the tenant (GET /pacs/refusals on the status API), then passes the answer on. */
type Refuse = (response: PacsResponse, instances?: { sopInstanceUid?: string; reason: string }[]) => Promise<PacsResponse>;

function refusalRecorder(route: Route, tenant: string, deps: PacsHookDeps, log: Logger): Refuse {
  return async (response, instances) => {
    const body = JSON.parse(response.body) as { Reason?: string; Message?: string };
    const refused = instances ?? [{ reason: body.Reason ?? `http_${response.status}` }];
    try {
      await deps.refusals?.record(
        tenant,
        refused.map((r) => ({ route, sopInstanceUid: r.sopInstanceUid, reason: r.reason, status: response.status })),
      );
    } catch (error) {
      log.error('refusal not recorded', { errorName: (error as Error)?.name });
    }
    return response;
  };
}

type InstanceOutcome = { ok: true; stored: StoredInstance } | { ok: false; failed: FailedInstance; reason: string };

/** Streams one instance through the DICOM probe into `<tenant>/dicom/<SOPInstanceUID>.dcm`. */
async function storeInstance(
  body: Readable,
  contentLength: number | undefined,
  tenant: string,
  deps: PacsHookDeps,
  options: { maxBytes: number; studyInstanceUid?: string },
  signal?: AbortSignal,
): Promise<InstanceOutcome> {
  const probe = new DicomProbe(options);
  probe.on('error', () => undefined); // observed through `identity` and the put
  body.on('error', (error) => probe.destroy(error));
  body.pipe(probe);
  let identity: Awaited<typeof probe.identity> | undefined;
  try {
    identity = await probe.identity;
    await deps.objects.put(dicomKeyOf(tenant, identity.sopInstanceUid), probe, contentLength, signal);
    const summary = probe.summary!;
    return { ok: true, stored: summary };
  } catch (error) {
    body.unpipe(probe);
    probe.destroy();
    if (error instanceof RejectedInput) {
      const seen = identity ?? probe.seen;
      const uid = isDicomUid(seen?.sopInstanceUid) ? seen.sopInstanceUid : undefined;
      const sopClassUid = uid && isDicomUid(seen?.sopClassUid) ? seen.sopClassUid : undefined;
      return {
        ok: false,
        reason: error.reason,
        failed: { sopClassUid, sopInstanceUid: uid, failureReason: failureReasonOf(error.reason) },
      };
    }
    throw error;
  }
}

async function storeStudy({ request, principal, deps, log, refuse, signal }: Exchange, study: string | undefined): Promise<PacsResponse> {
  let boundary: string;
  try {
    boundary = parseMultipartRelated(request.headers['content-type']).boundary;
  } catch (error) {
    if (error instanceof MultipartError) return refuse(refusal(error));
    throw error;
  }
  const reader = new MultipartReader(request.body, boundary, {
    maxPartBytes: deps.limits.maxInstanceBytes,
    maxBodyBytes: deps.limits.maxRequestBytes,
    maxParts: deps.limits.maxStowParts ?? DEFAULT_MAX_STOW_PARTS,
  });
  const stored: StoredInstance[] = [];
  const failed: FailedInstance[] = [];
  const reasons: string[] = [];
  const refusedInstances: { sopInstanceUid?: string; reason: string }[] = [];
  const answer = (status: number, problemFields?: { Reason: string; Message: string }) => {
    log.info('stow', {
      stored: stored.length,
      failed: failed.length,
      reasons: [...new Set(reasons)].join(',') || undefined,
      bytes: reader.bytesRead,
    });
    const response = json(
      status,
      { ...stowResponseBody(deps.retrieveBase, stored, failed, study), ...problemFields },
      'application/dicom+json',
    );
    return failed.length > 0 || status >= 400
      ? refuse(response, refusedInstances.length ? refusedInstances : undefined)
      : Promise.resolve(response);
  };
  try {
    for (;;) {
      const part = await reader.nextPart();
      if (!part) break;
      const type = part.headers['content-type']?.split(';')[0].trim().toLowerCase();
      if (type !== undefined && type !== 'application/dicom') {
        failed.push({ failureReason: failureReasonOf('not_dicom') });
        reasons.push('wrong_part_type');
        refusedInstances.push({ reason: 'wrong_part_type' });
        continue;
      }
      const outcome = await storeInstance(
        part.body,
        part.contentLength,
        principal.tenant,
        deps,
        { maxBytes: deps.limits.maxInstanceBytes, studyInstanceUid: study },
        signal,
      );
      if (outcome.ok) stored.push(outcome.stored);
      else {
        failed.push(outcome.failed);
        reasons.push(outcome.reason);
        refusedInstances.push({ sopInstanceUid: outcome.failed.sopInstanceUid, reason: outcome.reason });
      }
    }
  } catch (error) {
    if (!(error instanceof MultipartError)) throw error; // logged once by the transport
    reasons.push(error.code);
    refusedInstances.push({ reason: error.code });
    if (error.status === 413) failed.push({ failureReason: failureReasonOf('too_large') });
    return answer(error.status, { Reason: error.code, Message: error.message });
  }
  if (stored.length + failed.length === 0) {
    log.warn('stow with zero parts');
    return refuse({
      ...problem(400, 'zero_parts', 'the multipart body holds no instance'),
      headers: { 'content-type': 'application/dicom+json' },
    });
  }
  return answer(stowStatus(stored.length, failed.length));
}

/** Orthanc-style identifiers: SHA-1 in five dash-separated groups of eight hex digits. */
function orthancId(...parts: string[]): string {
  const hex = createHash('sha1').update(parts.join('|')).digest('hex');
  return hex.match(/.{8}/g)!.join('-');
}

async function storeRawInstance(
  { request, principal, deps, log, refuse, signal }: Exchange,
  declared: number | undefined,
): Promise<PacsResponse> {
  const maxBytes = Math.min(deps.limits.maxInstanceBytes, deps.limits.maxRequestBytes);
  const outcome = await storeInstance(request.body, declared, principal.tenant, deps, { maxBytes }, signal);
  if (!outcome.ok) {
    log.warn('instance rejected', { reason: outcome.reason });
    return refuse(problem(outcome.reason === 'too_large' ? 413 : 400, outcome.reason, 'the DICOM instance is not accepted'), [
      { sopInstanceUid: outcome.failed.sopInstanceUid, reason: outcome.reason },
    ]);
  }
  const s = outcome.stored;
  const id = orthancId(principal.tenant, s.sopInstanceUid);
  log.info('instance stored');
  return json(200, {
    ID: id,
    ParentPatient: orthancId(principal.tenant, 'patient', s.studyInstanceUid ?? ''),
    ParentSeries: orthancId(principal.tenant, s.studyInstanceUid ?? '', s.seriesInstanceUid ?? ''),
    ParentStudy: orthancId(principal.tenant, s.studyInstanceUid ?? ''),
    Path: `/instances/${id}`,
    Status: 'Success',
  });
}

const UID = z.string().refine(isDicomUid);

async function presignUpload({ request, principal, deps, log, refuse }: Exchange): Promise<PacsResponse> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > UPLOAD_REQUEST_CAP) return refuse(problem(413, 'too_large', uploadRequestTooLarge));
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return refuse(problem(400, 'bad_json', 'the body must be JSON {studyUid, sopUid, size, sha256 | md5}'));
  }
  const schema = z
    .object({
      studyUid: UID,
      sopUid: UID,
      // Orthanc's Lua DumpJson(…, true) writes numbers as strings ("131730.0"): take those too
      size: z.preprocess(
        (v) => (typeof v === 'string' && /^[0-9]{1,16}(\.0+)?$/.test(v) ? Number(v) : v),
        z.number().int().positive().max(deps.limits.maxUploadBytes),
      ),
      sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/i)
        .optional(),
      md5: z
        .string()
        .regex(/^[0-9a-f]{32}$/i)
        .optional(),
    })
    .strict()
    .refine((body) => Boolean(body.sha256) !== Boolean(body.md5), { message: 'exactly one of sha256 or md5' });
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const unexpected = parsed.error.issues.some((i) => i.code === 'unrecognized_keys');
    if (parsed.error.issues.some((i) => i.path[0] === 'size' && i.code === 'too_big')) {
      return refuse(problem(413, 'too_large', `size exceeds the ${deps.limits.maxUploadBytes}-byte cap`));
    }
    log.warn('bad upload request', {
      unexpected,
      fields: [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '-')))].join(','),
    });
    return refuse(
      problem(
        400,
        unexpected ? 'unexpected_field' : 'bad_upload_request',
        unexpected
          ? 'only studyUid, sopUid, size and sha256 (or md5) are accepted; the tenant and key come from the credential'
          : 'the body must be {studyUid, sopUid, size, sha256 | md5} with DICOM UIDs, a positive size and one hex digest',
      ),
    );
  }
  const ticket = await deps.presigner.presign(principal.tenant, {
    ...parsed.data,
    sha256: parsed.data.sha256?.toLowerCase(),
    md5: parsed.data.md5?.toLowerCase(),
  });
  log.info('upload presigned', { method: ticket.method, bytes: parsed.data.size });
  return json(200, ticket);
}
