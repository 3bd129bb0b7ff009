import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServices, REPO_ROOT } from '../support/services.js';
import { startAsperathosEmulator, type AsperathosEmulator, type AsperathosEmulatorOptions } from '../../local/asperathos-emulator.js';
import { AsperathosClient, AsperathosError, JobNotFound, buildJob, type JobStatus, type KubejobsJob } from '../../lib/asperathos/index.js';
import { RetryableError } from '../../lib/errors.js';

const WORKLOADS: Record<string, string> = {
  '/five.txt': 'https://swift.local/c/a.mp4\nhttps://swift.local/c/b.mp4\nhttps://swift.local/c/c.mp4\nhttps://swift.local/c/d.mp4\nhttps://swift.local/c/e.mp4\nhttps://swift.local/c/unterminated.mp4',
  '/with-bad.txt': "https://swift.local/c/ok-1.mp4\nhttps://swift.local/c/bad-1.mp4\nhttps://swift.local/c/ok-2.mp4\nhttps://swift.local/c/bad-'2.mp4\n",
  '/ten.txt': Array.from({ length: 10 }, (_, i) => `https://swift.local/c/${i}.mp4\n`).join(''),
};

let dir: string;
let workloadServer: Server;
let workloadBase: string;
let emulator: AsperathosEmulator;
let client: AsperathosClient;

const fakeWorker: AsperathosEmulatorOptions['workerCommand'] = () => ({
  cmd: process.execPath,
  args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', 'fake-worker.ts')],
  cwd: REPO_ROOT,
});

function job(path: string, env: Record<string, string> = {}, initSize = 1): KubejobsJob {
  return buildJob({ workloadUrl: `${workloadBase}${path}`, image: 'radiomics:test', env: { ITEM_LEASE_SECS: '2', ...env }, initSize });
}

async function waitForStatus(c: AsperathosClient, id: string, wanted: string, timeoutMs = 40_000): Promise<JobStatus> {
  const end = Date.now() + timeoutMs;
  let last: JobStatus | undefined;
  while (Date.now() < end) {
    last = await c.get(id);
    if (last.status === wanted) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not reach ${wanted}; last status ${last?.status}`);
}

/** A request with exactly the given headers (fetch would add a text/plain content type to a string body). */
function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${emulator.url}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const err = (code: number, message: string) =>
  JSON.stringify({ error_code: code, error_message: message, error_name: code === 400 ? 'BAD_REQUEST' : code === 401 ? 'UNAUTHORIZED' : 'INTERNAL_SERVER_ERROR' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'asperathos-it-'));
  workloadServer = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/slow.txt') {
      setTimeout(() => res.end('https://swift.local/c/slow.mp4\n'), 1500);
      return;
    }
    const body = WORKLOADS[path];
    if (body === undefined) {
      res.writeHead(404).end('missing');
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => workloadServer.listen(0, '127.0.0.1', () => r()));
  workloadBase = `http://127.0.0.1:${(workloadServer.address() as { port: number }).port}`;
  emulator = await startAsperathosEmulator({ redis: loadServices().redis, workerCommand: fakeWorker, pollMs: 100, users: { alice: 'secret' } });
  client = new AsperathosClient({ submissionsUrl: emulator.submissionsUrl });
});

