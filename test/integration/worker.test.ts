/**
 * The enclave worker end to end, as real child processes against the real Redis and the real Swift All-In-One
 * (`npm run services:start`): sealed sample clips behind TempURLs, a RedisWQ queue under a fresh prefix per test
 * (REDIS_QUEUE / REDIS_STOP_KEY, so parallel tests never share keys), results checked in `<JOB_NAME>-results`
 * against `radiomics analyze --json --anonymise` of the plain clips (exact equality).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { buildWorkerBundle } from '#enclave/build.js';
import { itemKey } from '#enclave/queue.js';
import { sealBuffer } from '#lib/seal/cipher.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { readZip } from '#test/fixtures/enclave/zip-reader.js';
import { loadServices, REPO_ROOT, type LocalServices, SHARED_DIR } from '#local/service-endpoints.js';

const run = promisify(execFile);
const VIDEOS = join(SHARED_DIR, 'samples', 'videos');
const CLIP_A = 'VH020213M4_001390_20160406T111534.MP4'; // 10 frames
const CLIP_B = 'VH020213M4_001559_20160429T120845.MP4'; // 10 frames
const CLIP_C = 'VH020213M4_001418_20160407T115216.MP4'; // 11 frames

let services: LocalServices;
let swift: SwiftClient;
let redis: Redis;
let envDir: string;
const key = randomBytes(16);
const tempUrlKey = randomBytes(16).toString('hex');
const sourceContainer = `wt-src-${randomBytes(6).toString('hex')}`;
const containers = [sourceContainer];
const prefixes: string[] = [];

interface Sealed {
  id: string;
  url: string;
}

/** Seals a sample clip (optionally flipping one ciphertext byte) as `<uuid hex>.mp4` and returns its TempURL. */
async function sealClip(clip: string | null, tamper = false): Promise<Sealed> {
  const id = randomBytes(16).toString('hex');
  if (clip !== null) {
    const sealed = sealBuffer(key, readFileSync(join(VIDEOS, clip)));
    if (tamper) sealed[sealed.length >> 1] ^= 0x01;
    await swift.putObject(sourceContainer, `${id}.mp4`, sealed);
  }
  const url = await swift.tempUrl({
    method: 'GET',
    container: sourceContainer,
    object: `${id}.mp4`,
    expiresAtSec: Math.floor(Date.now() / 1000) + 3600,
    key: tempUrlKey,
  });
  return { id, url };
}

interface Job {
  prefix: string;
  jobName: string;
  results: string;
}

function newJob(): Job {
  const tag = randomBytes(5).toString('hex');
  const job = { prefix: `wt-${tag}`, jobName: `wt-job-${tag}`, results: `wt-job-${tag}-results` };
  prefixes.push(job.prefix);
  containers.push(job.results);
  return job;
}

