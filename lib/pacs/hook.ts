/**
 * The PACS export hook, transport-neutral: the Lambda adapter (functions/pacs-hook.ts) and the streaming
 * local server (local/pacs-hook-server.ts) both turn their request into a PacsRequest and call answerPacsRequest.
 *
 * Routes (POST):
 *   …/dicomweb/studies[/{study}]  STOW-RS, multipart/related; parts streamed one by one to the intake bucket
 *   …/instances                   one raw DICOM body (Orthanc peers, Lua HttpPost); Content-Type ignored
 *   …/uploads                     {studyUid, sopUid, size, sha256 | md5} → a presigned PUT (or multipart) ticket
 * Every route authenticates first (the tenant comes from the credential) and reads no body before that.
 * Errors map to statuses here and only here.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { RejectedInput } from '../errors.js';
import type { Logger } from '../log.js';
import { DicomProbe } from '../dicom/probe.js';
import { Unauthorized, type Authenticator, type Principal } from './auth.js';
import { MultipartError, MultipartReader, parseMultipartRelated } from './multipart.js';
import { dicomKeyOf, type DicomObjects, type UploadPresigner } from './objects.js';
import { failureReasonOf, stowResponseBody, stowStatus, type FailedInstance, type StoredInstance } from './stow-response.js';

export interface PacsRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string | undefined>;
  body: Readable;
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
}

export interface PacsHookDeps {
  auth: Authenticator;
  objects: DicomObjects;
  presigner: UploadPresigner;
  limits: PacsLimits;
  /** Base of the RetrieveURLs in STOW answers, e.g. https://pacs-hook.example.org/dicomweb. */
  retrieveBase: string;
  log: Logger;
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

export type Route = 'stow' | 'instances' | 'uploads';

export function routeOf(method: string, path: string): Route | undefined {
  if (method !== 'POST') return undefined;
  const clean = path.replace(/\/+$/, '');
  if (/(^|\/)dicomweb\/studies(\/[0-9.]+)?$/i.test(clean)) return 'stow';
  if (/(^|\/)instances$/.test(clean)) return 'instances';
  if (/(^|\/)uploads$/.test(clean)) return 'uploads';
  return undefined;
}

export async function answerPacsRequest(request: PacsRequest, deps: PacsHookDeps, signal?: AbortSignal): Promise<PacsResponse> {
  const route = routeOf(request.method.toUpperCase(), request.path);
  if (!route) return problem(404, 'no_route', 'POST /dicomweb/studies, /instances or /uploads');
  let principal: Principal;
  try {
    principal = await deps.auth.authenticate(request.headers.authorization);
  } catch (error) {
    if (error instanceof Unauthorized) {
      deps.log.warn('unauthorized', { route, code: error.code });
      return problem(401, error.code, error.message, { 'www-authenticate': 'Basic realm="pacs-hook", Bearer' });
    }
    throw error;
  }
  const log = deps.log.child({ route, tenant: principal.tenant, auth: principal.method });
  const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
  if (declared !== undefined && declared > (route === 'uploads' ? 64 * 1024 : deps.limits.maxRequestBytes)) {
    log.warn('request too large', { declaredBytes: declared });
    return problem(413, 'too_large', `the request exceeds the ${deps.limits.maxRequestBytes}-byte cap; use POST /uploads`, { connection: 'close' });
  }
  if (route === 'instances' && declared !== undefined && declared > deps.limits.maxInstanceBytes) {
    log.warn('instance too large', { declaredBytes: declared });
    return problem(413, 'too_large', `the instance exceeds the ${deps.limits.maxInstanceBytes}-byte cap; use POST /uploads`, { connection: 'close' });
  }
  const started = Date.now();
  const response =
    route === 'stow'
      ? await storeStudy(request, principal, deps, log, signal)
      : route === 'instances'
        ? await storeRawInstance(request, declared, principal, deps, log, signal)
        : await presignUpload(request, principal, deps, log);
  log.info('answered', { status: response.status, ms: Date.now() - started, transfer: request.headers['transfer-encoding'] ? 'chunked' : 'length' });
  return response;
}

type InstanceOutcome = { ok: true; stored: StoredInstance } | { ok: false; failed: FailedInstance; reason: string };

/** Streams one instance through the DICOM probe into `<tenant>/dicom/<SOPInstanceUID>.dcm`. */
async function storeInstance(body: Readable, contentLength: number | undefined, tenant: string, deps: PacsHookDeps, signal?: AbortSignal): Promise<InstanceOutcome> {
  const probe = new DicomProbe({ maxBytes: deps.limits.maxInstanceBytes });
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
      const uid = seen && /^[0-9.]{1,64}$/.test(seen.sopInstanceUid) ? seen.sopInstanceUid : undefined;
      return { ok: false, reason: error.reason, failed: { sopClassUid: uid && seen?.sopClassUid, sopInstanceUid: uid, failureReason: failureReasonOf(error.reason) } };
    }
    throw error;
  }
}

