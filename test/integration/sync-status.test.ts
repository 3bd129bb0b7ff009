/** sync-status against dynalite and the Asperathos emulator (real fake-worker processes, real Redis). */
import { describe, it, expect, beforeAll, afterAll, jest } from '@jest/globals';
import { AsperathosClient, type JobManager } from '#lib/asperathos/index.js';
import { RetryableError } from '#lib/errors.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { createLogger } from '#lib/log.js';
import { DEFAULT_SYNC_SETTINGS, syncActiveJobs, type SyncDeps, type SyncSettings } from '#lib/status/sync.js';
import type { BatchRecord } from '#lib/store/records.js';
import { startFaultyProxy, type FaultyProxy } from '#test/support/faulty-proxy.js';
import { hex32, startStatusRig, waitFor, type StatusRig, type SubmittedJob } from '#test/support/status-rig.js';

let rig: StatusRig;
let proxy: FaultyProxy;

// Jobs run real worker processes: waits are on state, with ceilings generous enough for a loaded machine.
jest.setTimeout(240_000);

beforeAll(async () => {
  rig = await startStatusRig();
  proxy = await startFaultyProxy(rig.asperathos.url);
}, 60_000);
afterAll(async () => {
  await proxy.close();
  await rig.close();
});

function deps(overrides: Partial<SyncDeps> = {}, settings: Partial<SyncSettings> = {}): SyncDeps {
  return {
    store: rig.store,
    jobs: rig.client,
    swift: rig.swift,
    settings: { ...DEFAULT_SYNC_SETTINGS, backoffBaseMs: 1000, ...settings },
    log: createLogger({}, { level: 'error' }),
    ...overrides,
  };
}

const row = async (batchId: string) => (await rig.store.getBatch(batchId)) as BatchRecord;

/** The jobs sync-status would poll (the active index's jobs). */
async function activeIds(): Promise<string[]> {
  const ids: string[] = [];
  let after: Record<string, unknown> | undefined;
  do {
    const page = await rig.store.activeJobs(100, after);
    ids.push(...page.batches.map((batch) => batch.batchId));
    after = page.cursor;
  } while (after);
  return ids;
}

async function emulatorStatus(jobId: string, status: string) {
  await waitFor(`${jobId} ${status}`, async () => ((await rig.client.get(jobId)).status === status ? true : undefined));
}

/** Syncs until the batch's recorded status is `status`. */
async function syncUntil(batchId: string, status: string, d = deps()): Promise<BatchRecord> {
  return waitFor(`${batchId} recorded ${status}`, async () => {
    await syncActiveJobs(d);
    const b = await row(batchId);
    return b.jobState?.status === status ? b : undefined;
  });
}

