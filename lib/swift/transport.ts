/**
 * How SwiftClient's requests travel (the behaviour is listed in client.ts): the cached session and its refresh,
 * one re-authentication on 401, retries with backoff for replayable requests, the per-attempt idle timeout, the
 * caller's AbortSignal, and streamed bodies (uploads go through node:http, stream-upload.ts, unless a fetch was
 * injected).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '#lib/log.js';
import type { FetchFn, SwiftAuthenticator, SwiftSession } from './auth.js';
import { SwiftError, SwiftUnavailableError } from './errors.js';
import { streamingUpload } from './stream-upload.js';
import type { CallOptions, RetryPolicy, SwiftClientOptions } from './types.js';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export interface RequestSpec {
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
export function toWebStream(body: Readable | ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
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

/** Waits `ms`; an abort rejects with the signal's reason, as every call does. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw signal?.aborted ? abortReason(signal) : error;
  }
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

/** The session, the retry policy and the request loop of one SwiftClient. */
export class SwiftTransport {
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
        await sleep(this.backoffMs(i, null));
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

  async request(spec: RequestSpec): Promise<Response> {
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
          await pause(this.backoffMs(attemptNo, null), signal);
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
        await pause(this.backoffMs(attemptNo, retryAfter), signal);
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
}
