import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServices, REPO_ROOT } from '#local/service-endpoints.js';
import { startAsperathosEmulator, type AsperathosEmulator, type AsperathosEmulatorOptions } from '#local/asperathos/index.js';
import { AsperathosClient, AsperathosError, JobNotFound, buildJob, type JobStatus, type KubejobsJob } from '#lib/asperathos/index.js';
import { RetryableError } from '#lib/errors.js';

const WORKLOADS: Record<string, string> = {
  '/five.txt':
    'https://swift.local/c/a.mp4\nhttps://swift.local/c/b.mp4\nhttps://swift.local/c/c.mp4\nhttps://swift.local/c/d.mp4\nhttps://swift.local/c/e.mp4\nhttps://swift.local/c/unterminated.mp4',
  '/with-bad.txt':
    "https://swift.local/c/ok-1.mp4\nhttps://swift.local/c/bad-1.mp4\nhttps://swift.local/c/ok-2.mp4\nhttps://swift.local/c/bad-'2.mp4\n",
  '/ten.txt': Array.from({ length: 10 }, (_, i) => `https://swift.local/c/${i}.mp4\n`).join(''),
};

let dir: string;
let workloadServer: Server;
let workloadBase: string;
let emulator: AsperathosEmulator;
let client: AsperathosClient;

