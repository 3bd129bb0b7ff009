/**
 * `npm run bench -- e2e`: the 21 sample clips through the whole local stack (SIM mode, default local settings:
 * 10 s batch window, two workers), timed from the first upload to every result being visible as done through
 * the status API, broken down by stage. The baseline is the analysis itself: the job's execution time in the
 * manager (workers started → last item done), measured in the same run. Prints one JSON line:
 *   {clips, wall_s, analysis_s, orchestration_share, orchestration_share_excluding_window, stages: {...}}
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../local/stack.js';
import { runClips } from '../local/run-clips.js';
import { REPO_ROOT } from '../local/services.js';
import { DynamoIntakeStore } from '../lib/store/intake-store.js';
import { LOCAL_TABLE } from '../local/intake-stack.js';
import { AsperathosClient } from '../lib/asperathos/index.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const round = (value: number) => Number(value.toFixed(2));

export async function run(): Promise<void> {
  const stack = await startStack({ mode: 'SIM' });
  try {
    const clips = readdirSync(SAMPLES).filter((name) => /\.mp4$/i.test(name)).sort();
    const report = await runClips(stack, clips.map((name) => join(SAMPLES, name)), { tenant: 'bench' });
    const endMs = Date.now();
    const batchIds = report.jobs.map((job) => job.batchId);
    const store = new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE);
    const manager = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
    let analysisS = 0;
    let submittedAtMs = 0;
    let windowEndMs = 0;
    for (const [i, batchId] of batchIds.entries()) {
      const batch = (await store.getBatch(batchId))!;
      submittedAtMs = Math.max(submittedAtMs, Date.parse(batch.submittedAt!));
      windowEndMs = Math.max(windowEndMs, Date.parse(batch.createdAt) + Number(process.env.BATCH_MAX_AGE_SECS) * 1000);
      const job = await manager.get(report.jobs[i].jobId);
      analysisS += Number(job.report.execution_time ?? 0);
    }
    const { startedAtMs, sealedAtMs, doneAtMs } = report.timings;
    const wallS = (endMs - startedAtMs) / 1000;
    const windowWaitS = Math.max(0, (windowEndMs - sealedAtMs) / 1000);
    const done = report.clips.filter((clip) => clip.apiStage?.stage === 'done').length;
    console.log(
      JSON.stringify({
        clips: clips.length,
        done,
        wall_s: round(wallS),
        analysis_s: round(analysisS),
        orchestration_share: round((wallS - analysisS) / wallS),
        orchestration_share_excluding_window: round((wallS - analysisS - windowWaitS) / (wallS - windowWaitS)),
        stages: {
          upload_and_seal_s: round((sealedAtMs - startedAtMs) / 1000),
          batch_window_wait_s: round(windowWaitS),
          close_and_submit_s: round((submittedAtMs - Math.max(sealedAtMs, windowEndMs)) / 1000),
          analysis_s: round(analysisS),
          job_end_to_status_api_s: round((endMs - doneAtMs) / 1000),
        },
        batch_window_s: Number(process.env.BATCH_MAX_AGE_SECS),
        workers: 2,
        baseline: "analysis = the job's execution time in the manager (workers started → last item done), same run",
      }),
    );
  } finally {
    await stack.stop();
  }
}