interface WorkerRun {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function startWorker(job: Job, extraEnv: Record<string, string> = {}, script = join(REPO_ROOT, 'enclave', 'worker.ts')): WorkerRun {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    REDIS_HOST: services.redis.host,
    REDIS_PORT: String(services.redis.port),
    REDIS_DB: '0',
    REDIS_QUEUE: job.prefix,
    REDIS_STOP_KEY: `${job.prefix}:stop`,
    ITEM_LEASE_SECS: '15',
    QUEUE_POLL_SECS: '0.25',
    ENCRYPTION_KEY: key.toString('base64'),
    JOB_NAME: job.jobName,
    ST_AUTH: services.swift.authUrl,
    ST_USER: services.swift.user,
    ST_KEY: services.swift.key,
    WORKER_ENV_DIR: envDir,
    ...extraEnv,
  };
  const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
  // the bundle runs from a directory outside the repo, as in the image (/app): no node_modules to fall back on
  const child = spawn(process.execPath, args, {
    cwd: script.endsWith('.ts') ? REPO_ROOT : dirname(script),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk.toString('utf8')}`));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, lines, exited };
}

const messages = (lines: string[], message: string) =>
  lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.message === message);

/** The reference: `radiomics analyze --json --anonymise DIR` of the plain clip, in a child process. */
async function reference(clip: string): Promise<{ analysis: Record<string, unknown>; pngs: Buffer[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'worker-ref-'));
  try {
    const { stdout } = await run(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'radiomics.js'), 'analyze', join(VIDEOS, clip), '--json', '--anonymise', dir],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } },
    );
    const count = readdirSync(dir).length;
    const pngs = Array.from({ length: count }, (_, i) => readFileSync(join(dir, `${i}.png`)));
    return { analysis: JSON.parse(stdout) as Record<string, unknown>, pngs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function listNames(container: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of swift.listAllObjects(container)) names.push(entry.name);
  } catch {
    return [];
  }
  return names.sort();
}

async function queueState(job: Job) {
  return {
    main: await redis.llen(job.prefix),
    processing: await redis.llen(`${job.prefix}:processing`),
    errors: (await redis.lrange(`${job.prefix}:errors`, 0, -1)).sort(),
    reasons: await redis.hgetall(`${job.prefix}:error_reasons`),
  };
}

beforeAll(async () => {
  services = loadServices();
  swift = new SwiftClient({ auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }) });
  redis = new Redis({ host: services.redis.host, port: services.redis.port, db: 0, maxRetriesPerRequest: 2 });
  envDir = mkdtempSync(join(tmpdir(), 'worker-env-'));
  await swift.createContainer(sourceContainer);
  // a container key, not the account's: other suites may set the account key concurrently
  await swift.setContainerTempUrlKey(sourceContainer, tempUrlKey);
});

afterAll(async () => {
  for (const container of containers) {
    for (const name of await listNames(container))
      await swift.deleteObject(container, name, { ignoreMissing: true }).catch(() => undefined);
    await swift.deleteContainer(container, { ignoreMissing: true }).catch(() => undefined);
  }
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  rmSync(envDir, { recursive: true, force: true });
});

describe('enclave worker', () => {
  it('processes sealed clips into <id>.zip and <id>.json, records a tampered clip and a 404, and exits 0 on an empty queue', async () => {
    const job = newJob();
    const [a, b, tampered, missing] = await Promise.all([sealClip(CLIP_A), sealClip(CLIP_B), sealClip(CLIP_C, true), sealClip(null)]);
    await redis.rpush(job.prefix, a.url, tampered.url, missing.url, b.url);

    const worker = startWorker(job);
    const [code, refA, refB] = await Promise.all([worker.exited, reference(CLIP_A), reference(CLIP_B)]);

    expect(code).toBe(0);
    expect(await queueState(job)).toEqual({
      main: 0,
      processing: 0,
      errors: [tampered.url, missing.url].sort(),
      reasons: { [tampered.url]: 'authentication_failed', [missing.url]: 'http_404' },
    });
    expect(await listNames(job.results)).toEqual(
      [`${a.id}.json`, `${a.id}.zip`, `${b.id}.json`, `${b.id}.zip`, `${tampered.id}.error.json`, `${missing.id}.error.json`].sort(),
    );
    for (const [sealed, ref] of [
      [a, refA],
      [b, refB],
    ] as const) {
      const json = JSON.parse((await swift.getObjectBytes(job.results, `${sealed.id}.json`)).toString('utf8')) as Record<string, unknown>;
      const { item_id, ...analysis } = json;
      expect(item_id).toBe(sealed.id);
      expect(analysis).toEqual(ref.analysis);
      expect((analysis.label as { label_status: string }).label_status).toBe('unvalidated');
      const entries = readZip(await swift.getObjectBytes(job.results, `${sealed.id}.zip`));
      expect(entries.map((e) => e.name)).toEqual(Array.from({ length: ref.analysis.frames as number }, (_, i) => `${i}.png`));
      expect(entries.map((e) => e.data)).toEqual(ref.pngs);
    }
    expect(JSON.parse((await swift.getObjectBytes(job.results, `${tampered.id}.error.json`)).toString('utf8'))).toEqual({
      item_id: tampered.id,
      reason: 'authentication_failed',
    });
    expect(messages(worker.lines, 'item done').map((e) => e.item_id)).toEqual([b.id, a.id]);
    expect(messages(worker.lines, 'item failed').map((e) => [e.item_id, e.reason])).toEqual([
      [missing.id, 'http_404'],
      [tampered.id, 'authentication_failed'],
    ]);
    // no secrets in the logs: no TempURL signature, no key, no Swift key
    const log = worker.lines.join('\n');
    expect(log.includes('temp_url_sig')).toBe(false);
    expect(log.includes(key.toString('base64'))).toBe(false);
    expect(log.includes(tempUrlKey)).toBe(false);
  });

  it('a worker killed mid-item leaves it leased; after the lease expires another worker re-leases and completes it', async () => {
    const job = newJob();
    const clip = await sealClip(CLIP_C);
    await redis.rpush(job.prefix, clip.url);
    const leaseKey = `${job.prefix}:leased_by_session:${itemKey(clip.url)}`;

    const first = startWorker(job, { ITEM_LEASE_SECS: '2' });
    let session: string | null = null;
    for (let i = 0; i < 400 && session === null; i++) {
      session = await redis.get(leaseKey);
      if (session === null) await new Promise((r) => setTimeout(r, 25));
    }
    expect(session).not.toBeNull();
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await redis.lrange(`${job.prefix}:processing`, 0, -1)).toEqual([clip.url]);
    expect(await redis.llen(job.prefix)).toBe(0);

    const second = startWorker(job, { ITEM_LEASE_SECS: '2' });
    expect(await second.exited).toBe(0);
    expect(messages(second.lines, 'expired leases returned to the queue').map((e) => e.items)).toEqual([1]);
    expect(messages(second.lines, 'item done').map((e) => e.item_id)).toEqual([clip.id]);
    expect(await queueState(job)).toEqual({ main: 0, processing: 0, errors: [], reasons: {} });
    expect(await listNames(job.results)).toEqual([`${clip.id}.json`, `${clip.id}.zip`]);
    expect(await redis.exists(leaseKey)).toBe(0);
  });

  // The lease is short next to the item (a 43-frame clip), yet renewal keeps it; 3 s leaves room for the
  // event loop to be busy with a frame on a loaded machine (renewal runs every lease/3).
  it('a slow item is not re-leased by a second worker while its lease (3 s) is renewed', async () => {
    const job = newJob();
    const clip = await sealClip('VH020213M4_001390_20160406T111514.MP4'); // 43 frames
    await redis.rpush(job.prefix, clip.url);
    const workers = [startWorker(job, { ITEM_LEASE_SECS: '3' }), startWorker(job, { ITEM_LEASE_SECS: '3' })];
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    const done = workers.flatMap((w) => messages(w.lines, 'item done'));
    expect(done.map((e) => e.item_id)).toEqual([clip.id]);
    expect((done[0].seconds as number) > 3).toBe(true);
    expect(workers.flatMap((w) => messages(w.lines, 'expired leases returned to the queue'))).toEqual([]);
    expect(await queueState(job)).toEqual({ main: 0, processing: 0, errors: [], reasons: {} });
  });

  it('stops without leasing when the stop list has an item, leaving the queue as it was', async () => {
    const job = newJob();
    await redis.rpush(job.prefix, 'https://swift.invalid/v1/AUTH_x/c/one.mp4', 'https://swift.invalid/v1/AUTH_x/c/two.mp4');
    await redis.rpush(`${job.prefix}:stop`, 'stop');
    const worker = startWorker(job);
    expect(await worker.exited).toBe(0);
    expect(messages(worker.lines, 'stop requested: not leasing more items').length).toBe(1);
    expect(await redis.lrange(job.prefix, 0, -1)).toEqual([
      'https://swift.invalid/v1/AUTH_x/c/one.mp4',
      'https://swift.invalid/v1/AUTH_x/c/two.mp4',
    ]);
    expect(await redis.llen(`${job.prefix}:processing`)).toBe(0);
  });

  it('the bundled worker.mjs (what the image runs from /app) processes an item like the source', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'worker-bundle-'));
    try {
      const { bundle } = await buildWorkerBundle({ outDir });
      const job = newJob();
      const clip = await sealClip(CLIP_B);
      await redis.rpush(job.prefix, clip.url);
      const worker = startWorker(job, {}, bundle);
      const [code, ref] = await Promise.all([worker.exited, reference(CLIP_B)]);
      expect(code).toBe(0);
      const { item_id, ...analysis } = JSON.parse((await swift.getObjectBytes(job.results, `${clip.id}.json`)).toString('utf8')) as Record<
        string,
        unknown
      >;
      expect([item_id, analysis]).toEqual([clip.id, ref.analysis]);
      expect(readZip(await swift.getObjectBytes(job.results, `${clip.id}.zip`)).length).toBe(ref.pngs.length);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('exits 1 when Redis is unreachable and 2 on a configuration error', async () => {
    const job = newJob();
    const unreachable = startWorker(job, { REDIS_PORT: '1' });
    expect(await unreachable.exited).toBe(1);
    expect(messages(unreachable.lines, 'worker failed').length).toBe(1);
    const misconfigured = startWorker(job, { ENCRYPTION_KEY: 'short' });
    expect(await misconfigured.exited).toBe(2);
    expect(
      messages(misconfigured.lines, 'invalid configuration').map((e) =>
        (e.error_message as string).startsWith('ENCRYPTION_KEY: invalid key'),
      ),
    ).toEqual([true]);
  });
});