const fakeWorker: AsperathosEmulatorOptions['workerCommand'] = () => ({
  cmd: process.execPath,
  args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'fake-worker.ts')],
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
  JSON.stringify({
    error_code: code,
    error_message: message,
    error_name: code === 400 ? 'BAD_REQUEST' : code === 401 ? 'UNAUTHORIZED' : 'INTERNAL_SERVER_ERROR',
  });

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
  emulator = await startAsperathosEmulator({
    redis: loadServices().redis,
    workerCommand: fakeWorker,
    pollMs: 100,
    users: { alice: 'secret' },
  });
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

  it('POST with a non-JSON content type, invalid JSON or an empty body gives 500 "Internal Server Error"', async () => {
    const body = JSON.stringify(job('/five.txt'));
    expect(await raw('POST', '/submissions', body, { 'content-type': 'text/plain' })).toEqual({
      status: 500,
      text: err(500, 'Internal Server Error'),
    });
    expect(await raw('POST', '/submissions', '{"plugin":', { 'content-type': 'application/json' })).toEqual({
      status: 500,
      text: err(500, 'Internal Server Error'),
    });
    expect(await raw('POST', '/submissions.json', '')).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
  });

  it('missing enable_auth, plugin_info or plugin names, or unknown names, give 500 "Internal Server Error"', async () => {
    const base = job('/five.txt') as unknown as Record<string, unknown>;
    const info = base.plugin_info as Record<string, unknown>;
    const post = (value: unknown) =>
      raw('POST', '/submissions', JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8' });
    const { enable_auth: _a, ...noAuth } = base;
    const { plugin_info: _p, ...noInfo } = base;
    const { plugin: _n, ...noPlugin } = base;
    expect(await post(noAuth)).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    expect(await post(noInfo)).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    expect(await post(noPlugin)).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    expect(await post({ ...base, plugin: 'spark' })).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    const { control_plugin: _c, ...noControl } = info;
    expect(await post({ ...base, plugin_info: noControl })).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    expect(await post({ ...base, plugin_info: { ...info, monitor_plugin: 'kubejobs_cost', visualizer_plugin: 'grafana' } })).toEqual({
      status: 500,
      text: err(500, 'Internal Server Error'),
    });
  });

  it('enable_auth without credentials gives 400 "Missing plugin fields in request"; wrong ones 401', async () => {
    const base = job('/five.txt');
    const post = (value: unknown) => raw('POST', '/submissions', JSON.stringify(value));
    expect(await post({ ...base, enable_auth: true })).toEqual({ status: 400, text: err(400, 'Missing plugin fields in request') });
    expect(await post({ ...base, enable_auth: true, username: 'alice', password: 'nope' })).toEqual({
      status: 401,
      text: err(401, 'Unauthorized'),
    });
    const authed = new AsperathosClient({ submissionsUrl: emulator.submissionsUrl, auth: { username: 'alice', password: 'nope' } });
    const error = (await authed.submit(base).catch((e: unknown) => e)) as AsperathosError;
    expect(error).toBeInstanceOf(AsperathosError);
    expect([error.status, error.errorName, error.managerMessage, error.message]).toEqual([
      401,
      'UNAUTHORIZED',
      'Unauthorized',
      'Asperathos refused to submit job: 401 UNAUTHORIZED: Unauthorized',
    ]);
  });

  it('a 500 reaches the client as RetryableError with the manager message', async () => {
    const bad = { ...job('/five.txt'), plugin: 'nope' };
    const error = (await client.submit(bad).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('Asperathos failed to submit job: 500: Internal Server Error');
  });

  it('an unknown job id: 400 with an empty message, except /errors (200 {}) and DELETE (400 with its message); the client says JobNotFound', async () => {
    const empty = { status: 400, text: err(400, '') };
    expect(await raw('GET', '/submissions/kj-0000000')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000.json')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/errors')).toEqual({ status: 200, text: '{}' });
    expect(await raw('GET', '/submissions/kj-0000000/report.json')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/visualizer')).toEqual(empty);
    expect(await raw('GET', '/submissions/kj-0000000/log')).toEqual(empty);
    expect(await raw('PUT', '/submissions/kj-0000000/stop', '{"enable_auth": false}')).toEqual(empty);
    expect(await raw('DELETE', '/submissions/kj-0000000')).toEqual({
      status: 400,
      text: err(400, 'Specified submission does not exists in this Asperathos instance!'),
    });
    expect(await client.errors('kj-0000000')).toEqual([]);
    for (const call of [
      () => client.get('kj-0000000'),
      () => client.stop('kj-0000000'),
      () => client.terminate('kj-0000000'),
      () => client.delete('kj-0000000'),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as JobNotFound;
      expect(error).toBeInstanceOf(JobNotFound);
      expect(error.message).toBe('Asperathos job kj-0000000 not found');
    }
  });

  it('PUT stop with {} answers 400 with an empty message; /log of a known job answers 500', async () => {
    const { jobId } = await client.submit(job('/five.txt'));
    expect(await raw('PUT', `/submissions/${jobId}/stop`, '{}')).toEqual({ status: 400, text: err(400, '') });
    expect(await raw('GET', `/submissions/${jobId}/log`)).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
    await waitForStatus(client, jobId, 'completed');
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
    expect(done.redis).toEqual({ ip: loadServices().redis.host, port: loadServices().redis.port });
    expect(done.progress).toBeNull();
    expect(Object.keys(done.raw)).toEqual([
      'app_id',
      'status',
      'starting_time',
      'visualizer_url',
      'redis_ip',
      'redis_port',
      'scaling_strategy',
      'heuristic_options',
      'max_error',
      'min_error',
      'final_replicas',
      'final_error',
      'execution_time',
    ]);
    expect(done.report).toMatchObject({
      scaling_strategy: 'default',
      heuristic_options: { proportional_gain: 0.1, derivative_gain: 0, integral_gain: 0 },
      max_error: 0,
      min_error: 0,
      final_replicas: 2,
      final_error: 0,
    });
    expect(typeof done.report.execution_time).toBe('number');
    expect(await raw('GET', `/submissions/${jobId}/errors`)).toEqual({ status: 200, text: '{}' });
    expect(await client.errors(jobId)).toEqual([]);
    const all = await client.list();
    expect(all[jobId].status).toBe('completed');
    expect(JSON.parse((await raw('GET', `/submissions/${jobId}/visualizer.json`)).text)).toEqual({ visualizer_url: 'URL not generated!' });
  });

  it('before setup finishes the job is created, not running yet, with no redis', async () => {
    const { jobId } = await client.submit(job('/slow.txt'));
    const early = JSON.parse((await raw('GET', `/submissions/${jobId}`)).text);
    expect(early).toEqual({
      app_id: jobId,
      status: 'created',
      starting_time: 'Job is not running yet!',
      visualizer_url: 'URL not generated!',
      redis_ip: null,
      redis_port: null,
    });
    await waitForStatus(client, jobId, 'completed');
  });

  it('failed items come back from /errors as Python bytes text, and decoded by the client', async () => {
    // RedisWQ leases with BRPOPLPUSH from the tail of an RPUSHed list: items are taken last first.
    const { jobId } = await client.submit(job('/with-bad.txt', { FAKE_WORKER_FAIL_ITEMS: 'bad' }));
    await waitForStatus(client, jobId, 'completed');
    expect(JSON.parse((await raw('GET', `/submissions/${jobId}/errors`)).text)).toEqual([
      'b"https://swift.local/c/bad-\'2.mp4"',
      "b'https://swift.local/c/bad-1.mp4'",
    ]);
    expect(await client.errors(jobId)).toEqual(["https://swift.local/c/bad-'2.mp4", 'https://swift.local/c/bad-1.mp4']);
  });

  it('a worker that exits non-zero makes the job failed', async () => {
    const { jobId } = await client.submit(job('/five.txt', { FAKE_WORKER_EXIT_CODE: '3' }));
    const failed = await waitForStatus(client, jobId, 'failed');
    expect(failed.report.final_replicas).toBe(1);
    expect(failed.progress).toBeNull();
  });

  it('plugin_info problems found after the 202 turn the job into error', async () => {
    const bad = job('/five.txt');
    bad.plugin_info.init_size = 0;
    const { jobId } = await client.submit(bad);
    const status = await waitForStatus(client, jobId, 'error');
    expect(status.raw).toEqual({
      app_id: jobId,
      status: 'error',
      starting_time: 'Job is not running yet!',
      visualizer_url: 'URL not generated!',
      redis_ip: null,
      redis_port: null,
    });
    expect(await client.report(jobId)).toEqual({});
    // Before the job's Redis existed, the manager has no Redis client to read job:errors with.
    expect(await raw('GET', `/submissions/${jobId}/errors`)).toEqual({ status: 500, text: err(500, 'Internal Server Error') });
  });

  it('a workload that cannot be downloaded turns the job into error', async () => {
    const { jobId } = await client.submit(job('/missing.txt'));
    const status = await waitForStatus(client, jobId, 'error');
    expect([status.raw.redis_ip, status.raw.redis_port]).toEqual([null, null]);
    expect((await raw('GET', `/submissions/${jobId}/errors`)).status).toBe(500);
  });

  it('stop empties the queue and ends the job as stopped once workers drain', async () => {
    const { jobId } = await client.submit(job('/ten.txt', { FAKE_WORKER_ITEM_MS: '1000' }));
    await waitForStatus(client, jobId, 'ongoing');
    await client.stop(jobId);
    expect((await client.get(jobId)).status).toBe('stopped');
    const end = Date.now() + 40_000;
    let status = await client.get(jobId);
    while (status.report.execution_time === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      status = await client.get(jobId);
    }
    expect(status.status).toBe('stopped');
    expect(status.report.final_replicas).toBe(1);
    // The deleted queue let the worker drain: done with no item left queued or in processing.
    expect(await client.errors(jobId)).toEqual([]);
  });

  it('terminate kills the workers; delete forgets the job', async () => {
    const { jobId } = await client.submit(job('/ten.txt', { FAKE_WORKER_ITEM_MS: '400' }));
    await waitForStatus(client, jobId, 'ongoing');
    await client.terminate(jobId);
    const terminated = await client.get(jobId);
    expect(terminated.status).toBe('terminated');
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
      // The restarted manager has no Redis client for a job of the earlier run.
      await expect(secondClient.errors(jobId)).rejects.toThrow(
        new RetryableError(`Asperathos failed to read errors of job ${jobId}: 500: Internal Server Error`),
      );
    } finally {
      await second.close();
    }
  });
});