describe('sync-status: every Asperathos status', () => {
  it('created: a job whose workload is still downloading is recorded as created and stays active', async () => {
    rig.holdWorkloads(true);
    try {
      const job = await rig.submit({ items: 1 });
      const summary = await syncActiveJobs(deps());
      expect(summary.byJob[job.batchId]).toBe('updated');
      const b = await row(job.batchId);
      expect(b.jobState).toEqual({ status: 'created' });
      expect(b.state).toBe('submitted');
      expect(await activeIds()).toContain(job.batchId);
      expect((await syncActiveJobs(deps())).byJob[job.batchId]).toBe('unchanged');
    } finally {
      rig.holdWorkloads(false);
    }
  });

  it('ongoing → completed: records starting time and progress from the results container, then ends in one tick on /errors {}', async () => {
    const job = await rig.submit({ items: 3, results: true, env: { FAKE_WORKER_ITEM_MS: '400' } });
    const ongoing = await syncUntil(job.batchId, 'ongoing');
    expect(ongoing.jobState?.startingTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(ongoing.jobState?.progress).toMatchObject({ total: 3, source: 'results' });
    expect(ongoing.staleSince).toBeUndefined();
    await emulatorStatus(job.jobId, 'completed');
    expect(await rig.client.errors(job.jobId)).toEqual([]);
    const summary = await syncActiveJobs(deps());
    expect(summary.byJob[job.batchId]).toBe('terminal');
    const done = await row(job.batchId);
    expect(done.state).toBe('completed');
    expect(done.jobState).toMatchObject({
      status: 'completed',
      progress: { done: 3, total: 3, source: 'results' },
      failedCount: 0,
      failedItemsSource: 'manager',
    });
    expect(done.jobState?.failedItems).toBeUndefined();
    expect(done.jobState?.visualizerUrl).toBeUndefined();
    expect(done.jobState?.report).toMatchObject({
      scaling_strategy: 'default',
      max_error: 0,
      min_error: 0,
      final_replicas: 1,
      final_error: 0,
    });
    expect(typeof done.jobState?.report?.execution_time).toBe('number');
    expect(done.jobState?.endedAt).toBe(new Date(done.observedAtMs!).toISOString());
    expect(done.wrappedKey).toBe('wrapped-key-material');
    expect(await activeIds()).not.toContain(job.batchId);
    expect((await syncActiveJobs(deps())).byJob[job.batchId]).toBeUndefined();
  });

  it('completed with failed items: records the item ids from /errors, never the URLs', async () => {
    const videoIds = [hex32(), hex32(), hex32()];
    const job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_FAIL_ITEMS: videoIds[1] } });
    await emulatorStatus(job.jobId, 'completed');
    const done = await syncUntil(job.batchId, 'completed');
    expect(done.jobState).toMatchObject({
      failedItems: [videoIds[1]],
      failedCount: 1,
      failedItemsSource: 'manager',
      progress: { done: 3, total: 3 },
    });
    expect(JSON.stringify(done.jobState)).not.toContain('http');
  });

  it('failed: workers exiting non-zero fail the job and the batch, with a reason', async () => {
    const job = await rig.submit({ items: 2, env: { FAKE_WORKER_EXIT_CODE: '3' } });
    await emulatorStatus(job.jobId, 'failed');
    const b = await syncUntil(job.batchId, 'failed');
    expect(b).toMatchObject({
      state: 'failed',
      reason: 'job_failed',
      jobState: { status: 'failed', reason: 'job_failed', progress: { done: 0, total: 2 } },
    });
    // `/errors` says {} (no item reached job:errors), but no item has a result: both failed.
    expect(b.jobState).toMatchObject({ failedItems: [...job.videoIds].sort(), failedCount: 2, failedItemsSource: 'results' });
    expect(await activeIds()).not.toContain(job.batchId);
  });

  it('error: a job whose setup fails is recorded as error', async () => {
    const job = await rig.submit({ items: 1, pluginInfo: { init_size: 0 } });
    await emulatorStatus(job.jobId, 'error');
    // Before its Redis existed: /errors answers 500. The job still ends in one tick, its item failed.
    await expect(rig.client.errors(job.jobId)).rejects.toThrow(
      new RetryableError(`Asperathos failed to read errors of job ${job.jobId}: 500: Internal Server Error`),
    );
    expect((await syncActiveJobs(deps())).byJob[job.batchId]).toBe('terminal');
    const b = await row(job.batchId);
    expect(b).toMatchObject({ state: 'failed', reason: 'job_setup_error', jobState: { status: 'error', reason: 'job_setup_error' } });
    expect(b.jobState).toMatchObject({ failedItems: job.videoIds, failedCount: 1, failedItemsSource: 'results' });
  });

  it('stopped and terminated: both end polling with their own reasons', async () => {
    const stopped = await rig.submit({ items: 3, env: { FAKE_WORKER_ITEM_MS: '3000' } });
    const terminated = await rig.submit({ items: 3, env: { FAKE_WORKER_ITEM_MS: '3000' } });
    await emulatorStatus(stopped.jobId, 'ongoing');
    await emulatorStatus(terminated.jobId, 'ongoing');
    await rig.client.stop(stopped.jobId);
    await rig.client.terminate(terminated.jobId);
    expect(await syncUntil(stopped.batchId, 'stopped')).toMatchObject({ state: 'failed', reason: 'job_stopped' });
    expect(await syncUntil(terminated.batchId, 'terminated')).toMatchObject({ state: 'failed', reason: 'job_terminated' });
    expect(await activeIds()).not.toEqual(expect.arrayContaining([stopped.batchId]));
    expect(await activeIds()).not.toEqual(expect.arrayContaining([terminated.batchId]));
  });

  it('not found (the manager lost the job in Kubernetes): terminal, reason recorded', async () => {
    rig.holdWorkloads(true);
    try {
      const job = await rig.submit({ items: 1 });
      const lostInCluster: JobManager = Object.create(rig.client);
      lostInCluster.get = async (id, options) => {
        const status = await rig.client.get(id, options);
        return id === job.jobId ? { ...status, status: 'not found' } : status;
      };
      const b = await syncUntil(job.batchId, 'not found', deps({ jobs: lostInCluster }));
      expect(b).toMatchObject({ state: 'failed', reason: 'job_not_found_in_cluster' });
    } finally {
      rig.holdWorkloads(false);
    }
  });

  it('a job Asperathos no longer knows is retried notFoundLimit times, then marked lost, not polled forever', async () => {
    const job = await rig.submit({ items: 1 });
    await emulatorStatus(job.jobId, 'completed');
    await rig.client.delete(job.jobId);
    let now = Date.now();
    const d = deps({ now: () => now }, { notFoundLimit: 2, backoffBaseMs: 1000 });
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('not_found');
    expect(await row(job.batchId)).toMatchObject({ state: 'submitted', notFoundCount: 1 });
    now += 1001;
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('lost');
    const b = await row(job.batchId);
    expect(b).toMatchObject({
      state: 'failed',
      reason: 'job_unknown_to_asperathos',
      notFoundCount: 2,
      jobState: { status: 'lost', reason: 'job_unknown_to_asperathos' },
    });
    expect(b.staleSince).toBeUndefined();
    expect(await activeIds()).not.toContain(job.batchId);
  });
});

