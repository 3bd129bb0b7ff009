/**
 * The whole system under faults, and the same end state: Swift answers 503 for a few seconds while the clips
 * are sealed, one worker is killed mid-item (the emulator replaces it, as Kubernetes replaces a failed pod, and
 * the item is re-leased after its lease), and the Asperathos emulator is restarted mid-job (it resumes the job
 * from its state directory). Nothing may be lost and nothing duplicated.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '#local/stack.js';
import { runClips, type RunReport } from '#local/run-clips.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { startFaultyProxy, type FaultyProxy } from '#test/support/faulty-proxy.js';
import { loadServices, SHARED_DIR } from '#local/service-endpoints.js';
import { analyzePlain } from '#test/support/analyze-plain.js';
import { setTimeout as sleep } from 'node:timers/promises';

const CLIPS = [
  'VH020213M4_001390_20160406T111534.MP4',
  'VH020213M4_001559_20160429T120933.MP4',
  'VH020213M4_001418_20160407T115216.MP4',
  'VH020213M4_001559_20160429T120845.MP4',
  'VH020213M4_001418_20160407T114936.MP4',
].map((name) => join(SHARED_DIR, 'samples', 'videos', name));

/** PIDs of this job's worker processes (the emulator starts them; JOB_NAME is the batch id). */
function workerPids(batchId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('local/worker-entry.ts')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`JOB_NAME=${batchId}`)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

async function analysedCount(batchId: string): Promise<number> {
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: loadServices().swift.authUrl, user: loadServices().swift.user, key: loadServices().swift.key }),
  });
  const page = await swift.listObjects(`${batchId}-results`).catch(() => ({ objects: [] }));
  return page.objects.filter((o) => /^[0-9a-f]{32}\.json$/.test(o.name)).length;
}

let stack: Stack;
let proxy: FaultyProxy;
let report: RunReport;
let stateDir: string;
const faults: string[] = [];
let injected503 = 0;

beforeAll(async () => {
  proxy = await startFaultyProxy(loadServices().swift.proxyUrl);
  stateDir = mkdtempSync(join(tmpdir(), 'e2e-faults-'));
  stack = await startStack({
    mode: 'SIM',
    windowSecs: 4,
    quietSecs: 0,
    tickMs: 1000,
    workers: 2,
    swiftUrl: proxy.url,
    asperathosStateDir: stateDir,
    itemLeaseSecs: 4,
  });

  // Swift answers 503 to everything for 3 s while the first uploads are sealed
  proxy.failNext(1_000_000, { status: 503 });
  setTimeout(() => {
    injected503 = proxy.requests.filter((r) => r.injected && r.status === 503).length;
    proxy.reset();
    faults.push('swift-503-window-ended');
  }, 3000);

  const running = runClips(stack, CLIPS, { tenant: 'faults', timeoutMs: 540_000 });
  const jobs = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
  // once the job is ongoing and has finished an item, kill a worker mid-item, then restart the manager
  const injected = (async () => {
    for (let i = 0; i < 600; i++) {
      const submitted = stack.submittedJobs[0];
      if (submitted) {
        const batchId = (submitted.env_vars as Record<string, string>).JOB_NAME;
        const list = await jobs.list().catch(() => ({}));
        const job = Object.values(list)[0];
        // the manager reports no progress: an item is finished once its <id>.json is in the results container
        if (job?.status === 'ongoing' && (await analysedCount(batchId)) >= 1) {
          const pids = workerPids(batchId);
          if (pids.length > 0) {
            process.kill(pids[0], 'SIGKILL');
            faults.push('worker-killed');
            await sleep(1500);
            await stack.restartAsperathos();
            faults.push('asperathos-restarted');
            return;
          }
        }
      }
      await sleep(250);
    }
  })();
  report = await running;
  await injected;
}, 600_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe('end to end under faults', () => {
  it('every fault was injected', () => {
    expect(faults.sort()).toEqual(['asperathos-restarted', 'swift-503-window-ended', 'worker-killed']);
    expect(injected503).toBeGreaterThan(0);
  });

  it('reaches the same end state: one completed job, every clip done', () => {
    expect(report.jobs).toHaveLength(1);
    expect(report.jobs[0]).toMatchObject({ status: 'completed', apiStatus: 'completed' });
    expect(report.clips.map((c) => c.apiStage?.stage)).toEqual(CLIPS.map(() => 'done'));
  });

  it('nothing is duplicated: one sealed object per clip, and exactly one zip and one JSON per clip in the results', async () => {
    const swift = new SwiftClient({
      auth: new TempAuth({ authUrl: stack.services.swift.authUrl, user: stack.services.swift.user, key: stack.services.swift.key }),
    });
    const batchId = report.jobs[0].batchId;
    const container = report.clips[0].video!.container!;
    const sealed: string[] = [];
    for await (const entry of swift.listAllObjects(container)) sealed.push(entry.name);
    expect(sealed.sort()).toEqual([...report.clips.map((c) => `${c.video!.videoId}.mp4`), 'workload.txt'].sort());
    const results: string[] = [];
    for await (const entry of swift.listAllObjects(`${batchId}-results`)) results.push(entry.name);
    expect(results.sort()).toEqual(report.clips.flatMap((c) => [`${c.video!.videoId}.json`, `${c.video!.videoId}.zip`]).sort());
  });

  it("each clip's features still equal `radiomics analyze` of the plain clip", async () => {
    for (const [i, clip] of report.clips.entries()) {
      const plain = await analyzePlain(CLIPS[i]);
      expect(clip.result?.features).toEqual(plain.features);
      expect(clip.result?.per_frame).toEqual(plain.per_frame);
    }
  }, 180_000);
});
