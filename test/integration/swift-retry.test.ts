/**
 * Retry, timeout and failure behaviour of lib/swift against the real Swift All-In-One, with a real TCP proxy
 * (test/support/faulty-proxy.ts) in front of it that injects 503s, 429s, connection resets and hangs on cue.
 * Backoff delays are injected as ~1 ms so the suite stays fast.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { RetryableError, isRetryable } from '#lib/errors.js';
import { PreauthenticatedAuth, SwiftClient, SwiftError, SwiftUnavailableError, TempAuth } from '#lib/swift/index.js';
import { startFaultyProxy, type FaultyProxy } from '#test/support/faulty-proxy.js';
import { loadServices, type LocalServices } from '#local/service-endpoints.js';

let services: LocalServices;
let proxy: FaultyProxy;
let direct: SwiftClient;
let container: string;

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const FAST = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

function viaProxy(extra: Partial<ConstructorParameters<typeof SwiftClient>[0]> = {}): SwiftClient {
  return new SwiftClient({
    auth: new TempAuth({ authUrl: `${proxy.url}/auth/v1.0`, user: services.swift.user, key: services.swift.key }),
    retry: FAST,
    ...extra,
  });
}

const objectRequests = (method: string) =>
  proxy.requests.filter((r) => r.method === method && r.path.startsWith(`/v1/${services.swift.account}/${container}/`));

beforeAll(async () => {
  services = loadServices();
  proxy = await startFaultyProxy(services.swift.proxyUrl);
  direct = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  container = `it-retry-${randomUUID().replace(/-/g, '')}`;
  await direct.createContainer(container);
});

afterAll(async () => {
  await proxy.close();
  for await (const o of direct.listAllObjects(container)) await direct.deleteObject(container, o.name, { ignoreMissing: true });
  await direct.deleteContainer(container, { ignoreMissing: true });
});

beforeEach(() => proxy.reset());

describe('retries through a faulty proxy', () => {
  it('the storage URL TempAuth hands out points through the proxy', async () => {
    const client = viaProxy();
    expect(await client.storageUrl()).toBe(`${proxy.url}/v1/${services.swift.account}`);
  });

  it('a replayable PUT (Buffer) answered 503 once is retried and succeeds', async () => {
    const client = viaProxy();
    proxy.failNext(1, { status: 503, match: (r) => r.method === 'PUT' });
    const body = randomBytes(10_000);
    const put = await client.putObject(container, 'replayable.bin', body);
    expect(put.etag).toBe(md5(body));
    expect(objectRequests('PUT').map((r) => [r.status, r.injected])).toEqual([
      [503, true],
      [201, false],
    ]);
    expect((await direct.getObjectBytes(container, 'replayable.bin')).equals(body)).toBe(true);
  });

  it('a streaming PUT answered 503 is NOT retried: it fails with a retryable SwiftUnavailableError', async () => {
    const client = viaProxy();
    proxy.failNext(1, { status: 503, match: (r) => r.method === 'PUT' });
    const error = await client.putObject(container, 'stream.bin', Readable.from([randomBytes(50_000)])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftUnavailableError);
    expect(error).toBeInstanceOf(RetryableError);
    expect(isRetryable(error)).toBe(true);
    expect((error as SwiftUnavailableError).status).toBe(503);
    expect((error as SwiftUnavailableError).message).toBe(`swift putObject object "${container}/stream.bin" failed: 503 injected 503`);
    expect(objectRequests('PUT').map((r) => r.status)).toEqual([503]);
    expect(await direct.headObject(container, 'stream.bin')).toBeNull();
  });

  it('GET gives up after the configured attempts with SwiftUnavailableError 503', async () => {
    await direct.putObject(container, 'get.bin', 'payload');
    const client = viaProxy();
    proxy.failNext(5, { status: 503, match: (r) => r.method === 'GET' && !r.path.startsWith('/auth') });
    const error = await client.getObject(container, 'get.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftUnavailableError);
    expect((error as SwiftUnavailableError).status).toBe(503);
    expect(objectRequests('GET').map((r) => r.status)).toEqual([503, 503, 503]);
  });

  it('GET recovers from a 429 with Retry-After and from a reset connection', async () => {
    await direct.putObject(container, 'flaky.bin', 'flaky payload');
    const client = viaProxy();
    await client.storageUrl(); // authenticate first, so the faults hit the object GETs
    proxy.failNext(1, { status: 429, headers: { 'Retry-After': '0' }, match: (r) => r.method === 'GET' });
    proxy.failNext(1, { kind: 'reset', match: (r) => r.method === 'GET' });
    expect((await client.getObjectBytes(container, 'flaky.bin')).toString()).toBe('flaky payload');
    expect(objectRequests('GET').map((r) => r.status)).toEqual([429, 0, 200]);
  });

  it('HEAD, DELETE and SLO manifest PUT are retried on 5xx', async () => {
    const client = viaProxy();
    const seg = await direct.putObject(container, 'seg-a', 'segment-a');
    proxy.failNext(1, { status: 500, match: (r) => r.method === 'HEAD' });
    expect((await client.headObject(container, 'seg-a'))?.etag).toBe(seg.etag);
    proxy.failNext(2, { status: 502, match: (r) => r.method === 'PUT' && r.path.includes('multipart-manifest=put') });
    await client.putSlo(container, 'slo', [{ path: `/${container}/seg-a`, etag: seg.etag, size_bytes: 9 }]);
    expect((await direct.getObjectBytes(container, 'slo')).toString()).toBe('segment-a');
    proxy.failNext(1, { status: 503, match: (r) => r.method === 'DELETE' });
    await client.deleteObject(container, 'slo');
    expect(await direct.headObject(container, 'slo')).toBeNull();
    expect(objectRequests('DELETE').map((r) => r.status)).toEqual([503, 204]);
  });

  it('a 4xx is never retried', async () => {
    const client = viaProxy();
    const error = await client.getObject(container, 'no-such-object').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect(isRetryable(error)).toBe(false);
    expect(objectRequests('GET').map((r) => r.status)).toEqual([404]);
  });

  it('TempAuth itself is retried when the auth endpoint answers 503', async () => {
    const client = viaProxy();
    proxy.failNext(2, { status: 503, match: (r) => r.path.startsWith('/auth/') });
    expect(await client.storageUrl()).toBe(`${proxy.url}/v1/${services.swift.account}`);
    expect(proxy.requests.filter((r) => r.path.startsWith('/auth/')).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('an attempt that makes no progress times out, is retried, and finally fails as status 0', async () => {
    await direct.putObject(container, 'slow.bin', 'slow');
    const client = viaProxy({ timeoutMs: 300 });
    await client.storageUrl();
    proxy.failNext(1, { kind: 'hang', match: (r) => r.method === 'GET' });
    const t0 = Date.now();
    expect((await client.getObjectBytes(container, 'slow.bin')).toString()).toBe('slow');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

    proxy.failNext(3, { kind: 'hang', match: (r) => r.method === 'GET' });
    const error = await client.getObject(container, 'slow.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftUnavailableError);
    expect((error as SwiftUnavailableError).status).toBe(0);
    expect((error as SwiftUnavailableError).message).toBe(
      `swift getObject object "${container}/slow.bin" failed: timed out (no progress for 300 ms)`,
    );
  });

  it('the caller signal aborts a request waiting in backoff', async () => {
    const client = viaProxy({ retry: { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 1 } });
    await client.storageUrl();
    proxy.failNext(5, { status: 503, match: (r) => r.method === 'GET' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const t0 = Date.now();
    const error = await client.getObject(container, 'slow.bin', { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(objectRequests('GET').map((r) => r.status)).toEqual([503]);
  });
});

describe('unreachable Swift', () => {
  it('connection refused is retried for idempotent calls, then a SwiftUnavailableError with status 0', async () => {
    const closed = await startFaultyProxy(services.swift.proxyUrl);
    const deadUrl = `${closed.url}/v1/${services.swift.account}`;
    await closed.close(); // nothing listens there any more
    let calls = 0;
    const client = new SwiftClient({
      auth: new PreauthenticatedAuth({ token: 'AUTH_tkunused', storageUrl: deadUrl }),
      retry: FAST,
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    const error = await client.headObject('c', 'o').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftUnavailableError);
    expect((error as SwiftUnavailableError).status).toBe(0);
    expect((error as SwiftUnavailableError).message).toBe('swift headObject object "c/o" failed: network error: ECONNREFUSED');
    expect(calls).toBe(3);

    calls = 0;
    await expect(client.putObject('c', 'o', Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(SwiftUnavailableError);
    expect(calls).toBe(1);
  });
});
