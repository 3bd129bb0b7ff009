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
import { streamingUpload } from './stream-upload.js';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from '#lib/log.js';
import { RejectedInput } from '#lib/errors.js';
import type { FetchFn, SwiftAuthenticator, SwiftSession } from './auth.js';
import { SwiftError, SwiftUnavailableError } from './errors.js';
import { containerPath, encodeContainer, objectPath } from './names.js';
import { signTempUrl, type TempUrlOptions } from './tempurl.js';

// ---------------------------------------------------------------- public types

export type PutBody = Buffer | Uint8Array | string | Readable | ReadableStream<Uint8Array>;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's idle timeout for this call. */
  timeoutMs?: number;
}

export interface RetryPolicy {
  /** Total tries, including the first (default 4). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** [0, 1) source of jitter; injectable for tests. */
  random: () => number;
}

export interface SwiftClientOptions {
  auth: SwiftAuthenticator;
  /** Injectable fetch (e.g. to count requests); default globalThis.fetch. */
  fetch?: FetchFn;
  retry?: Partial<RetryPolicy>;
  /** Idle timeout per attempt, ms (default 60 000). */
  timeoutMs?: number;
  /** Refresh the token this long before it expires (default 60 000 ms). */
  refreshBeforeExpiryMs?: number;
  /** A session to start with (e.g. cached elsewhere). It is replaced on 401 like any other. */
  session?: SwiftSession;
  logger?: Logger;
}

export interface CreateContainerOptions extends CallOptions {
  /** `X-Container-Read: .r:*`: anonymous GET of objects (not listings). */
  publicRead?: boolean;
  /** An explicit read ACL; wins over publicRead. */
  readAcl?: string;
  headers?: Record<string, string>;
}

export interface ContainerInfo {
  objectCount: number;
  bytesUsed: number;
  readAcl: string | null;
  headers: Headers;
}

export interface ListOptions extends CallOptions {
  prefix?: string;
  marker?: string;
  endMarker?: string;
  delimiter?: string;
  /** Page size (Swift's maximum and default: 10 000). */
  limit?: number;
}

export interface ObjectEntry {
  name: string;
  bytes: number;
  /** md5 hex (for an SLO manifest: the md5 of the manifest's own JSON as stored). */
  hash: string;
  contentType: string;
  lastModified: string;
}

export interface ObjectListingPage {
  objects: ObjectEntry[];
  /** Common prefixes (`subdir`) when a delimiter was given. */
  prefixes: string[];
  /** Pass as `marker` for the next page; null when this page was the last. */
  nextMarker: string | null;
}

export interface PutOptions extends CallOptions {
  /** Known length of a stream body: sent as Content-Length (else chunked). Ignored for Buffer/string bodies. */
  contentLength?: number;
  contentType?: string;
  /** md5 hex Swift must verify (422 on mismatch). Computed automatically for Buffer/string bodies. */
  etag?: string;
  /** `X-Object-Meta-*` values. Keep them small: the device's ext4 holds only ~3.5 KB of xattrs per object. */
  metadata?: Record<string, string>;
  /** `X-Delete-After` seconds. */
  deleteAfterSec?: number;
  headers?: Record<string, string>;
}

export interface PutResult {
  /** md5 hex as returned by Swift (for an SLO: the SLO etag). */
  etag: string;
}

export interface ObjectInfo {
  contentLength: number;
  etag: string;
  contentType: string;
  lastModified: Date | null;
  metadata: Record<string, string>;
  staticLargeObject: boolean;
  headers: Headers;
}

export interface GetOptions extends CallOptions {
  /** Inclusive byte range; `end` omitted means to the end. */
  range?: { start: number; end?: number };
}

export interface ObjectDownload extends ObjectInfo {
  status: number;
  /** The object bytes. Read it or cancel it: the idle timeout keeps watching until it ends. */
  body: ReadableStream<Uint8Array>;
}

