/**
 * lib/swift against the real Swift All-In-One started by `npm run services:start` (no mocks).
 * Every run works in fresh uuid-named containers and deletes them afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { SwiftClient, SwiftError, TempAuth, type SwiftSession } from '#lib/swift/index.js';
import { loadServices, type LocalServices } from '#local/service-endpoints.js';

let services: LocalServices;
let swift: SwiftClient;
const containers: string[] = [];

function newContainer(tag: string): string {
  const name = `it-${tag}-${randomUUID().replace(/-/g, '')}`;
  containers.push(name);
  return name;
}

function tempAuth(): TempAuth {
  return new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key });
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** A Readable that yields `data` in `chunkBytes` pieces, so the upload is really streamed. */
function chunked(data: Buffer, chunkBytes = 256 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunkBytes) yield data.subarray(i, i + chunkBytes);
    })(),
  );
}

beforeAll(() => {
  services = loadServices();
  swift = new SwiftClient({ auth: tempAuth() });
});

afterAll(async () => {
  for (const container of containers) {
    for (;;) {
      const page = await swift.listObjects(container, { limit: 1000 }).catch(() => null);
      if (!page || page.objects.length === 0) break;
      await Promise.all(page.objects.map((o) => swift.deleteObject(container, o.name, { ignoreMissing: true })));
    }
    await swift.deleteContainer(container, { ignoreMissing: true });
  }
});