afterAll(async () => {
  await emulator?.close();
  workloadServer?.closeAllConnections();
  await new Promise<void>((r) => workloadServer.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('Asperathos emulator: request and error shapes', () => {
  it('GET /healthz and /healthz.json answer "OK"', async () => {
    expect(await raw('GET', '/healthz')).toEqual({ status: 200, text: '"OK"' });
    expect(await raw('GET', '/healthz.json')).toEqual({ status: 200, text: '"OK"' });
    expect(await client.health()).toBe(true);
  });

  it('POST with a non-JSON content type, invalid JSON or an empty body gives 500', async () => {
    const body = JSON.stringify(job('/five.txt'));
    expect(await raw('POST', '/submissions', body, { 'content-type': 'text/plain' })).toEqual({ status: 500, text: err(500, 'Unsupported Content-Type: text/plain') });
    expect(await raw('POST', '/submissions', '{"plugin":', { 'content-type': 'application/json' })).toEqual({ status: 500, text: err(500, 'Invalid JSON in request body') });
    expect(await raw('POST', '/submissions.json', '')).toEqual({ status: 500, text: err(500, 'Empty request body') });
  });

  it('missing enable_auth, plugin_info or plugin names, or unknown names, give 500', async () => {
    const base = job('/five.txt') as unknown as Record<string, unknown>;
    const info = base.plugin_info as Record<string, unknown>;
    const post = (value: unknown) => raw('POST', '/submissions', JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8' });
    const { enable_auth: _a, ...noAuth } = base;
    const { plugin_info: _p, ...noInfo } = base;
    const { plugin: _n, ...noPlugin } = base;
    expect(await post(noAuth)).toEqual({ status: 500, text: err(500, 'Missing field: enable_auth') });
    expect(await post(noInfo)).toEqual({ status: 500, text: err(500, 'Missing field: plugin_info') });
    expect(await post(noPlugin)).toEqual({ status: 500, text: err(500, 'Missing field: plugin') });
    expect(await post({ ...base, plugin: 'spark' })).toEqual({ status: 500, text: err(500, 'Unknown plugin: spark') });
    const { control_plugin: _c, ...noControl } = info;
    expect(await post({ ...base, plugin_info: noControl })).toEqual({ status: 500, text: err(500, 'Missing field: control_plugin') });
    expect(await post({ ...base, plugin_info: { ...info, monitor_plugin: 'kubejobs_cost', visualizer_plugin: 'grafana' } })).toEqual({
      status: 500,
      text: err(500, 'Unknown visualizer_plugin: grafana'),
    });
  });

  it('enable_auth without credentials gives 400 "Missing plugin fields in request"; wrong ones 401', async () => {
    const base = job('/five.txt');
    const post = (value: unknown) => raw('POST', '/submissions', JSON.stringify(value));
    expect(await post({ ...base, enable_auth: true })).toEqual({ status: 400, text: err(400, 'Missing plugin fields in request') });
    expect(await post({ ...base, enable_auth: true, username: 'alice', password: 'nope' })).toEqual({ status: 401, text: err(401, 'Unauthorized') });
    const authed = new AsperathosClient({ submissionsUrl: emulator.submissionsUrl, auth: { username: 'alice', password: 'nope' } });
    const error = (await authed.submit(base).catch((e: unknown) => e)) as AsperathosError;
    expect(error).toBeInstanceOf(AsperathosError);
    expect([error.status, error.errorName, error.managerMessage, error.message]).toEqual([401, 'UNAUTHORIZED', 'Unauthorized', 'Asperathos refused to submit job: 401 UNAUTHORIZED: Unauthorized']);
  });

  it('a 500 reaches the client as RetryableError with the manager message', async () => {
    const bad = { ...job('/five.txt'), plugin: 'nope' };
    const error = (await client.submit(bad).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('Asperathos failed to submit job: 500: Unknown plugin: nope');
  });

  it('an unknown job id gives 400 with an empty message on every job route; the client says JobNotFound', async () => {
    const empty = { status: 400, text: err(400, '') };
    expect(await raw('GET', '/submissions/kj-0000000')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000.json')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/errors')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/report.json')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/visualizer')).toEqual(empty);
    expect(await raw('PUT', '/submissions/kj-0000000/stop', '{"enable_auth": false}')).toEqual(empty);
    expect(await raw('DELETE', '/submissions/kj-0000000')).toEqual(empty);
    for (const call of [() => client.get('kj-0000000'), () => client.stop('kj-0000000'), () => client.terminate('kj-0000000'), () => client.delete('kj-0000000'), () => client.errors('kj-0000000')]) {
      const error = (await call().catch((e: unknown) => e)) as JobNotFound;
      expect(error).toBeInstanceOf(JobNotFound);
      expect(error.message).toBe('Asperathos job kj-0000000 not found');
    }
  });

  it('an unreachable manager gives RetryableError and health() false', async () => {
    const down = new AsperathosClient({ submissionsUrl: `http://127.0.0.1:${await closedPort()}/submissions` });
    const error = (await down.get('kj-1234567').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('Asperathos is unreachable to get job kj-1234567 (ECONNREFUSED)');
    expect(await down.health()).toBe(false);
  });
});

describe('Asperathos emulator: jobs with real Redis and worker processes', () => {
  it('a job goes created → ongoing → completed; the unterminated last line is dropped', async () => {
    const { jobId } = await client.submit(job('/five.txt', {}, 2));
    expect(jobId).toMatch(/^kj-[0-9a-f]{7}$/);
    const done = await waitForStatus(client, jobId, 'completed');
    expect(done.raw.starting_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}GMT$/);
    expect(done.startingTime).toBeInstanceOf(Date);
    expect(done.raw.visualizer_url).toBe('URL not generated!');
    expect(done.redis).toEqual(loadServices().redis.host === done.raw.redis_ip ? { ip: loadServices().redis.host, port: loadServices().redis.port } : null);
    expect(done.progress).toEqual({ items: 5, processed: 5 });
    expect(done.report.final_replicas).toBe(2);
    expect(done.report.worker_exit_codes).toEqual([0, 0]);
    expect(typeof done.report.execution_time).toBe('number');
    expect(Object.keys(done.raw).slice(0, 6)).toEqual(['app_id', 'status', 'starting_time', 'visualizer_url', 'redis_ip', 'redis_port']);
    expect(await client.errors(jobId)).toEqual([]);
    const all = await client.list();
    expect(all[jobId].status).toBe('completed');
    expect(JSON.parse((await raw('GET', `/submissions/${jobId}/visualizer.json`)).text)).toEqual({ visualizer_url: 'URL not generated!' });
  });

  it('before setup finishes the job is created, not running yet, with no redis', async () => {
    const { jobId } = await client.submit(job('/slow.txt'));
    const early = JSON.parse((await raw('GET', `/submissions/${jobId}`)).text);
    expect(early).toEqual({ app_id: jobId, status: 'created', starting_time: 'Job is not running yet!', visualizer_url: 'URL not generated!', redis_ip: null, redis_port: null });
    await waitForStatus(client, jobId, 'completed');
  });

  it('failed items come back from /errors as Python bytes text, and decoded by the client', async () => {
    // RedisWQ leases with BRPOPLPUSH from the tail of an RPUSHed list: items are taken last first.
    const { jobId } = await client.submit(job('/with-bad.txt', { FAKE_WORKER_FAIL_ITEMS: 'bad' }));
    await waitForStatus(client, jobId, 'completed');
    expect(JSON.parse((await raw('GET', `/submissions/${jobId}/errors`)).text)).toEqual(['b"https://swift.local/c/bad-\'2.mp4"', "b'https://swift.local/c/bad-1.mp4'"]);
    expect(await client.errors(jobId)).toEqual(["https://swift.local/c/bad-'2.mp4", 'https://swift.local/c/bad-1.mp4']);
  });

  it('a worker that exits non-zero makes the job failed', async () => {
    const { jobId } = await client.submit(job('/five.txt', { FAKE_WORKER_EXIT_CODE: '3' }));
    const failed = await waitForStatus(client, jobId, 'failed');
    expect(failed.report.worker_exit_codes).toEqual([3]);
    expect(failed.progress).toEqual({ items: 5, processed: 0 });
  });

  it('plugin_info problems found after the 202 turn the job into error', async () => {
    const bad = job('/five.txt');
    bad.plugin_info.init_size = 0;
    const { jobId } = await client.submit(bad);
    const status = await waitForStatus(client, jobId, 'error');
    expect(status.raw).toEqual({ app_id: jobId, status: 'error', starting_time: 'Job is not running yet!', visualizer_url: 'URL not generated!', redis_ip: null, redis_port: null });
    expect(await client.report(jobId)).toEqual({ error: 'plugin_info.init_size must be an integer > 0' });
  });

  it('a workload that cannot be downloaded turns the job into error', async () => {
    const { jobId } = await client.submit(job('/missing.txt'));
    await waitForStatus(client, jobId, 'error');
    expect(await client.report(jobId)).toEqual({ error: 'workload download failed: workload download answered 404' });
  });

  it('stop empties the queue and ends the job as stopped once workers drain', async () => {
    const { jobId } = await client.submit(job('/ten.txt', { FAKE_WORKER_ITEM_MS: '1000' }));
    const ongoing = await waitForStatus(client, jobId, 'ongoing');
    expect(ongoing.progress?.items).toBe(10);
    await new Promise((r) => setTimeout(r, 1500));
    await client.stop(jobId);
    expect((await client.get(jobId)).status).toBe('stopped');
    const end = Date.now() + 20_000;
    let status = await client.get(jobId);
    while (status.report.worker_exit_codes === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      status = await client.get(jobId);
    }
    expect(status.status).toBe('stopped');
    expect(status.report.worker_exit_codes).toEqual([0]);
    // Ten items at one second each would take ten seconds: the deleted queue let the worker finish early.
    expect(status.report.execution_time).toBeLessThan(7);
    // items − (LLEN job + LLEN job:processing) counts the deleted items too, as the manager's formula does.
    expect(status.progress).toEqual({ items: 10, processed: 10 });
  });

  it('terminate kills the workers; delete forgets the job', async () => {
    const { jobId } = await client.submit(job('/ten.txt', { FAKE_WORKER_ITEM_MS: '400' }));
    await waitForStatus(client, jobId, 'ongoing');
    await client.terminate(jobId);
    const terminated = await client.get(jobId);
    expect(terminated.status).toBe('terminated');
    expect(terminated.progress!.processed).toBeLessThan(10);
    await client.delete(jobId);
    await expect(client.get(jobId)).rejects.toBeInstanceOf(JobNotFound);
  });

  it('a restarted emulator with the same state dir still knows its jobs and finishes the running one', async () => {
    const stateDir = join(dir, 'state');
    const options = { redis: loadServices().redis, workerCommand: fakeWorker, pollMs: 100, stateDir };
    const first = await startAsperathosEmulator(options);
    const firstClient = new AsperathosClient({ submissionsUrl: first.submissionsUrl });
    const { jobId } = await firstClient.submit(job('/ten.txt', { FAKE_WORKER_ITEM_MS: '300' }));
    const before = await waitForStatus(firstClient, jobId, 'ongoing');
    await new Promise((r) => setTimeout(r, 1000));
    await first.close();
    const second = await startAsperathosEmulator(options);
    try {
      const secondClient = new AsperathosClient({ submissionsUrl: second.submissionsUrl });
      const done = await waitForStatus(secondClient, jobId, 'completed');
      expect(done.raw.starting_time).toBe(before.raw.starting_time);
      expect(done.progress).toEqual({ items: 10, processed: 10 });
    } finally {
      await second.close();
    }
  });
});
