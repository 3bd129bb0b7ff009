/**
 * `npm start`: the main job end to end on embedded local defaults. The sample clips go into the local intake
 * bucket as tenant `demo`; the real intake handler seals each into its batch in Swift; the real batch handler
 * closes the batch when uploads go quiet (or its window ends) and submits the job; the Asperathos emulator runs this project's enclave
 * worker, which decrypts, analyses and uploads results to Swift. The run ends with one row per clip.
 * It ends with the results in hand: through the same code as `radiomics results`, each job's clips are fetched
 * via the status API's TempURLs into results/<job id>/, with features.csv and report.html; the last line is the
 * report's path.
 *   npm start -- --hw          the same with the key only in the (emulated) Palaemon session
 *   npm start -- --keep        leave the stack up for exploring (Ctrl-C stops it)
 *   npm start -- --clips DIR   any folder of MP4 files instead of ../shared/samples/videos
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { findClips } from './clip-folder.js';
import { startStack } from './stack.js';
import { runClips } from './run-clips.js';
import { LOCAL_INTAKE_BUCKET } from './intake-stack.js';
import { REPO_ROOT } from './services.js';
import { exportJobResults, type ExportOutcome } from '#lib/results/export-job.js';
import { HttpStatusApi } from '#lib/results/status-api-client.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const TENANT = 'demo';
const USAGE = 'usage: npm start [-- --hw] [-- --keep] [-- --clips DIR]';

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function progressLine(label: string) {
  let last = '';
  return (text: string, end = false) => {
    if (text === last) {
      if (end && process.stdout.isTTY) process.stdout.write('\n');
      return;
    }
    last = text;
    if (process.stdout.isTTY) process.stdout.write(`\r[start] ${label} ${text}${end ? '\n' : ''}`);
    else process.stdout.write(`[start] ${label} ${text}\n`);
  };
}

function parseOptions(): { hw: boolean; keep: boolean; clipsDir?: string } | string {
  try {
    const { values } = parseArgs({ args: process.argv.slice(2), options: { hw: { type: 'boolean' }, keep: { type: 'boolean' }, clips: { type: 'string' } } });
    return { hw: values.hw === true, keep: values.keep === true, clipsDir: values.clips };
  } catch (error) {
    return (error as Error).message;
  }
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'string') {
    process.stderr.write(`${USAGE}\n${options}\n`);
    return 2;
  }
  const clipPaths = findClips(options.clipsDir, SAMPLES);
  if (typeof clipPaths === 'string') {
    process.stderr.write(`${clipPaths}\n`);
    return 2;
  }
  const stack = await startStack({ mode: options.hw ? 'HW' : 'SIM', log: (line) => console.log(line) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stack.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const clips = clipPaths.map((path) => path.split('/').pop()!);
    console.log(`[start] uploading ${clips.length} clips to s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/ (${stack.mode} mode; batch closes ${process.env.BATCH_QUIET_SECS} s after the last seal, or at the latest ${process.env.BATCH_MAX_AGE_SECS} s after it opens)`);
    console.log(`[start] status page: ${stack.statusApi.url}/  (token for tenant ${TENANT}: .local/secrets/status-token)`);
    writeFileSync(join(REPO_ROOT, '.local', 'secrets', 'status-token'), await stack.statusToken(TENANT), { mode: 0o600 });
    const sealing = progressLine('sealed   ');
    const processing = progressLine('processed');
    let stage = 'sealing';
    const report = await runClips(stack, clipPaths, {
      tenant: TENANT,
      onProgress: (p) => {
        if (p.stage !== stage) {
          sealing(bar(clips.length, clips.length), true);
          stage = p.stage;
        }
        if (p.stage === 'sealing') sealing(bar(p.done, p.total));
        else processing(`${bar(p.done, p.total)} ${p.jobIds.length ? p.jobIds.join(', ') : '(waiting for the batch to close)'}`);
      },
    });
    processing(`done: ${report.jobs.map((j) => `${j.jobId} ${j.status} (status API: ${j.apiStatus})`).join(', ')}`, true);

    const exports = await exportResults(stack, report);
    const links = new Map(exports.flatMap((e) => e.job.results.map((r) => [r.video_id, r.analysis_url] as const)));
    console.log('\nclip                                   route stage     doppler textured label                z          results');
    let done = 0;
    for (const { clip, video, result, resultsContainer, apiStage } of report.clips) {
      const stage = apiStage?.stage ?? video?.stage ?? 'missing';
      const jobId = video?.batchId;
      const link = (video && links.get(video.videoId)) ?? (jobId ? `radiomics results ${jobId} --out results/${jobId}` : '');
      let row = `${stage.padEnd(9)} ${apiStage?.reason ?? video?.reason ?? ''}`;
      if (result) {
        const block = result.label as { z: number | null; label: string | null; label_status: string };
        const label = block.label === null ? String(result.result) : `${block.label} (${block.label_status})`;
        const z = typeof block.z === 'number' ? block.z.toFixed(1) : '-';
        row = `${stage.padEnd(9)} ${String(result.doppler).padEnd(7)} ${String(result.textured_frames).padEnd(8)} ${label.padEnd(20)} ${z.padEnd(10)} ${link}`;
        done++;
      } else if (resultsContainer) {
        row = `${stage.padEnd(9)} ${apiStage?.reason ?? 'no result'} (see the job's errors) ${link}`;
      }
      console.log(`${clip.padEnd(38)} ${'s3'.padEnd(5)} ${row}`);
    }
    console.log(
      `\n[start] ${done} of ${clips.length} clips analysed in ${stack.mode} mode in ${((report.timings.doneAtMs - report.timings.startedAtMs) / 1000).toFixed(1)} s.` +
        ' Labels are the original classifier\'s rule, reported as "unvalidated": not a diagnosis (see README); the view check is not assessed.',
    );
    console.log(`[start] status page: ${report.statusPageUrl} (paste the token from .local/secrets/status-token)`);
    for (const e of exports) {
      const failed = e.download.failed.length ? ` (${e.download.failed.length} files could not be fetched)` : '';
      console.log(`[start] job ${e.job.job_id}: ${e.records.length} clips in ${relative(process.cwd(), e.csvPath)}${failed}; report:`);
      console.log(e.reportPath);
    }
    if (options.keep) {
      console.log('[start] --keep: the stack stays up; Ctrl-C stops it (npm run services:stop stops Swift, Redis, memcached).');
      await new Promise(() => undefined);
    }
    return done === clips.length && exports.every((e) => e.download.failed.length === 0) ? 0 : 1;
  } finally {
    if (!options.keep) await stop();
  }
}

/** Each job's results into results/<job id>/, as `radiomics results` writes them. */
async function exportResults(stack: Awaited<ReturnType<typeof startStack>>, report: Awaited<ReturnType<typeof runClips>>): Promise<ExportOutcome[]> {
  const api = new HttpStatusApi(stack.statusApi.url, await stack.statusToken(TENANT));
  const origins = new Map(report.clips.filter((c) => c.video).map((c) => [c.video!.videoId, { source: `${TENANT}/${c.clip}`, route: 's3' }]));
  const outcomes: ExportOutcome[] = [];
  for (const job of report.jobs) {
    const progress = progressLine(`results  `);
    outcomes.push(
      await exportJobResults({
        api, jobId: job.batchId, outDir: join(REPO_ROOT, 'results', job.batchId), origins,
        onProgress: (p) => progress(`${bar(p.done, p.total)} ${job.batchId}`, p.done === p.total),
      }),
    );
  }
  return outcomes;
}

process.exitCode = await main();