describe('sync-status: Asperathos unreachable', () => {
  it('keeps the last known state with stale_since, backs off, and recovers without losing anything', async () => {
    rig.holdWorkloads(true);
    let job: SubmittedJob;
    try {
      job = await rig.submit({ items: 2, results: true });
      await syncUntil(job.batchId, 'created');
    } finally {
      rig.holdWorkloads(false);
    }
    const known = await row(job.batchId);
    let now = Date.now() + 1;
    const viaProxy = new AsperathosClient({ submissionsUrl: `${proxy.url}/submissions`, timeoutMs: 1000 });
    const d = deps({ jobs: viaProxy, now: () => now }, { backoffBaseMs: 10_000, backoffMaxMs: 40_000 });
    proxy.reset();
    proxy.failNext(1000, { status: 503 });
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('stale');
    const stale = await row(job.batchId);
    expect(stale.jobState).toEqual(known.jobState);
    expect(stale).toMatchObject({
      state: 'submitted',
      staleSince: new Date(now).toISOString(),
      pollFailures: 1,
      nextPollAtMs: now + 10_000,
    });
    const firstStale = stale.staleSince;
    const calls = proxy.requests.length;
    now += 5_000;
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('backing_off');
    expect(proxy.requests.length - calls).toBe(0);
    now += 5_001;
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('stale');
    expect(await row(job.batchId)).toMatchObject({ staleSince: firstStale, pollFailures: 2, nextPollAtMs: now + 20_000 });
    proxy.reset();
    now += 20_001;
    await emulatorStatus(job.jobId, 'completed');
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('terminal');
    const recovered = await row(job.batchId);
    expect(recovered).toMatchObject({
      state: 'completed',
      pollFailures: 0,
      jobState: { status: 'completed', progress: { done: 2, total: 2 } },
    });
    expect(recovered.staleSince).toBeUndefined();
    expect(recovered.nextPollAtMs).toBeUndefined();
  });

  it('after breakerThreshold consecutive failures the tick stops calling and only marks the rest stale', async () => {
    rig.holdWorkloads(true);
    try {
      const jobs = [await rig.submit({ items: 1 }), await rig.submit({ items: 1 }), await rig.submit({ items: 1 })];
      const now = Date.now() + 1;
      let calls = 0;
      const down: JobManager = Object.create(rig.client);
      down.get = async () => {
        calls++;
        return new AsperathosClient({ submissionsUrl: 'http://127.0.0.1:1/submissions', timeoutMs: 300 }).get('kj-0000000');
      };
      const summary = await syncActiveJobs(deps({ jobs: down, now: () => now }, { breakerThreshold: 2, concurrency: 1 }));
      expect(summary.breakerOpen).toBe(true);
      expect(calls).toBe(2);
      expect(summary.outcomes.stale).toBe(summary.active - summary.outcomes.backing_off);
      for (const job of jobs) expect((await row(job.batchId)).staleSince).toBe(new Date(now).toISOString());
    } finally {
      rig.holdWorkloads(false);
    }
  });
});

