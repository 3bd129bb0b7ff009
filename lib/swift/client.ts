/**
 * A thin OpenStack Swift client on Node's fetch. Why not the npm `openstack-swift-client`: it is unmaintained and
 * built on the deprecated `request`, resolves a 404 download as success (writing the HTML error page into the
 * stream), does not URL-encode names, and never refreshes a TempAuth token.
 *
 * Behaviour every call shares:
 * - Auth: the session (token + storage URL) is cached and refreshed before it expires; on 401 the client
 *   re-authenticates once and replays the request (only if the body is replayable; a one-shot stream fails with
 *   SwiftError 401, and the next call uses a fresh token).
 * - Retries: 5xx, 429, network errors and attempt timeouts are retried with exponential backoff and full jitter
 *   (honouring Retry-After), ONLY for idempotent requests: GET, HEAD, DELETE, the metadata-setting POSTs (Swift
 *   POST replaces metadata, so replaying it is harmless) and PUT with a replayable body (Buffer, Uint8Array,
 *   string). A PUT whose body is a Node Readable or a web ReadableStream is sent exactly once.
 * - Timeouts: `timeoutMs` is an idle timeout per attempt: it aborts when neither a response nor a body chunk (up or
 *   down) moved for that long, so a 1 GiB upload is fine while a stuck connection is not.
 * - Cancellation: every call takes an AbortSignal; when it fires, the call rejects with the signal's reason.
 * - Failures: SwiftError (definitive 4xx) or SwiftUnavailableError (RetryableError; 5xx/429/network after retries).
 *   Error messages name the operation and container/object, never the token.
 * - Logs (when a logger is given): retries and re-auth, with the operation and status; no names, no tokens.
 */
import { createHash } from 'node:crypto';
import { RejectedInput } from '#lib/errors.js';
import type { SwiftSession } from './auth.js';
import { SwiftError, SwiftUnavailableError } from './errors.js';
import { containerPath, encodeContainer, objectPath } from './names.js';
import { signTempUrl, type TempUrlOptions } from './tempurl.js';
import { SwiftTransport, toWebStream, type RequestSpec } from './transport.js';
import type {
  CallOptions,
  ContainerInfo,
  CreateContainerOptions,
  DeleteOptions,
  GetOptions,
  ListOptions,
  ObjectDownload,
  ObjectEntry,
  ObjectInfo,
  ObjectListingPage,
  PutBody,
  PutOptions,
  PutResult,
  SloSegment,
  SwiftClientOptions,
  SwiftStore,
} from './types.js';

const is2xx = (s: number) => s >= 200 && s < 300;

function isReplayableBody(body: PutBody): body is Buffer | Uint8Array | string {
  return typeof body === 'string' || body instanceof Uint8Array;
}

function unquote(etag: string | null): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

function target(container: string, name?: string): string {
  return name === undefined ? `container "${container}"` : `object "${container}/${name}"`;
}

function objectInfo(res: Response): ObjectInfo {
  const metadata: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    if (key.startsWith('x-object-meta-')) metadata[key.slice('x-object-meta-'.length)] = value;
  });
  const lastModified = res.headers.get('last-modified');
  return {
    contentLength: Number(res.headers.get('content-length') ?? 0),
    etag: unquote(res.headers.get('etag')),
    contentType: res.headers.get('content-type') ?? '',
    lastModified: lastModified ? new Date(lastModified) : null,
    metadata,
    staticLargeObject: (res.headers.get('x-static-large-object') ?? '').toLowerCase() === 'true',
    headers: res.headers,
  };
}

export class SwiftClient implements SwiftStore {
  private readonly transport: SwiftTransport;

  constructor(options: SwiftClientOptions) {
    this.transport = new SwiftTransport(options);
  }

  /** The cached session, or a new one (one authentication in flight at a time). */
  currentSession(options: CallOptions = {}): Promise<SwiftSession> {
    return this.transport.currentSession(options);
  }

