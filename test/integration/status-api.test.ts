/**
 * status-api end to end: the real handler (functions/status-api.ts, configured from the environment) served by
 * local/status-api-server.ts, over dynalite, the Asperathos emulator (through sync-status), real Swift for
 * results and TempURLs, and a local JWKS. Every response is checked against openapi/status-api.yaml.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { sourceNameSealer } from '#lib/source-names.js';
import { keys, tenantBatchKeys } from '#lib/store/keys.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { startLocalHttpApi, type LocalHttpApi } from '#local/status-api-server.js';
import { assertContract } from '#test/support/contract.js';
import { loadServices } from '#local/service-endpoints.js';
import { hex32, startStatusRig, waitFor, type StatusRig, type SubmittedJob } from '#test/support/status-rig.js';
import { AUDIENCE, confusedToken, ISSUER, startTokenKit, unsecuredToken, type TokenKit } from '#test/support/tokens.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';

const TEMPURL_KEY = LOCAL_TEMPURL_KEY;
let rig: StatusRig;
let kit: TokenKit;
let api: LocalHttpApi;
let swift: SwiftClient;
let dir: string;
let token: string;
let completed: SubmittedJob;
const savedEnv = { ...process.env };

beforeAll(async () => {
  rig = await startStatusRig();
  kit = await startTokenKit();
  const services = loadServices();
  swift = new SwiftClient({ auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }) });
  await swift.setAccountTempUrlKey(TEMPURL_KEY, { slot: 2 });
  dir = mkdtempSync(join(tmpdir(), 'status-api-'));
  writeFileSync(join(dir, 'tempurl-key'), TEMPURL_KEY);
  writeFileSync(join(dir, 'swift-key'), services.swift.key);
  writeFileSync(join(dir, 'source-name-key'), randomBytes(32).toString('base64'));
  Object.assign(process.env, {
    TABLE_NAME: 'radiomics',
    DYNAMODB_ENDPOINT: rig.dynamo.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'eu-west-1',
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: kit.jwksUrl,
    AUTH_TENANT_CLAIM: 'tenant',
    TEMPURL_KEY_FILE: join(dir, 'tempurl-key'),
    RESULTS_TEMPURL_TTL_SECS: '600',
    PAGE_REFRESH_SECS: '1',
    SWIFT_AUTH: 'tempauth',
    SWIFT_AUTH_URL: services.swift.authUrl,
    SWIFT_USER: services.swift.user,
    SWIFT_KEY_FILE: join(dir, 'swift-key'),
    SOURCE_NAME_KEY_FILE: join(dir, 'source-name-key'),
    LOG_LEVEL: 'error',
  });
  const { handler } = await import('#functions/status-api.js');
  api = await startLocalHttpApi(handler as never);
  token = await kit.rs({ tenant: 'hospital-a' });

  const videoIds = [hex32(), hex32(), hex32()];
  completed = await rig.submit({ videoIds, env: { FAKE_WORKER_FAIL_ITEMS: videoIds[2] }, createdAt: '2026-01-01T00:00:03.000Z' });
  await waitFor('completed', async () => ((await rig.client.get(completed.jobId)).status === 'completed' ? true : undefined));
  // the results as a worker would have left them: the second clip has none
  const results = `${completed.batchId}-results`;
  await swift.createContainer(results);
  await swift.putObject(results, `${videoIds[0]}.json`, Buffer.from('{"frames":12}'), { contentType: 'application/json' });
  await swift.putObject(results, `${videoIds[0]}.zip`, Buffer.from('PK-zip-bytes'));
  await swift.putObject(results, `${videoIds[2]}.error.json`, Buffer.from('{"reason":"decrypt_failed"}'));
  await rig.sync();
}, 90_000);

afterAll(async () => {
  await api?.close();
  await swift.deleteObject(`${completed.batchId}-results`, `${completed.videoIds[0]}.json`, { ignoreMissing: true }).catch(() => undefined);
  await swift.deleteObject(`${completed.batchId}-results`, `${completed.videoIds[0]}.zip`, { ignoreMissing: true }).catch(() => undefined);
  await swift
    .deleteObject(`${completed.batchId}-results`, `${completed.videoIds[2]}.error.json`, { ignoreMissing: true })
    .catch(() => undefined);
  await swift.deleteContainer(`${completed.batchId}-results`, { ignoreMissing: true }).catch(() => undefined);
  await kit.close();
  await rig.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = savedEnv;
});

async function get(path: string, bearer: string | null = token, method = 'GET') {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: bearer === null ? {} : { authorization: bearer.includes(' ') ? bearer : `Bearer ${bearer}` },
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined,
  };
}

async function putBatch(fields: Record<string, unknown>) {
  const batchId = hex32();
  const createdAt = (fields.createdAt as string) ?? new Date().toISOString();
  const tenant = (fields.tenant as string) ?? 'hospital-a';
  await rig.dynamo.doc.send(
    new PutCommand({
      TableName: 'radiomics',
      Item: {
        ...keys.batch(batchId),
        batchId,
        tenant,
        container: `c-${batchId}`,
        wrappedKey: 'wrapped-key-material',
        createdAt,
        claims: 1,
        claimedBytes: 1,
        sealedItems: 1,
        sealedBytes: 1,
        inflight: {},
        ...tenantBatchKeys({ tenant, createdAt, batchId }),
        ...fields,
      },
    }),
  );
  return batchId;
}

const FORBIDDEN = ['wrapped-key-material', 'temp_url_sig=secret', 'workload', 'c-', '.mp4', 'swift.invalid', 'redis', 'password'];

describe('status-api: routes within the tenant', () => {
  it("GET /jobs lists the tenant's jobs newest first, a page at a time, with an opaque cursor", async () => {
    const older = await rig.submit({ items: 1, createdAt: '2026-01-01T00:00:01.000Z' });
    const middle = await rig.submit({ items: 1, createdAt: '2026-01-01T00:00:02.000Z' });
    await rig.submit({ items: 1, tenant: 'hospital-b', createdAt: '2026-01-01T00:00:04.000Z' });
    await putBatch({ state: 'open', createdAt: '2026-01-01T00:00:05.000Z' });
    const t = await kit.rs({ tenant: 'hospital-a' });
    const first = await get('/jobs?limit=2', t);
    expect(first.status).toBe(200);
    assertContract('/jobs', 200, first.body);
    expect(first.body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([completed.batchId, middle.batchId]);
    expect(first.body.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await get(`/jobs?limit=2&cursor=${first.body.next_cursor}`, t);
    assertContract('/jobs', 200, second.body);
    expect(second.body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([older.batchId]);
    expect(second.body.next_cursor).toBeNull();
    expect(first.body.jobs[0]).toMatchObject({
      status: 'completed',
      batch_state: 'completed',
      progress: { done: 2, total: 3, percent: 66.7, source: 'results' },
      failed_count: 1,
      items: 3,
      asperathos_job_id: completed.jobId,
    });
  });

  it('GET /jobs/{id} gives status, progress, timestamps, failed items and working TempURL links to the results', async () => {
    const res = await get(`/jobs/${completed.batchId}`);
    expect(res.status).toBe(200);
    assertContract('/jobs/{id}', 200, res.body);
    expect(res.body).toMatchObject({
      job_id: completed.batchId,
      status: 'completed',
      failed_items: [completed.videoIds[2]],
      reason: null,
      visualizer_url: null,
      results_truncated: false,
    });
    expect(res.body.report).toMatchObject({ final_replicas: 1 });
    const byId = Object.fromEntries(res.body.results.map((r: { video_id: string }) => [r.video_id, r]));
    expect(Object.keys(byId).sort()).toEqual([completed.videoIds[0], completed.videoIds[2]].sort());
    expect(byId[completed.videoIds[0]].error_url).toBeNull();
    expect(await (await fetch(byId[completed.videoIds[0]].analysis_url)).text()).toBe('{"frames":12}');
    expect(await (await fetch(byId[completed.videoIds[0]].frames_url)).text()).toBe('PK-zip-bytes');
    expect(await (await fetch(byId[completed.videoIds[2]].error_url)).text()).toBe('{"reason":"decrypt_failed"}');
    const unsigned = byId[completed.videoIds[0]].analysis_url.replace(/\?.*$/, '');
    expect((await fetch(unsigned)).status).toBe(401);
    for (const word of FORBIDDEN) expect(res.text.replace(/https?:\/\/[^"]+/g, '')).not.toContain(word);
    expect(res.text).not.toContain(token);
  });

  it('GET /batches/{id} gives the batch without keys, containers or workload URLs', async () => {
    const res = await get(`/batches/${completed.batchId}`);
    expect(res.status).toBe(200);
    assertContract('/batches/{id}', 200, res.body);
    expect(res.body).toEqual({
      batch_id: completed.batchId,
      state: 'completed',
      items: 3,
      joined_items: 3,
      sealed_items: 3,
      created_at: '2026-01-01T00:00:03.000Z',
      closing_at: null,
      submitted_at: expect.any(String),
      job_id: completed.batchId,
      job_status: 'completed',
      reason: null,
    });
    for (const word of FORBIDDEN) expect(res.text).not.toContain(word);
  });

  it('GET /videos/{id} derives every stage, with a reason when failed', async () => {
    const stageOf = async (videoId: string) => {
      const res = await get(`/videos/${videoId}`);
      expect(res.status).toBe(200);
      assertContract('/videos/{id}', 200, res.body);
      for (const word of FORBIDDEN) expect(res.text).not.toContain(word);
      return [res.body.stage, res.body.reason];
    };
    const v = () => hex32();
    const received = v();
    await rig.putVideo(received, await putBatch({ state: 'open' }), 'hospital-a', 'sealing');
    const givenUp = v();
    await rig.putVideo(givenUp, await putBatch({ state: 'empty' }), 'hospital-a', 'abandoned');
    const sealed = v();
    await rig.putVideo(sealed, await putBatch({ state: 'closing' }), 'hospital-a', 'sealed');
    const batched = v();
    await rig.putVideo(batched, await putBatch({ state: 'submitting' }), 'hospital-a', 'sealed');
    const submitted = v();
    await rig.putVideo(
      submitted,
      await putBatch({ state: 'submitted', jobId: 'kj-aaaaaaa', jobState: { status: 'created' } }),
      'hospital-a',
      'sealed',
    );
    const processing = v();
    await rig.putVideo(
      processing,
      await putBatch({ state: 'submitted', jobId: 'kj-bbbbbbb', jobState: { status: 'ongoing' } }),
      'hospital-a',
      'sealed',
    );
    const stoppedJob = v();
    await rig.putVideo(
      stoppedJob,
      await putBatch({ state: 'failed', jobId: 'kj-ccccccc', jobState: { status: 'stopped', reason: 'job_stopped' } }),
      'hospital-a',
      'sealed',
    );
    const rejected = v();
    await rig.putVideo(rejected, undefined, 'hospital-a', 'rejected', 'not_mp4');
    expect(await stageOf(received)).toEqual(['received', null]);
    expect(await stageOf(givenUp)).toEqual(['received', null]);
    expect(await stageOf(sealed)).toEqual(['sealed', null]);
    expect(await stageOf(batched)).toEqual(['batched', null]);
    expect(await stageOf(submitted)).toEqual(['submitted', null]);
    expect(await stageOf(processing)).toEqual(['processing', null]);
    expect(await stageOf(completed.videoIds[0])).toEqual(['done', null]);
    expect(await stageOf(completed.videoIds[1])).toEqual(['failed', 'no_result']);
    expect(await stageOf(completed.videoIds[2])).toEqual(['failed', 'analysis_failed']);
    expect(await stageOf(stoppedJob)).toEqual(['failed', 'job_stopped']);
    expect(await stageOf(rejected)).toEqual(['failed', 'not_mp4']);
  });

  it('GET /videos/{id} and ?source= name the upload to its own tenant under the SOURCE_NAME_KEY configured', async () => {
    const sourceNames = sourceNameSealer(readFileSync(join(dir, 'source-name-key'), 'utf8'));
    const sourceKey = 'hospital-a/named upload.mp4';
    const [videoId] = completed.videoIds;
    const at = new Date().toISOString();
    const table = { doc: rig.dynamo.doc, tableName: 'radiomics' };
    expect(await recordSourceLookup(table, { tenant: 'hospital-a', sourceKey, videoId, at }, sourceNames)).toBe(true);
    const byId = await get(`/videos/${videoId}`);
    assertContract('/videos/{id}', 200, byId.body);
    expect(byId.body).toMatchObject({ video_id: videoId, source: sourceKey, stage: 'done' });
    expect((await get(`/videos?source=${encodeURIComponent(sourceKey)}`)).body).toEqual(byId.body);
    const other = await get(`/videos/${videoId}`, await kit.rs({ tenant: 'hospital-b' }));
    expect(other).toMatchObject({ status: 404, body: { error: 'not_found', message: 'no such video' } });
    expect(other.text).not.toContain('named upload');
  });

  it("another tenant's job, batch and video answer 404 exactly like unknown ids", async () => {
    const other = await kit.rs({ tenant: 'hospital-b' });
    const unknown = hex32();
    for (const path of [`/jobs/${completed.batchId}`, `/batches/${completed.batchId}`, `/videos/${completed.videoIds[0]}`]) {
      const res = await get(path, other);
      expect(res.status).toBe(404);
      assertContract(path.replace(/[0-9a-f]{32}$/, '{id}'), 404, res.body);
      const unknownRes = await get(path.replace(/[0-9a-f]{32}$/, unknown), other);
      expect(res.body.error).toBe('not_found');
      expect(res.body).toEqual(unknownRes.body);
    }
    const list = await get('/jobs?limit=100', other);
    expect(list.body.jobs.map((j: { job_id: string }) => j.job_id)).not.toContain(completed.batchId);
  });

  it('an open batch is a batch, not a job', async () => {
    const open = await putBatch({ state: 'open' });
    expect((await get(`/batches/${open}`)).body).toMatchObject({ state: 'open', job_id: null, job_status: null });
    expect((await get(`/jobs/${open}`)).status).toBe(404);
  });
});

describe('status-api: bad input', () => {
  it('answers 401 {error, message} to missing, expired, wrong-audience, wrong-issuer, alg none, HS/RS confusion and garbage tokens', async () => {
    const cases: Array<[string, string | null]> = [
      ['missing', null],
      ['expired', await kit.rs({}, { expSecs: -600 })],
      ['wrong audience', await kit.rs({}, { audience: 'other-api' })],
      ['wrong issuer', await kit.rs({}, { issuer: 'https://evil.example/' })],
      ['alg none', unsecuredToken({})],
      ['HS/RS confusion', await confusedToken(kit.publicPem)],
      ['HS256 token', await kit.hs()],
      ['garbage', 'garbage'],
      ['garbage segments', 'eyJhbGciOiJSUzI1NiJ9.e30.AAAA'],
      ['basic scheme', 'Basic dXNlcjpwYXNz'],
      ['no tenant', await kit.rs({ tenant: undefined })],
    ];
    for (const [name, bad] of cases) {
      const res = await get('/jobs', bad);
      expect([name, res.status]).toEqual([name, 401]);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      assertContract('/jobs', 401, res.body);
      if (bad) expect(res.text).not.toContain(bad);
    }
  });

  it('answers 404 to malformed paths and 405 to other methods', async () => {
    for (const path of [
      '/jobs/',
      '/jobs/ABC',
      `/jobs/${hex32()}/extra`,
      `/jobs/${hex32()}0`,
      '/jobs/..%2Fbatches',
      '/jobs/%zz',
      '/nope',
      '//jobs',
      `/videos/${'g'.repeat(32)}`,
      '/index.html',
    ]) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).toEqual({ error: 'not_found', message: expect.any(String) });
    }
    const post = await get('/jobs', token, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(post.body.error).toBe('method_not_allowed');
  });

  it('answers 400 to malformed query strings', async () => {
    const garbageCursor = Buffer.from('{"pk":"BATCH#x"}').toString('base64url');
    const foreignCursor = Buffer.from(JSON.stringify([`2026-01-01T00:00:04.000Z#${hex32()}`, `VIDEO#${hex32()}`])).toString('base64url');
    for (const query of [
      'limit=0',
      'limit=abc',
      'limit=101',
      'limit=-1',
      'limit=1.5',
      'limit=1&limit=2',
      'limt=2',
      'cursor=!!!',
      `cursor=${garbageCursor}`,
      `cursor=${foreignCursor}`,
      'cursor=',
      `cursor=${'A'.repeat(500)}`,
    ]) {
      const res = await get(`/jobs?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(res.body.error).toBe('bad_request');
      assertContract('/jobs', 400, res.body);
    }
    expect((await get(`/jobs/${completed.batchId}?limit=2`)).status).toBe(400);
  });

  it("refuses another tenant's cursor with 400 foreign_cursor, and a cursor that names no place in the list with 400 bad_request", async () => {
    const mine = await get('/jobs?limit=1');
    expect(mine.body.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(mine.body.next_cursor, 'base64url').toString('utf8')).not.toMatch(/TENANT|BATCH#|hospital-a|gsi/);
    const other = await kit.rs({ tenant: 'hospital-b' });
    const res = await get(`/jobs?limit=1&cursor=${mine.body.next_cursor}`, other);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'foreign_cursor', message: 'the cursor was issued to another tenant' });
    assertContract('/jobs', 400, res.body);
    const [tag, createdAt] = JSON.parse(Buffer.from(mine.body.next_cursor, 'base64url').toString('utf8')) as string[];
    for (const forged of [
      [tag, createdAt, `BATCH#${hex32()}`],
      [tag, createdAt],
      [tag, 'yesterday', hex32()],
      ['0'.repeat(15), createdAt, hex32()],
      { tag, createdAt },
    ]) {
      const bad = await get(`/jobs?cursor=${Buffer.from(JSON.stringify(forged)).toString('base64url')}`);
      expect([forged, bad.status, bad.body]).toEqual([forged, 400, { error: 'bad_request', message: 'cursor is not valid' }]);
    }
  });

  it('serves the status page at / with a strict CSP', async () => {
    const res = await get('/', null);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(res.text).toContain('<title>Radiomics jobs</title>');
  });
});

describe('radiomics status (CLI)', () => {
  const capture = () => {
    let text = '';
    const write = (chunk: string) => {
      text += chunk;
      return true;
    };
    return { stream: { write } as unknown as NodeJS.WriteStream, text: () => text };
  };

  it('prints the jobs with progress bars, and one job in detail, never the token', async () => {
    const { run } = await import('#bin/commands/status.js');
    const out = capture();
    const err = capture();
    expect(await run(['--api', api.url], { RADIOMICS_TOKEN: token }, out.stream, err.stream)).toBe(0);
    expect(out.text()).toContain(`${completed.batchId}  completed  [################--------] 2/3 66.7%  failed 1`);
    const detail = capture();
    expect(await run([completed.batchId, '--api', api.url, '--token', token], {}, detail.stream, err.stream)).toBe(0);
    expect(detail.text()).toContain(`status     completed`);
    expect(detail.text()).toContain(`failed     1: ${completed.videoIds[2]}`);
    expect(detail.text()).toContain('results    1 analysed');
    expect(out.text() + detail.text() + err.text()).not.toContain(token);
  });

  it('exits 1 on a refused token and 2 on usage errors', async () => {
    const { run } = await import('#bin/commands/status.js');
    const err = capture();
    expect(await run(['--api', api.url, '--token', 'garbage'], {}, capture().stream, err.stream)).toBe(1);
    expect(err.text()).toBe('radiomics status: 401 unauthorized: the bearer token is not a compact JWS\n');
    expect(await run(['--api', api.url], {}, capture().stream, capture().stream)).toBe(2);
    expect(await run(['not-an-id', '--api', api.url, '--token', token], {}, capture().stream, capture().stream)).toBe(2);
  });
});
