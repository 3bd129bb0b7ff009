/**
 * The manager restarts after a job ended and before sync-status saw the end: the real manager then answers 500
 * on `/errors` for that job (the rebuilt job has no Redis client). The batch must still be recorded as ended,
 * in one sync tick, with its failed items taken from the results container.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '#local/stack.js';
import { runClips, type RunReport } from '#local/run-clips.js';
import { LOCAL_TABLE } from '#local/intake-stack.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { SHARED_DIR } from '#local/service-endpoints.js';
import { setTimeout as sleep } from 'node:timers/promises';

const CLIPS = ['VH020213M4_001390_20160406T111534.MP4', 'VH020213M4_001418_20160407T115216.MP4'].map((name) =>
  join(SHARED_DIR, 'samples', 'videos', name),
);

let stack: Stack;
let stateDir: string;
let report: RunReport;
let errorsAfterRestart: unknown;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'e2e-restart-'));
  stack = await startStack({ mode: 'SIM', windowSecs: 4, quietSecs: 0, tickMs: 1000, workers: 1, asperathosStateDir: stateDir });
  stack.pauseSync(true);
  const running = runClips(stack, CLIPS, { tenant: 'restart', timeoutMs: 540_000 });
  const jobs = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
  for (let ended = false; !ended; ) {
    const list = await jobs.list().catch(() => ({}));
    ended = Object.values(list).some((job) => job.status === 'completed' || job.status === 'failed');
    if (!ended) await sleep(250);
  }
  await stack.restartAsperathos();
  const [jobId] = Object.keys(await jobs.list());
  errorsAfterRestart = await jobs.errors(jobId).catch((error: unknown) => error);
  stack.pauseSync(false);
  report = await running;
}, 600_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe('end to end: the manager restarts after the job ended', () => {
  it("the restarted manager cannot read the job's errors (500)", () => {
    expect(String(errorsAfterRestart)).toMatch(
      /^RetryableError: Asperathos failed to read errors of job kj-[0-9a-f]{7}: 500: Internal Server Error$/,
    );
  });

  it('the batch is still recorded completed, with its failed items from the results container', async () => {
    expect(report.jobs).toHaveLength(1);
    const [job] = report.jobs;
    expect([job.status, job.apiStatus]).toEqual(['completed', 'completed']);
    expect(job.apiProgress).toEqual({ done: 2, total: 2, percent: 100, source: 'results' });
    const batch = await new DynamoJobStatusStore(stack.dynamo.doc, LOCAL_TABLE).getBatch(job.batchId);
    expect(batch).toMatchObject({
      state: 'completed',
      pollFailures: 0,
      jobState: { status: 'completed', failedCount: 0, failedItemsSource: 'results' },
    });
    expect(report.clips.map((clip) => clip.apiStage?.stage)).toEqual(['done', 'done']);
  });
});