  private request(spec: RequestSpec): Promise<Response> {
    return this.transport.request(spec);
  }

  // ---------------------------------------------------------------- account

  async storageUrl(options: CallOptions = {}): Promise<string> {
    return (await this.currentSession(options)).storageUrl;
  }

  async setAccountTempUrlKey(key: string, options: CallOptions & { slot?: 1 | 2 } = {}): Promise<void> {
    if (!key) throw new RejectedInput('invalid_tempurl', 'a TempURL key must be non-empty');
    const header = options.slot === 2 ? 'X-Account-Meta-Temp-URL-Key-2' : 'X-Account-Meta-Temp-URL-Key';
    const res = await this.request({
      operation: 'setAccountTempUrlKey',
      target: 'account',
      method: 'POST',
      path: '',
      headers: { [header]: key },
      replayable: true,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
  }

  /** A container-scoped TempURL key (`X-Container-Meta-Temp-URL-Key`): valid only for that container's objects. */
  async setContainerTempUrlKey(container: string, key: string, options: CallOptions & { slot?: 1 | 2 } = {}): Promise<void> {
    if (!key) throw new RejectedInput('invalid_tempurl', 'a TempURL key must be non-empty');
    const header = options.slot === 2 ? 'X-Container-Meta-Temp-URL-Key-2' : 'X-Container-Meta-Temp-URL-Key';
    const res = await this.request({
      operation: 'setContainerTempUrlKey',
      target: target(container),
      method: 'POST',
      path: containerPath(container),
      headers: { [header]: key },
      replayable: true,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
  }

  async tempUrl(options: TempUrlOptions & CallOptions): Promise<string> {
    return signTempUrl(await this.storageUrl(options), options);
  }

  async objectUrl(container: string, name: string, options: CallOptions = {}): Promise<string> {
    return `${await this.storageUrl(options)}${objectPath(container, name)}`;
  }

  // ---------------------------------------------------------------- containers

  async createContainer(container: string, options: CreateContainerOptions = {}): Promise<{ created: boolean }> {
    const headers: Record<string, string> = { ...options.headers };
    const acl = options.readAcl ?? (options.publicRead ? '.r:*' : undefined);
    if (acl !== undefined) headers['X-Container-Read'] = acl;
    const res = await this.request({
      operation: 'createContainer',
      target: target(container),
      method: 'PUT',
      path: containerPath(container),
      headers,
      replayable: true,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
    return { created: res.status === 201 };
  }

  async setContainerReadAcl(container: string, acl: string | null, options: CallOptions = {}): Promise<void> {
    const res = await this.request({
      operation: 'setContainerReadAcl',
      target: target(container),
      method: 'POST',
      path: containerPath(container),
      headers: acl === null ? { 'X-Remove-Container-Read': 'x' } : { 'X-Container-Read': acl },
      replayable: true,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
  }

  async headContainer(container: string, options: CallOptions = {}): Promise<ContainerInfo | null> {
    const res = await this.request({
      operation: 'headContainer',
      target: target(container),
      method: 'HEAD',
      path: containerPath(container),
      replayable: true,
      ok: (s) => is2xx(s) || s === 404,
      call: options,
    });
    if (res.status === 404) return null;
    return {
      objectCount: Number(res.headers.get('x-container-object-count') ?? 0),
      bytesUsed: Number(res.headers.get('x-container-bytes-used') ?? 0),
      readAcl: res.headers.get('x-container-read'),
      headers: res.headers,
    };
  }

  async deleteContainer(container: string, options: DeleteOptions = {}): Promise<void> {
    const res = await this.request({
      operation: 'deleteContainer',
      target: target(container),
      method: 'DELETE',
      path: containerPath(container),
      replayable: true,
      ok: (s) => is2xx(s) || (s === 404 && options.ignoreMissing === true),
      call: options,
    });
    await res.body?.cancel();
  }

  async listObjects(container: string, options: ListOptions = {}): Promise<ObjectListingPage> {
    const limit = options.limit ?? 10_000;
    const res = await this.request({
      operation: 'listObjects',
      target: target(container),
      method: 'GET',
      path: containerPath(container),
      query: {
        format: 'json',
        limit: String(limit),
        marker: options.marker,
        end_marker: options.endMarker,
        prefix: options.prefix,
        delimiter: options.delimiter,
      },
      headers: { Accept: 'application/json' },
      replayable: true,
      ok: is2xx,
      call: options,
    });
    const text = res.status === 204 ? '' : await res.text();
    const rows = (text ? JSON.parse(text) : []) as Array<
      { subdir: string } | { name: string; bytes: number; hash: string; content_type: string; last_modified: string }
    >;
    const objects: ObjectEntry[] = [];
    const prefixes: string[] = [];
    for (const row of rows) {
      if ('subdir' in row) prefixes.push(row.subdir);
      else
        objects.push({
          name: row.name,
          bytes: row.bytes,
          hash: row.hash,
          contentType: row.content_type,
          lastModified: row.last_modified,
        });
    }
    const last = rows.length > 0 ? rows[rows.length - 1] : undefined;
    const lastName = last === undefined ? null : 'subdir' in last ? last.subdir : last.name;
    return { objects, prefixes, nextMarker: rows.length >= limit ? lastName : null };
  }

  async *listAllObjects(container: string, options: ListOptions = {}): AsyncIterable<ObjectEntry> {
    let marker = options.marker;
    for (;;) {
      const page = await this.listObjects(container, { ...options, marker });
      yield* page.objects;
      if (page.nextMarker === null) return;
      marker = page.nextMarker;
    }
  }

  // ---------------------------------------------------------------- objects

  async putObject(container: string, name: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = {};
    if (options.contentType) headers['Content-Type'] = options.contentType;
    if (options.deleteAfterSec !== undefined) headers['X-Delete-After'] = String(options.deleteAfterSec);
    for (const [k, v] of Object.entries(options.metadata ?? {})) headers[`X-Object-Meta-${k}`] = v;
    Object.assign(headers, options.headers);
    let payload: Uint8Array | string | ReadableStream<Uint8Array>;
    let replayable: boolean;
    if (isReplayableBody(body)) {
      payload = body;
      replayable = true;
      headers.ETag = options.etag ?? createHash('md5').update(body).digest('hex');
    } else {
      payload = toWebStream(body);
      replayable = false;
      if (options.etag) headers.ETag = options.etag;
      if (options.contentLength !== undefined) headers['Content-Length'] = String(options.contentLength);
    }
    const res = await this.request({
      operation: 'putObject',
      target: target(container, name),
      method: 'PUT',
      path: objectPath(container, name),
      headers,
      body: payload,
      replayable,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
    return { etag: unquote(res.headers.get('etag')) };
  }

  async getObject(container: string, name: string, options: GetOptions = {}): Promise<ObjectDownload> {
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (options.range) headers.Range = `bytes=${options.range.start}-${options.range.end ?? ''}`;
    const res = await this.request({
      operation: 'getObject',
      target: target(container, name),
      method: 'GET',
      path: objectPath(container, name),
      headers,
      replayable: true,
      ok: (s) => s === 200 || s === 206,
      stream: true,
      call: options,
    });
    return { ...objectInfo(res), status: res.status, body: res.body ?? new ReadableStream({ start: (c) => c.close() }) };
  }

  async getObjectBytes(container: string, name: string, options: GetOptions = {}): Promise<Buffer> {
    const download = await this.getObject(container, name, options);
    return Buffer.from(await new Response(download.body).arrayBuffer());
  }

  async headObject(container: string, name: string, options: CallOptions = {}): Promise<ObjectInfo | null> {
    const res = await this.request({
      operation: 'headObject',
      target: target(container, name),
      method: 'HEAD',
      path: objectPath(container, name),
      replayable: true,
      ok: (s) => is2xx(s) || s === 404,
      call: options,
    });
    return res.status === 404 ? null : objectInfo(res);
  }

  async deleteObject(container: string, name: string, options: DeleteOptions = {}): Promise<void> {
    const res = await this.request({
      operation: 'deleteObject',
      target: target(container, name),
      method: 'DELETE',
      path: objectPath(container, name),
      replayable: true,
      ok: (s) => is2xx(s) || (s === 404 && options.ignoreMissing === true),
      call: options,
    });
    await res.body?.cancel();
  }

  // ---------------------------------------------------------------- static large objects

  /**
   * Uploads an SLO manifest; the object reads as the concatenation of `segments` in order.
   * A wrong segment etag or size gives SwiftError 400 whose message carries Swift's reason (e.g. "Etag Mismatch").
   */
  async putSlo(container: string, name: string, segments: SloSegment[], options: PutOptions = {}): Promise<PutResult> {
    if (segments.length === 0) throw new RejectedInput('invalid_slo', 'an SLO needs at least one segment');
    const manifest = segments.map((s) => {
      const entry: Record<string, unknown> = {
        path: s.path.startsWith('/') ? s.path : `/${s.path}`,
        etag: s.etag,
        size_bytes: s.size_bytes,
      };
      if (s.range !== undefined) entry.range = s.range;
      return entry;
    });
    const headers: Record<string, string> = { 'Content-Type': options.contentType ?? 'application/octet-stream' };
    for (const [k, v] of Object.entries(options.metadata ?? {})) headers[`X-Object-Meta-${k}`] = v;
    if (options.deleteAfterSec !== undefined) headers['X-Delete-After'] = String(options.deleteAfterSec);
    Object.assign(headers, options.headers);
    const res = await this.request({
      operation: 'putSlo',
      target: target(container, name),
      method: 'PUT',
      path: objectPath(container, name),
      query: { 'multipart-manifest': 'put' },
      headers,
      body: JSON.stringify(manifest),
      replayable: true,
      ok: is2xx,
      call: options,
    });
    await res.body?.cancel();
    return { etag: unquote(res.headers.get('etag')) };
  }

  /** Deletes an SLO manifest and all its segments. */
  async deleteSlo(container: string, name: string, options: DeleteOptions = {}): Promise<{ deleted: number; notFound: number }> {
    const t = target(container, name);
    const res = await this.request({
      operation: 'deleteSlo',
      target: t,
      method: 'DELETE',
      path: objectPath(container, name),
      query: { 'multipart-manifest': 'delete' },
      headers: { Accept: 'application/json' },
      replayable: true,
      ok: (s) => is2xx(s) || (s === 404 && options.ignoreMissing === true),
      call: options,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return { deleted: 0, notFound: 1 };
    }
    const report = (await res.json().catch(() => null)) as {
      'Number Deleted'?: number;
      'Number Not Found'?: number;
      'Response Status'?: string;
      'Response Body'?: string;
      Errors?: unknown[];
    } | null;
    if (!report) throw new SwiftUnavailableError('deleteSlo', t, res.status, 'unreadable bulk-delete report');
    const status = Number.parseInt(report['Response Status'] ?? '', 10);
    if (!is2xx(status) || (report.Errors?.length ?? 0) > 0) {
      const detail = `${report['Response Status'] ?? ''} ${report['Response Body'] ?? ''}`.trim();
      if (status === 404 && options.ignoreMissing) return { deleted: 0, notFound: 1 };
      if (status >= 500 || !Number.isFinite(status)) throw new SwiftUnavailableError('deleteSlo', t, status || 0, detail);
      throw new SwiftError('deleteSlo', t, status, detail);
    }
    return { deleted: report['Number Deleted'] ?? 0, notFound: report['Number Not Found'] ?? 0 };
  }
}

/** Validates a container name without a request (for config checks). */
export function assertContainerName(container: string): void {
  encodeContainer(container);
}