describe('containers', () => {
  it('creating a container twice reports created once and keeps it private until a read ACL is set', async () => {
    const c = newContainer('acl');
    expect(await swift.createContainer(c)).toEqual({ created: true });
    expect(await swift.createContainer(c)).toEqual({ created: false });
    expect((await swift.headContainer(c))?.readAcl).toBeNull();
    await swift.putObject(c, 'x.txt', 'hello');

    const url = await swift.objectUrl(c, 'x.txt');
    expect(url).toBe(`${services.swift.storageUrl}/${c}/x.txt`);
    expect((await fetch(url)).status).toBe(401);

    await swift.setContainerReadAcl(c, '.r:*');
    expect((await swift.headContainer(c))?.readAcl).toBe('.r:*');
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.text()).toBe('hello');

    await swift.setContainerReadAcl(c, null);
    expect((await swift.headContainer(c))?.readAcl).toBeNull();
    expect((await fetch(url)).status).toBe(401);
  });

  it('a container created public serves objects anonymously', async () => {
    const c = newContainer('pub');
    await swift.createContainer(c, { publicRead: true });
    const body = randomBytes(1000);
    await swift.putObject(c, 'v.mp4', body, { contentType: 'video/mp4' });
    const res = await fetch(await swift.objectUrl(c, 'v.mp4'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
  });

  it('headContainer of a missing container is null and listing it is a 404 SwiftError', async () => {
    const c = `it-missing-${randomUUID()}`;
    expect(await swift.headContainer(c)).toBeNull();
    await expect(swift.listObjects(c)).rejects.toMatchObject({ name: 'SwiftError', status: 404 });
  });

  it('deleting a non-empty container is a 409 SwiftError', async () => {
    const c = newContainer('full');
    await swift.createContainer(c);
    await swift.putObject(c, 'a', 'a');
    const error = await swift.deleteContainer(c).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(409);
  });
});

describe('objects', () => {
  let c: string;
  beforeAll(async () => {
    c = newContainer('obj');
    await swift.createContainer(c);
  });

  it('streams a 5 MiB PUT from a Readable with Content-Length and GETs it back byte for byte', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const put = await swift.putObject(c, 'sized.bin', chunked(data), { contentLength: data.length });
    expect(put.etag).toBe(md5(data));
    const download = await swift.getObject(c, 'sized.bin');
    expect(download.status).toBe(200);
    expect(download.contentLength).toBe(data.length);
    expect(download.etag).toBe(md5(data));
    const back = Buffer.from(await new Response(download.body).arrayBuffer());
    expect(back.equals(data)).toBe(true);
  });

  it('streams a PUT of unknown length (chunked) from a web ReadableStream', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const web = Readable.toWeb(chunked(data)) as ReadableStream<Uint8Array>;
    const put = await swift.putObject(c, 'chunked.bin', web);
    expect(put.etag).toBe(md5(data));
    expect((await swift.getObjectBytes(c, 'chunked.bin')).equals(data)).toBe(true);
    const head = await swift.headObject(c, 'chunked.bin');
    expect(head?.contentLength).toBe(data.length);
    expect(head?.staticLargeObject).toBe(false);
  });

  it('a stream PUT whose bytes do not match the expected etag is refused with 422', async () => {
    const data = randomBytes(1000);
    const error = await swift
      .putObject(c, 'bad-etag.bin', chunked(data, 100), { etag: md5(Buffer.from('other')) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(422);
    expect(await swift.headObject(c, 'bad-etag.bin')).toBeNull();
  });

  it('GET of a missing object rejects with a 404 SwiftError that names the object and no token', async () => {
    const session = await swift.currentSession();
    const error = await swift.getObject(c, 'missing.mp4').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect(error).not.toBeInstanceOf(RetryableError);
    expect((error as SwiftError).status).toBe(404);
    expect((error as SwiftError).message).toBe(`swift getObject object "${c}/missing.mp4" failed: 404 Not Found`);
    expect((error as SwiftError).message).not.toContain(session.token);
    await expect(swift.getObjectBytes(c, 'missing.mp4')).rejects.toMatchObject({ status: 404 });
    expect(await swift.headObject(c, 'missing.mp4')).toBeNull();
  });

  it('a range GET returns exactly the requested bytes', async () => {
    const data = randomBytes(4096);
    await swift.putObject(c, 'ranged.bin', data);
    const part = await swift.getObject(c, 'ranged.bin', { range: { start: 12, end: 27 } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await new Response(part.body).arrayBuffer()).equals(data.subarray(12, 28))).toBe(true);
  });

  it('metadata round-trips through headObject', async () => {
    await swift.putObject(c, 'meta.bin', 'm', { metadata: { 'Batch-Id': 'b-1' }, contentType: 'application/x-sealed' });
    const head = await swift.headObject(c, 'meta.bin');
    expect(head?.metadata).toEqual({ 'batch-id': 'b-1' });
    expect(head?.contentType).toBe('application/x-sealed');
    expect(head?.etag).toBe(md5(Buffer.from('m')));
  });

  it('deleteObject removes the object; a second delete is a 404 unless ignoreMissing', async () => {
    await swift.putObject(c, 'gone.bin', 'x');
    await swift.deleteObject(c, 'gone.bin');
    expect(await swift.headObject(c, 'gone.bin')).toBeNull();
    await expect(swift.deleteObject(c, 'gone.bin')).rejects.toMatchObject({ status: 404 });
    await expect(swift.deleteObject(c, 'gone.bin', { ignoreMissing: true })).resolves.toBeUndefined();
  });

  it('refuses names that cannot be addressed, without a request', async () => {
    await expect(swift.putObject(c, 'a/../b', 'x')).rejects.toBeInstanceOf(RejectedInput);
    await expect(swift.putObject('a/b', 'x', 'x')).rejects.toBeInstanceOf(RejectedInput);
    await expect(swift.putObject(c, '', 'x')).rejects.toBeInstanceOf(RejectedInput);
  });
});

describe('names', () => {
  const names = [
    'with space.mp4',
    'plus+sign.mp4',
    'hash#tail.mp4',
    'question?mark.mp4',
    'percent%20literal.mp4',
    'ampersand&equals=.mp4',
    'unicode-échographie-心臓.mp4',
    'dir/sub dir/x#y?.mp4',
  ];

  it('names with spaces, +, #, ?, %, & and unicode round-trip and list back exactly', async () => {
    const c = newContainer('names');
    await swift.createContainer(c);
    for (const [i, name] of names.entries()) await swift.putObject(c, name, `body ${i}`);
    const listed = (await swift.listObjects(c)).objects.map((o) => o.name);
    expect(listed).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const [i, name] of names.entries()) {
      expect((await swift.getObjectBytes(c, name)).toString()).toBe(`body ${i}`);
    }
    // Nothing was silently truncated at '#' or '?'.
    expect(await swift.headObject(c, 'hash')).toBeNull();
    expect(await swift.headObject(c, 'question')).toBeNull();
  });

  it('lists page by page with marker, prefix, limit and delimiter', async () => {
    const c = newContainer('pages');
    await swift.createContainer(c);
    const all = ['a/1', 'a/2', 'a/3', 'b/1', 'c'];
    for (const n of all) await swift.putObject(c, n, n);

    const first = await swift.listObjects(c, { limit: 2 });
    expect(first.objects.map((o) => o.name)).toEqual(['a/1', 'a/2']);
    expect(first.nextMarker).toBe('a/2');
    const second = await swift.listObjects(c, { limit: 2, marker: first.nextMarker ?? undefined });
    expect(second.objects.map((o) => o.name)).toEqual(['a/3', 'b/1']);
    const last = await swift.listObjects(c, { limit: 2, marker: second.nextMarker ?? undefined });
    expect(last.objects.map((o) => o.name)).toEqual(['c']);
    expect(last.nextMarker).toBeNull();

    const iterated: string[] = [];
    for await (const o of swift.listAllObjects(c, { limit: 2 })) iterated.push(o.name);
    expect(iterated).toEqual(all);

    const prefixed = await swift.listObjects(c, { prefix: 'a/' });
    expect(prefixed.objects.map((o) => [o.name, o.bytes, o.hash])).toEqual([
      ['a/1', 3, md5(Buffer.from('a/1'))],
      ['a/2', 3, md5(Buffer.from('a/2'))],
      ['a/3', 3, md5(Buffer.from('a/3'))],
    ]);
    const grouped = await swift.listObjects(c, { delimiter: '/' });
    expect(grouped.prefixes).toEqual(['a/', 'b/']);
    expect(grouped.objects.map((o) => o.name)).toEqual(['c']);
  });
});