describe('Asperathos emulator: resources lifetime and the visualizer', () => {
  it('job_resources_lifetime after the end the Redis is deleted: /errors says {} even for failed items, visualizer_url "Url is dead!"', async () => {
    const doomed = job('/with-bad.txt', { FAKE_WORKER_FAIL_ITEMS: 'bad' });
    doomed.plugin_info.job_resources_lifetime = 1;
    const { jobId } = await client.submit(doomed);
    await waitForStatus(client, jobId, 'completed');
    const end = Date.now() + 30_000;
    while ((await client.get(jobId)).raw.visualizer_url !== 'Url is dead!' && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    const dead = await client.get(jobId);
    expect([dead.status, dead.raw.visualizer_url, dead.visualizerUrl]).toEqual(['completed', 'Url is dead!', null]);
    expect(await raw('GET', `/submissions/${jobId}/errors`)).toEqual({ status: 200, text: '{}' });
  });

  it('enable_visualizer on a cluster without a visualizer: the job goes to error after its Redis was provisioned', async () => {
    const { jobId } = await client.submit(
      buildJob({
        workloadUrl: `${workloadBase}/five.txt`,
        image: 'radiomics:test',
        env: {},
        visualizer: { username: 'admin', password: 'g' },
      }),
    );
    const status = await waitForStatus(client, jobId, 'error');
    expect(status.raw).toMatchObject({
      starting_time: 'Job is not running yet!',
      visualizer_url: 'URL not generated!',
      redis_ip: loadServices().redis.host,
      redis_port: loadServices().redis.port,
    });
    expect(await raw('GET', `/submissions/${jobId}/errors`)).toEqual({ status: 200, text: '{}' });
  });

  it('enable_visualizer on a cluster with one: the dashboard URL while the job lives, then "Url is dead!"', async () => {
    const withGrafana = await startAsperathosEmulator({
      redis: loadServices().redis,
      workerCommand: fakeWorker,
      pollMs: 100,
      visualizerUrl: 'http://grafana.local:3000',
    });
    try {
      const c = new AsperathosClient({ submissionsUrl: withGrafana.submissionsUrl });
      const spec = buildJob({
        workloadUrl: `${workloadBase}/five.txt`,
        image: 'radiomics:test',
        env: {},
        visualizer: { username: 'admin', password: 'g' },
        resourcesLifetimeSecs: 2,
      });
      const { jobId } = await c.submit(spec);
      const done = await waitForStatus(c, jobId, 'completed');
      expect(done.visualizerUrl).toBe(`http://grafana.local:3000/d/${jobId}`);
      const end = Date.now() + 30_000;
      while ((await c.get(jobId)).raw.visualizer_url !== 'Url is dead!' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect((await c.get(jobId)).raw.visualizer_url).toBe('Url is dead!');
    } finally {
      await withGrafana.close();
    }
  });
});