export interface SloSegment {
  /** `/<container>/<object>`, NOT URL-encoded (Swift encodes it). */
  path: string;
  /** md5 hex of the segment, or null to skip the check. */
  etag: string | null;
  size_bytes: number | null;
  /** Optional byte range of the segment, e.g. `0-99`. */
  range?: string;
}

export interface DeleteOptions extends CallOptions {
  /** Resolve instead of throwing when the object/container does not exist. */
  ignoreMissing?: boolean;
}

/** What the rest of the code depends on; SwiftClient implements it. */
export interface SwiftStore {
  storageUrl(options?: CallOptions): Promise<string>;
  createContainer(container: string, options?: CreateContainerOptions): Promise<{ created: boolean }>;
  setContainerReadAcl(container: string, acl: string | null, options?: CallOptions): Promise<void>;
  headContainer(container: string, options?: CallOptions): Promise<ContainerInfo | null>;
  deleteContainer(container: string, options?: DeleteOptions): Promise<void>;
  listObjects(container: string, options?: ListOptions): Promise<ObjectListingPage>;
  listAllObjects(container: string, options?: ListOptions): AsyncIterable<ObjectEntry>;
  putObject(container: string, name: string, body: PutBody, options?: PutOptions): Promise<PutResult>;
  getObject(container: string, name: string, options?: GetOptions): Promise<ObjectDownload>;
  getObjectBytes(container: string, name: string, options?: GetOptions): Promise<Buffer>;
  headObject(container: string, name: string, options?: CallOptions): Promise<ObjectInfo | null>;
  deleteObject(container: string, name: string, options?: DeleteOptions): Promise<void>;
  putSlo(container: string, name: string, segments: SloSegment[], options?: PutOptions): Promise<PutResult>;
  deleteSlo(container: string, name: string, options?: DeleteOptions): Promise<{ deleted: number; notFound: number }>;
  setAccountTempUrlKey(key: string, options?: CallOptions & { slot?: 1 | 2 }): Promise<void>;
  setContainerTempUrlKey(container: string, key: string, options?: CallOptions & { slot?: 1 | 2 }): Promise<void>;
  tempUrl(options: TempUrlOptions & CallOptions): Promise<string>;
  objectUrl(container: string, name: string, options?: CallOptions): Promise<string>;
}

// ---------------------------------------------------------------- internals

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

interface RequestSpec {
  operation: string;
  target: string;
  method: Method;
  /** Encoded path relative to the storage URL ('' for the account). */
  path: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** May this request be sent more than once? */
  replayable: boolean;
  /** Statuses that are success; anything else throws. */
  ok: (status: number) => boolean;
  /** Keep the response body open (downloads). */
  stream?: boolean;
  call: CallOptions;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8000, random: Math.random };

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

/** A per-attempt idle timer combined with the caller's signal. */
class Attempt {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  readonly signal: AbortSignal;