async function storeStudy(request: PacsRequest, principal: Principal, deps: PacsHookDeps, log: Logger, signal?: AbortSignal): Promise<PacsResponse> {
  let boundary: string;
  try {
    boundary = parseMultipartRelated(request.headers['content-type']).boundary;
  } catch (error) {
    if (error instanceof MultipartError) return problem(error.status, error.code, error.message);
    throw error;
  }
  const reader = new MultipartReader(request.body, boundary, { maxPartBytes: deps.limits.maxInstanceBytes });
  const stored: StoredInstance[] = [];
  const failed: FailedInstance[] = [];
  const reasons: string[] = [];
  const answer = (status: number) => {
    log.info('stow', { stored: stored.length, failed: failed.length, reasons: [...new Set(reasons)].join(',') || undefined, bytes: reader.bytesRead });
    return json(status, stowResponseBody(deps.retrieveBase, stored, failed), 'application/dicom+json');
  };
  try {
    for (;;) {
      const part = await reader.nextPart();
      if (!part) break;
      const type = part.headers['content-type']?.split(';')[0].trim().toLowerCase();
      if (type !== undefined && type !== 'application/dicom') {
        failed.push({ failureReason: failureReasonOf('not_dicom') });
        reasons.push('wrong_part_type');
        continue;
      }
      const outcome = await storeInstance(part.body, part.contentLength, principal.tenant, deps, signal);
      if (outcome.ok) stored.push(outcome.stored);
      else {
        failed.push(outcome.failed);
        reasons.push(outcome.reason);
      }
    }
  } catch (error) {
    if (!(error instanceof MultipartError)) throw error; // logged once by the transport
    reasons.push(error.code);
    if (error.status === 413) {
      failed.push({ failureReason: failureReasonOf('too_large') });
      return { ...answer(413), headers: { 'content-type': 'application/dicom+json', connection: 'close' } };
    }
    const response = answer(error.status);
    return { ...response, body: JSON.stringify({ ...JSON.parse(response.body), Reason: error.code, Message: error.message }) };
  }
  if (stored.length + failed.length === 0) {
    log.warn('stow with zero parts');
    return { ...problem(400, 'zero_parts', 'the multipart body holds no instance'), headers: { 'content-type': 'application/dicom+json' } };
  }
  return answer(stowStatus(stored.length, failed.length));
}

/** Orthanc-style identifiers: SHA-1 in five dash-separated groups of eight hex digits. */
function orthancId(...parts: string[]): string {
  const hex = createHash('sha1').update(parts.join('|')).digest('hex');
  return hex.match(/.{8}/g)!.join('-');
}

async function storeRawInstance(request: PacsRequest, declared: number | undefined, principal: Principal, deps: PacsHookDeps, log: Logger, signal?: AbortSignal): Promise<PacsResponse> {
  const outcome = await storeInstance(request.body, declared, principal.tenant, deps, signal);
  if (!outcome.ok) {
    log.warn('instance rejected', { reason: outcome.reason });
    return problem(outcome.reason === 'too_large' ? 413 : 400, outcome.reason, 'the DICOM instance is not accepted', outcome.reason === 'too_large' ? { connection: 'close' } : {});
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

const UID = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);

async function presignUpload(request: PacsRequest, principal: Principal, deps: PacsHookDeps, log: Logger): Promise<PacsResponse> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > 64 * 1024) return problem(413, 'too_large', 'the upload request body is too large');
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return problem(400, 'bad_json', 'the body must be JSON {studyUid, sopUid, size, sha256 | md5}');
  }
  const schema = z
    .object({
      studyUid: UID,
      sopUid: UID,
      // Orthanc's Lua DumpJson(…, true) writes numbers as strings ("131730.0"): take those too
      size: z.preprocess((v) => (typeof v === 'string' && /^[0-9]{1,16}(\.0+)?$/.test(v) ? Number(v) : v), z.number().int().positive().max(deps.limits.maxUploadBytes)),
      sha256: z.string().regex(/^[0-9a-f]{64}$/i).optional(),
      md5: z.string().regex(/^[0-9a-f]{32}$/i).optional(),
    })
    .strict()
    .refine((body) => Boolean(body.sha256) !== Boolean(body.md5), { message: 'exactly one of sha256 or md5' });
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const unexpected = parsed.error.issues.some((i) => i.code === 'unrecognized_keys');
    if (parsed.error.issues.some((i) => i.path[0] === 'size' && i.code === 'too_big')) {
      return problem(413, 'too_large', `size exceeds the ${deps.limits.maxUploadBytes}-byte cap`);
    }
    log.warn('bad upload request', { unexpected, fields: [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '-')))].join(',') });
    return problem(
      400,
      unexpected ? 'unexpected_field' : 'bad_upload_request',
      unexpected
        ? 'only studyUid, sopUid, size and sha256 (or md5) are accepted; the tenant and key come from the credential'
        : 'the body must be {studyUid, sopUid, size, sha256 | md5} with DICOM UIDs, a positive size and one hex digest',
    );
  }
  const ticket = await deps.presigner.presign(principal.tenant, { ...parsed.data, sha256: parsed.data.sha256?.toLowerCase(), md5: parsed.data.md5?.toLowerCase() });
  log.info('upload presigned', { method: ticket.method, bytes: parsed.data.size });
  return json(200, ticket);
}
