/**
 * The whole system, SIM mode: local stack (s3rver → intake → Swift; batch on its local schedule; Asperathos
 * emulator running the real enclave worker processes), on three sample clips.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { join } from 'node:path';
import { startStack, type Stack } from '#local/stack.js';
import { runClips, type RunReport } from '#local/run-clips.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { LOCAL_TABLE } from '#local/intake-stack.js';
import { SHARED_DIR } from '#local/service-endpoints.js';
import { analyzePlain } from '#test/support/analyze-plain.js';

const CLIPS = [
  'VH020213M4_001390_20160406T111534.MP4',
  'VH020213M4_001559_20160429T120933.MP4',
  'VH020213M4_001418_20160407T115216.MP4',
].map((name) => join(SHARED_DIR, 'samples', 'videos', name));

let stack: Stack;
let report: RunReport;

beforeAll(async () => {
  stack = await startStack({ mode: 'SIM', windowSecs: 3, quietSecs: 0, tickMs: 1000, workers: 2 });
  report = await runClips(stack, CLIPS, { tenant: 'e2e' });
}, 600_000);

afterAll(async () => stack?.stop(), 60_000);

describe('end to end, SIM mode', () => {
  it('one batch, one completed job', () => {
    expect(report.jobs).toHaveLength(1);
    expect(report.jobs[0].status).toBe('completed');
    expect(report.jobs[0].jobId).toMatch(/^kj-[0-9a-f]{7}$/);
  });

  it('every clip has its results zip and JSON in Swift', async () => {
    const swift = new SwiftClient({
      auth: new TempAuth({ authUrl: stack.services.swift.authUrl, user: stack.services.swift.user, key: stack.services.swift.key }),
    });
    for (const clip of report.clips) {
      expect(clip.result).toBeDefined();
      const zip = await swift.headObject(clip.resultsContainer!, `${clip.video!.videoId}.zip`);
      expect(zip?.contentLength).toBeGreaterThan(1000);
      expect(clip.result).toMatchObject({ label: { label_status: 'unvalidated' }, view: 'not_assessed', result: 'ok' });
    }
  });

  it("each clip's features equal `radiomics analyze` of the plain clip", async () => {
    for (const [i, clip] of report.clips.entries()) {
      const plain = await analyzePlain(CLIPS[i]);
      for (const field of ['doppler', 'frames', 'textured_frames', 'features', 'per_frame', 'label']) {
        expect(clip.result![field]).toEqual(plain[field]);
      }
    }
  }, 120_000);

  it('the job is completed in Asperathos, in the table and through the status API, with every video done', async () => {
    const status = await new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl }).get(report.jobs[0].jobId);
    expect([status.status, status.progress]).toEqual(['completed', null]); // the manager reports no progress
    expect(report.jobs[0]).toMatchObject({ apiStatus: 'completed', apiProgress: { done: 3, total: 3, percent: 100, source: 'results' } });
    expect(report.clips.map((clip) => clip.apiStage)).toEqual([1, 2, 3].map(() => ({ stage: 'done', reason: null, route: 's3' })));
    const batch = await new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE).getBatch(report.jobs[0].batchId);
    expect(batch).toMatchObject({ state: 'completed', jobState: { status: 'completed', failedCount: 0, failedItemsSource: 'manager' } });
  });

  it('the job carried the key in env_vars, as SIM mode does', () => {
    const env = stack.submittedJobs[0].env_vars as Record<string, string>;
    expect(env).toMatchObject({ SCONE_MODE: 'SIM', JOB_NAME: report.jobs[0].batchId });
    expect(env.ENCRYPTION_KEY).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });
});