  constructor(
    private readonly timeoutMs: number,
    caller: AbortSignal | undefined,
  ) {
    this.signal = caller ? AbortSignal.any([caller, this.controller.signal]) : this.controller.signal;
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new DOMException(`no progress for ${this.timeoutMs} ms`, 'TimeoutError'));
    }, this.timeoutMs);
    this.timer.unref();
  }

  done(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Re-streams `source`, touching the attempt on every chunk and (for downloads) stopping the timer at the end.
 * `cancelSource` releases the source when the request failed before consuming it.
 */
function watched(
  source: ReadableStream<Uint8Array>,
  attempt: Attempt,
  onEnd = false,
): { stream: ReadableStream<Uint8Array>; cancelSource: (reason?: unknown) => void } {
  const reader = source.getReader();
  let finished = false;
  const cancelSource = (reason?: unknown) => {
    if (finished) return;
    finished = true;
    reader.cancel(reason).catch(() => undefined);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          attempt.touch();
          if (done) {
            finished = true;
            if (onEnd) attempt.done();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          if (onEnd) attempt.done();
          controller.error(error);
        }
      },
      async cancel(reason) {
        if (onEnd) attempt.done();
        cancelSource(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, cancelSource };
}

/**
 * A pull-based web stream over a Node Readable: one chunk is read only when fetch asks for one, so memory stays
 * flat whatever the object size. (Node 20's `Readable.toWeb` reads ahead without bound: a 1 GiB upload held ~1 GiB.)
 */
function toWebStream(body: Readable | ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  if (!(body instanceof Readable)) return body;
  const chunks = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(typeof value === 'string' ? Buffer.from(value) : (value as Uint8Array));
      },
      async cancel(reason) {
        body.destroy(reason instanceof Error ? reason : undefined);
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function errorDetail(res: Response): Promise<string> {
  if (res.status === 404 || res.status === 401) {
    await res.body?.cancel().catch(() => undefined);
    return res.status === 404 ? 'Not Found' : 'Unauthorized';
  }
  const text = await res.text().catch(() => '');
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
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

// ---------------------------------------------------------------- the client

export class SwiftClient implements SwiftStore {
  private readonly auth: SwiftAuthenticator;
  private readonly fetchFn: FetchFn;
  /** An injected fetch sees every request; otherwise streamed uploads go through node:http (stream-upload.ts). */
  private readonly customFetch: boolean;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly refreshBeforeExpiryMs: number;
  private readonly logger: Logger | undefined;
  private session: SwiftSession | null;
  private pendingAuth: Promise<SwiftSession> | null = null;

  constructor(options: SwiftClientOptions) {
    this.auth = options.auth;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.customFetch = options.fetch !== undefined;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 60_000;
    this.logger = options.logger;
    this.session = options.session ?? null;
  }

  // ---------------------------------------------------------------- session

  private sessionIsFresh(session: SwiftSession | null): session is SwiftSession {
    if (!session) return false;
    return session.expiresAtMs === null || session.expiresAtMs - Date.now() > this.refreshBeforeExpiryMs;
  }

  /** The cached session, or a new one (one authentication in flight at a time). */
  async currentSession(options: CallOptions = {}): Promise<SwiftSession> {
    if (this.sessionIsFresh(this.session)) return this.session;
    if (this.session && !this.auth.canReauthenticate) return this.session;
    if (!this.pendingAuth) {
      const attempt = new Attempt(options.timeoutMs ?? this.timeoutMs, undefined);
      this.pendingAuth = this.authenticateWithRetry(attempt)
        .then((s) => (this.session = s))
        .finally(() => {
          attempt.done();
          this.pendingAuth = null;
        });
    }
    if (!options.signal) return this.pendingAuth;
    // The shared authentication is not cancelled by one caller; the caller just stops waiting. Its listener goes
    // when the wait ends: a caller's signal often outlives the call, and many callers may wait at once.
    const signal = options.signal;
    const pending = this.pendingAuth;
    return new Promise<SwiftSession>((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal));
      const onAbort = () => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async authenticateWithRetry(attempt: Attempt): Promise<SwiftSession> {
    for (let i = 1; ; i++) {
      try {
        return await this.auth.authenticate({ fetch: this.fetchFn, signal: attempt.signal });
      } catch (error) {
        if (!(error instanceof SwiftUnavailableError) || i >= this.retry.attempts) throw error;
        this.logger?.warn('swift auth retry', { auth: this.auth.kind, status: error.status, attempt: i });
        await sleep(this.backoffMs(i, null), undefined);
        attempt.touch();
      }
    }
  }

  private invalidate(token: string): void {
    if (this.session?.token === token) this.session = null;
  }

  private backoffMs(attempt: number, retryAfter: string | null): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    let delay = Math.floor(this.retry.random() * ceiling);
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds > 0) delay = Math.max(delay, Math.min(seconds * 1000, this.retry.maxDelayMs));
    return delay;
  }

  // ---------------------------------------------------------------- the request loop

  private async request(spec: RequestSpec): Promise<Response> {
    const { signal } = spec.call;
    const timeoutMs = spec.call.timeoutMs ?? this.timeoutMs;
    let reauthenticated = false;
    let attemptNo = 0;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      attemptNo++;
      const session = await this.currentSession(spec.call);
      const url = new URL(session.storageUrl + spec.path);
      for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
      const attempt = new Attempt(timeoutMs, signal);
      const upload = spec.body instanceof ReadableStream ? watched(spec.body, attempt) : null;
      const body = upload ? upload.stream : (spec.body as Uint8Array | string | undefined);
      let res: Response;
      try {
        const headers = { ...spec.headers, 'X-Auth-Token': session.token };
        res =
          body instanceof ReadableStream && !this.customFetch
            ? await streamingUpload(url, { method: spec.method, headers, body, signal: attempt.signal })
            : await this.fetchFn(url, {
                method: spec.method,
                headers,
                body,
                signal: attempt.signal,
                ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
              } as RequestInit);
      } catch (error) {
        attempt.done();
        upload?.cancelSource(error);
        if (signal?.aborted) throw abortReason(signal);
        const detail = attempt.timedOut ? `timed out (no progress for ${timeoutMs} ms)` : `network error: ${describeNetworkError(error)}`;
        if (spec.replayable && attemptNo < this.retry.attempts) {
          this.logger?.warn('swift retry', { operation: spec.operation, status: 0, attempt: attemptNo });
          await sleep(this.backoffMs(attemptNo, null), signal);
          continue;
        }
        throw new SwiftUnavailableError(spec.operation, spec.target, 0, detail, { cause: error });
      }

      if (res.status === 401 && this.auth.canReauthenticate && !reauthenticated) {
        attempt.done();
        upload?.cancelSource(new Error('answered 401'));
        await res.body?.cancel().catch(() => undefined);
        this.invalidate(session.token);
        reauthenticated = true;
        this.logger?.info('swift re-authenticating after 401', { operation: spec.operation, auth: this.auth.kind });
        if (spec.replayable) {
          attemptNo--; // the re-auth replay is not a retry
          continue;
        }
        throw new SwiftError(spec.operation, spec.target, 401, 'Unauthorized (token refreshed; the one-shot body cannot be replayed)');
      }

      if (spec.ok(res.status)) {
        if (spec.stream && res.body) {
          const download = watched(res.body, attempt, true);
          return new Response(download.stream, { status: res.status, headers: res.headers });
        }
        attempt.done();
        return res;
      }

      upload?.cancelSource(new Error(`answered ${res.status}`));
      const transient = res.status >= 500 || res.status === 429;
      if (transient && spec.replayable && attemptNo < this.retry.attempts) {
        const retryAfter = res.headers.get('retry-after');
        await res.body?.cancel().catch(() => undefined);
        attempt.done();
        this.logger?.warn('swift retry', { operation: spec.operation, status: res.status, attempt: attemptNo });
        await sleep(this.backoffMs(attemptNo, retryAfter), signal);
        continue;
      }
      let detail: string;
      try {
        detail = await errorDetail(res);
      } finally {
        attempt.done();
      }
      if (signal?.aborted) throw abortReason(signal);
      if (transient) throw new SwiftUnavailableError(spec.operation, spec.target, res.status, detail);
      throw new SwiftError(spec.operation, spec.target, res.status, detail);
    }
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
      const entry: Record<string, unknown> = { path: s.path.startsWith('/') ? s.path : `/${s.path}`, etag: s.etag, size_bytes: s.size_bytes };
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

function describeNetworkError(error: unknown): string {
  // Duck-typed: fetch's errors may come from another realm (e.g. under jest's vm modules), so no instanceof.
  const e = error as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  if (e && typeof e === 'object') {
    if (e.cause && typeof e.cause === 'object') {
      if (typeof e.cause.code === 'string') return e.cause.code;
      if (typeof e.cause.message === 'string') return e.cause.message;
    }
    if (typeof e.message === 'string') return e.message;
  }
  return String(error);
}

/** Validates a container name without a request (for config checks). */
export function assertContainerName(container: string): void {
  encodeContainer(container);
}