describe('sync-status: conditional updates', () => {
  it('an older poll that answers last never overwrites a newer state', async () => {
    const job = await rig.submit({ items: 1 });
    await emulatorStatus(job.jobId, 'completed');
    const stale = await rig.client.get(job.jobId);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: JobManager = Object.create(rig.client);
    slow.get = async (id, options) => {
      if (id !== job.jobId) return rig.client.get(id, options);
      await gate;
      return { ...stale, status: 'ongoing', report: {} };
    };
    const base = Date.now();
    const older = syncActiveJobs(deps({ jobs: slow, now: () => base + 1 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const newer = await syncActiveJobs(deps({ now: () => base + 2 }));
    expect(newer.byJob[job.batchId]).toBe('terminal');
    release();
    expect((await older).byJob[job.batchId]).toBe('superseded');
    expect(await row(job.batchId)).toMatchObject({ state: 'completed', jobState: { status: 'completed' }, observedAtMs: base + 2 });
  });

  it('the store refuses an observation older than the stored one', async () => {
    rig.holdWorkloads(true);
    try {
      const job = await rig.submit({ items: 1 });
      const t = Date.now();
      expect(
        await rig.store.recordObservation({ batchId: job.batchId, jobId: job.jobId, observedAtMs: t, jobState: { status: 'ongoing' } }),
      ).toBe(true);
      expect(
        await rig.store.recordObservation({ batchId: job.batchId, jobId: job.jobId, observedAtMs: t - 1, jobState: { status: 'created' } }),
      ).toBe(false);
      expect(
        await rig.store.recordObservation({
          batchId: job.batchId,
          jobId: 'kj-other00',
          observedAtMs: t + 1,
          jobState: { status: 'failed' },
        }),
      ).toBe(false);
      expect(
        await rig.store.recordUnreachable({
          batchId: job.batchId,
          jobId: job.jobId,
          observedAtMs: t,
          staleSince: 'x',
          pollFailures: 1,
          nextPollAtMs: 0,
        }),
      ).toBe(false);
      expect((await row(job.batchId)).jobState).toEqual({ status: 'ongoing' });
    } finally {
      rig.holdWorkloads(false);
    }
  });
});

describe('sync-status: crypto-shredding', () => {
  it('with shredKeysOnTerminal, a finished job loses its wrapped key', async () => {
    const job = await rig.submit({ items: 1 });
    await emulatorStatus(job.jobId, 'completed');
    await syncUntil(job.batchId, 'completed', deps({}, { shredKeysOnTerminal: true }));
    const b = await row(job.batchId);
    expect(b.wrappedKey).toBeUndefined();
    expect(b.keyShreddedAt).toBe(new Date(b.observedAtMs!).toISOString());
  });
});

describe("sync-status against the real manager's /errors answers: every finished job ends", () => {
  it('progress while ongoing counts <id>.json and <id>.error.json, without items in the status JSON, and keeps the errors seen', async () => {
    const videoIds = [hex32(), hex32(), hex32()];
    const job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_ITEM_MS: '1500', FAKE_WORKER_FAIL_ITEMS: videoIds[2] } });
    const midway = await waitFor(`${job.batchId} progress between 0 and 3 while ongoing`, async () => {
      await syncActiveJobs(deps());
      const b = await row(job.batchId);
      const p = b.jobState?.progress;
      return b.jobState?.status === 'ongoing' && p && p.done > 0 && p.done < 3 ? b : undefined;
    });
    expect(midway.jobState?.progress).toMatchObject({ total: 3, source: 'results' });
    expect((await rig.client.get(job.jobId)).raw).not.toHaveProperty('items');
    // RedisWQ takes the last line first: the failed item is the first one processed.
    expect(midway.jobState).toMatchObject({ failedItems: [videoIds[2]], failedCount: 1, failedItemsSource: 'manager' });
  });

  it('Redis deleted after job_resources_lifetime: /errors says {} despite a failed item, which comes from the results container', async () => {
    const videoIds = [hex32(), hex32()];
    const job = await rig.submit({
      videoIds,
      results: true,
      env: { FAKE_WORKER_FAIL_ITEMS: videoIds[0] },
      pluginInfo: { job_resources_lifetime: 1 },
    });
    await waitFor(`${job.jobId} resources deleted`, async () =>
      (await rig.client.get(job.jobId)).raw.visualizer_url === 'Url is dead!' ? true : undefined,
    );
    expect(await rig.client.errors(job.jobId)).toEqual([]);
    expect((await syncActiveJobs(deps())).byJob[job.batchId]).toBe('terminal');
    const b = await row(job.batchId);
    expect(b).toMatchObject({
      state: 'completed',
      jobState: {
        status: 'completed',
        failedItems: [videoIds[0]],
        failedCount: 1,
        failedItemsSource: 'results',
        progress: { done: 2, total: 2 },
      },
    });
    expect(b.jobState?.visualizerUrl).toBeUndefined();
  });

  it('a manager restarted after the end answers 500 on /errors; the job still ends in one tick with its failed items', async () => {
    const videoIds = [hex32(), hex32(), hex32()];
    const job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_FAIL_ITEMS: `${videoIds[0]},${videoIds[1]}` } });
    await emulatorStatus(job.jobId, 'completed');
    await rig.restartAsperathos();
    expect((await rig.client.get(job.jobId)).status).toBe('completed');
    await expect(rig.client.errors(job.jobId)).rejects.toThrow(
      new RetryableError(`Asperathos failed to read errors of job ${job.jobId}: 500: Internal Server Error`),
    );
    expect((await syncActiveJobs(deps())).byJob[job.batchId]).toBe('terminal');
    expect(await row(job.batchId)).toMatchObject({
      state: 'completed',
      pollFailures: 0,
      jobState: { status: 'completed', failedItems: [videoIds[0], videoIds[1]].sort(), failedCount: 2, failedItemsSource: 'results' },
    });
  });

  it('when neither /errors nor the results container can be read, a finished job is retried settleRetryLimit ticks, then ends with the last list seen', async () => {
    const videoIds = [hex32(), hex32()];
    const job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_ITEM_MS: '800', FAKE_WORKER_FAIL_ITEMS: videoIds[1] } });
    await waitFor(`${job.batchId} failed item seen while ongoing`, async () => {
      await syncActiveJobs(deps());
      const b = await row(job.batchId);
      return b.jobState?.status === 'ongoing' && b.jobState.failedCount === 1 ? b : undefined;
    });
    await emulatorStatus(job.jobId, 'completed');
    const blind: JobManager = Object.create(rig.client);
    blind.errors = async () => {
      throw new RetryableError('Asperathos failed to read errors: 500: Internal Server Error');
    };
    const swiftDown: SwiftStore = Object.create(rig.swift);
    swiftDown.listObjects = async () => {
      throw new RetryableError('Swift is unreachable');
    };
    let now = Date.now() + 1;
    const d = deps({ jobs: blind, swift: swiftDown, now: () => now }, { settleRetryLimit: 3, backoffBaseMs: 1000, backoffMaxMs: 1000 });
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('stale');
    now += 1001;
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('stale');
    now += 1001;
    expect((await syncActiveJobs(d)).byJob[job.batchId]).toBe('terminal');
    expect(await row(job.batchId)).toMatchObject({
      state: 'completed',
      jobState: { status: 'completed', failedItems: [videoIds[1]], failedCount: 1, failedItemsSource: 'last_seen' },
    });
  });
});
