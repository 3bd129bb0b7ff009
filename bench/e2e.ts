/**
 * `npm run bench -- e2e`: the 21 sample clips through the whole local stack (SIM mode, two workers), timed from
 * the first upload to every result being visible as done through the status API, broken down by stage. The
 * baseline is the analysis itself: the job's execution time in the manager (workers started → last item done),
 * measured in the same run. Two runs, one JSON line each:
 *   default local settings: the batch closes 1 s after the last seal (BATCH_QUIET_SECS), at the latest at its 10 s window;
 *   window only (BATCH_QUIET_SECS=0): the batch waits out its whole 10 s window.
 *   {config, clips, wall_s, analysis_s, orchestration_share, stages: {...}}
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { startStack } from '#local/stack.js';
import { runClips } from '#local/run-clips.js';
import { REPO_ROOT } from '#local/services.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { LOCAL_TABLE } from '#local/intake-stack.js';
import { AsperathosClient } from '#lib/asperathos/index.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const round = (value: number) => Number(value.toFixed(2));

async function measure(config: string, quietSecs: number | undefined, tenant: string): Promise<void> {
  const stack = await startStack({ mode: 'SIM', quietSecs });
  try {
    const clips = readdirSync(SAMPLES)
      .filter((name) => /\.mp4$/i.test(name))
      .sort();
    const report = await runClips(
      stack,
      clips.map((name) => join(SAMPLES, name)),
      { tenant },
    );
    const endMs = Date.now();
    const store = new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE);
    const manager = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
    let analysisS = 0;
    let closedAtMs = 0;
    let submittedAtMs = 0;
    for (const { batchId, jobId } of report.jobs) {
      const batch = (await store.getBatch(batchId))!;
      closedAtMs = Math.max(closedAtMs, Date.parse(batch.closingAt!));
      submittedAtMs = Math.max(submittedAtMs, Date.parse(batch.submittedAt!));
      analysisS += Number((await manager.get(jobId)).report.execution_time ?? 0);
    }
    const { startedAtMs, sealedAtMs, doneAtMs } = report.timings;
    const wallS = (endMs - startedAtMs) / 1000;
    console.log(
      JSON.stringify({
        config,
        clips: clips.length,
        done: report.clips.filter((clip) => clip.apiStage?.stage === 'done').length,
        jobs: report.jobs.length,
        wall_s: round(wallS),
        analysis_s: round(analysisS),
        orchestration_share: round((wallS - analysisS) / wallS),
        stages: {
          upload_and_seal_s: round((sealedAtMs - startedAtMs) / 1000),
          wait_for_batch_close_s: round(Math.max(0, closedAtMs - sealedAtMs) / 1000),
          close_and_submit_s: round((submittedAtMs - Math.max(sealedAtMs, closedAtMs)) / 1000),
          analysis_s: round(analysisS),
          job_end_to_status_api_s: round((endMs - doneAtMs) / 1000),
        },
        batch_window_s: Number(process.env.BATCH_MAX_AGE_SECS),
        batch_quiet_s: Number(process.env.BATCH_QUIET_SECS),
        workers: 2,
        baseline: "analysis = the job's execution time in the manager (workers started → last item done), same run",
      }),
    );
  } finally {
    await stack.stop();
  }
}

const CONFIGS = {
  default: () => measure('default: quiet close 1 s, window 10 s', undefined, 'bench'),
  'window-only': () => measure('window only: quiet close off, window 10 s', 0, 'benchwindow'),
};

/** Each configuration in its own process: the handlers read their configuration once per process, as in Lambda. */
export async function run(): Promise<void> {
  for (const name of Object.keys(CONFIGS)) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), name], {
      stdio: 'inherit',
      cwd: REPO_ROOT,
    });
    if (child.status !== 0) throw new Error(`bench e2e ${name} exited with ${child.status ?? child.signal}`);
  }
}

const selected = process.argv[2] as keyof typeof CONFIGS | undefined;
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && selected && selected in CONFIGS) {
  await CONFIGS[selected]();
}