describe('static large objects', () => {
  it('an SLO of a 28-byte head segment and a big segment reads as their concatenation', async () => {
    const c = newContainer('slo');
    const segs = newContainer('slo-segments');
    await swift.createContainer(c, { publicRead: true });
    await swift.createContainer(segs, { publicRead: true });
    const head = randomBytes(28);
    const big = randomBytes(6 * 1024 * 1024 + 5);
    const bigPut = await swift.putObject(segs, 'video#1/0001', chunked(big), { contentLength: big.length });
    const headPut = await swift.putObject(segs, 'video#1/head', head);
    const manifest = await swift.putSlo(
      c,
      'video 1.mp4',
      [
        { path: `/${segs}/video#1/head`, etag: headPut.etag, size_bytes: 28 },
        { path: `/${segs}/video#1/0001`, etag: bigPut.etag, size_bytes: big.length },
      ],
      { contentType: 'video/mp4' },
    );
    // The SLO etag is the md5 of the concatenated segment etags.
    expect(manifest.etag).toBe(md5(Buffer.from(headPut.etag + bigPut.etag)));

    const info = await swift.headObject(c, 'video 1.mp4');
    expect(info?.staticLargeObject).toBe(true);
    expect(info?.contentLength).toBe(28 + big.length);
    expect((await swift.getObjectBytes(c, 'video 1.mp4')).equals(Buffer.concat([head, big]))).toBe(true);

    // Public manifest + public segments: workers can fetch it anonymously.
    const anonymous = await fetch(await swift.objectUrl(c, 'video 1.mp4'));
    expect(anonymous.status).toBe(200);
    expect(
      Buffer.from(await anonymous.arrayBuffer())
        .subarray(0, 28)
        .equals(head),
    ).toBe(true);

    expect(await swift.deleteSlo(c, 'video 1.mp4')).toEqual({ deleted: 3, notFound: 0 });
    expect(await swift.headObject(c, 'video 1.mp4')).toBeNull();
    expect(await swift.headObject(segs, 'video#1/0001')).toBeNull();
  });

  it('a public SLO whose segments container is private answers 409 to anonymous readers', async () => {
    const c = newContainer('slo-pub');
    const segs = newContainer('slo-priv');
    await swift.createContainer(c, { publicRead: true });
    await swift.createContainer(segs);
    const seg = await swift.putObject(segs, 's', 'segment');
    await swift.putSlo(c, 'o', [{ path: `/${segs}/s`, etag: seg.etag, size_bytes: 7 }]);
    const res = await fetch(await swift.objectUrl(c, 'o'));
    await res.arrayBuffer();
    expect(res.status).toBe(409);
  });

  it('a manifest with a wrong segment etag is refused with a 400 SwiftError naming the mismatch', async () => {
    const c = newContainer('slo-bad');
    await swift.createContainer(c);
    const seg = await swift.putObject(c, 'seg', randomBytes(100));
    const error = await swift.putSlo(c, 'bad', [{ path: `/${c}/seg`, etag: 'f'.repeat(32), size_bytes: 100 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(400);
    expect((error as SwiftError).message).toBe(`swift putSlo object "${c}/bad" failed: 400 Errors: /${c}/seg, Etag Mismatch`);
    expect(seg.etag).toHaveLength(32);
    expect(await swift.headObject(c, 'bad')).toBeNull();
  });
});

describe('TempURL', () => {
  let c: string;
  const key = `tempurl-key-${randomUUID()}`;
  const data = randomBytes(2048);
  const name = 'private dir/séquence #1.mp4';

  // The account is shared with suites running in parallel, which sign workload and result links with the shared
  // slot-2 key (LOCAL_TEMPURL_KEY): these tests sign with a container key, and the account-key test uses slot 1,
  // which nothing else here uses, so no other suite's links stop working mid-test.
  beforeAll(async () => {
    c = newContainer('tempurl');
    await swift.createContainer(c);
    await swift.putObject(c, name, data);
    await swift.setContainerTempUrlKey(c, key);
  });

  for (const digest of ['sha256', 'sha1', 'sha512'] as const) {
    it(`a ${digest} TempURL GET works anonymously on a private container; a tampered signature gets 401`, async () => {
      const expiresAtSec = Math.floor(Date.now() / 1000) + 300;
      const url = await swift.tempUrl({ method: 'GET', container: c, object: name, expiresAtSec, key, digest });
      expect(new URL(url).searchParams.get('temp_url_sig')).toHaveLength({ sha256: 64, sha1: 40, sha512: 93 }[digest]);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);

      const sig = new URL(url).searchParams.get('temp_url_sig') ?? '';
      const at = sig.startsWith('sha512:') ? 7 : 0; // tamper a data character (not base64 padding bits)
      const tamperedUrl = new URL(url);
      tamperedUrl.searchParams.set('temp_url_sig', sig.slice(0, at) + (sig[at] === 'a' ? 'b' : 'a') + sig.slice(at + 1));
      const tampered = tamperedUrl.toString();
      expect(tampered).not.toBe(url);
      const denied = await fetch(tampered);
      await denied.arrayBuffer();
      expect(denied.status).toBe(401);

      // The plain URL without a signature is refused too: the container is private.
      const plain = await fetch(await swift.objectUrl(c, name));
      await plain.arrayBuffer();
      expect(plain.status).toBe(401);
    });
  }

  it('an account-level key (slot 1) signs URLs for any container', async () => {
    const accountKey = `account-key-${randomUUID()}`;
    await swift.setAccountTempUrlKey(accountKey, { slot: 1 });
    const expiresAtSec = Math.floor(Date.now() / 1000) + 300;
    const res = await fetch(await swift.tempUrl({ method: 'GET', container: c, object: name, expiresAtSec, key: accountKey }));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    await swift.setAccountTempUrlKey(randomUUID(), { slot: 1 }); // leave no known key behind
  });

  it('an expired TempURL gets 401 and a PUT TempURL uploads', async () => {
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = await fetch(await swift.tempUrl({ method: 'GET', container: c, object: name, expiresAtSec: past, key }));
    await expired.arrayBuffer();
    expect(expired.status).toBe(401);

    const putUrl = await swift.tempUrl({
      method: 'PUT',
      container: c,
      object: 'uploaded via tempurl.txt',
      expiresAtSec: Math.floor(Date.now() / 1000) + 60,
      key,
    });
    const put = await fetch(putUrl, { method: 'PUT', body: 'via tempurl' });
    await put.arrayBuffer();
    expect(put.status).toBe(201);
    expect((await swift.getObjectBytes(c, 'uploaded via tempurl.txt')).toString()).toBe('via tempurl');
  });
});

describe('authentication', () => {
  it('a stale token is answered 401, the client re-authenticates once and the call succeeds', async () => {
    let authCalls = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/auth/v1.0')) authCalls++;
      return fetch(input, init);
    };
    const stale: SwiftSession = { token: `AUTH_tk${'0'.repeat(32)}`, storageUrl: services.swift.storageUrl, expiresAtMs: null };
    const client = new SwiftClient({ auth: tempAuth(), session: stale, fetch: counting });
    const c = newContainer('reauth');
    expect(await client.createContainer(c)).toEqual({ created: true });
    expect(authCalls).toBe(1);
    const fresh = await client.currentSession();
    expect(fresh.token).not.toBe(stale.token);
    expect(fresh.storageUrl).toBe(services.swift.storageUrl);
    expect(fresh.expiresAtMs).toBeGreaterThan(Date.now());
    await client.putObject(c, 'after-reauth', 'ok');
    expect(authCalls).toBe(1);
  });

  it('a one-shot stream PUT with a stale token fails with 401 (it cannot be replayed) and the next call works', async () => {
    const c = newContainer('reauth-stream');
    await swift.createContainer(c);
    const stale: SwiftSession = { token: `AUTH_tk${'1'.repeat(32)}`, storageUrl: services.swift.storageUrl, expiresAtMs: null };
    const client = new SwiftClient({ auth: tempAuth(), session: stale });
    const error = await client.putObject(c, 'stream', chunked(randomBytes(1000), 100)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(401);
    expect((error as SwiftError).message).not.toContain(stale.token);
    const ok = await client.putObject(c, 'stream', chunked(Buffer.from('streamed'), 3));
    expect(ok.etag).toBe(md5(Buffer.from('streamed')));
  });

  it('wrong TempAuth credentials are a 401 SwiftError from authenticate', async () => {
    const client = new SwiftClient({
      auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: 'wrong' }),
    });
    const error = await client.headContainer('anything').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(401);
    expect((error as SwiftError).operation).toBe('authenticate');
    expect((error as SwiftError).message).not.toContain('wrong');
  });
});

describe('cancellation', () => {
  it('an already aborted signal rejects with its AbortError before any request', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await swift.headContainer('whatever', { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
  });

  it('aborting during a streaming upload rejects with AbortError and stores nothing', async () => {
    const c = newContainer('abort');
    await swift.createContainer(c);
    const controller = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(randomBytes(64 * 1024));
    const upload = swift.putObject(c, 'never', slow, { signal: controller.signal, contentLength: 10 * 1024 * 1024 });
    setTimeout(() => controller.abort(), 200);
    const error = await upload.catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(await swift.headObject(c, 'never')).toBeNull();
  });

  it('aborting mid-download errors the body stream', async () => {
    const c = newContainer('abort-get');
    await swift.createContainer(c);
    const data = randomBytes(8 * 1024 * 1024);
    await swift.putObject(c, 'big', data);
    const controller = new AbortController();
    const download = await swift.getObject(c, 'big', { signal: controller.signal });
    const reader = download.body.getReader();
    await reader.read();
    controller.abort();
    let error: unknown = null;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      error = e;
    }
    expect((error as Error | null)?.name).toBe('AbortError');
  });
});
