/**
 * `npm start`: the main job end to end on embedded local defaults. The sample clips go into the local intake
 * bucket as tenant `demo`; the real intake handler seals each into its batch in Swift; the real batch handler
 * closes the batch when uploads go quiet (or its window ends) and submits the job; the Asperathos emulator runs this project's enclave
 * worker, which decrypts, analyses and uploads results to Swift. The run ends with one row per clip.
 *   npm start -- --hw      the same with the key only in the (emulated) Palaemon session
 *   npm start -- --keep    leave the stack up for exploring (Ctrl-C stops it)
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from './stack.js';
import { runClips } from './run-clips.js';
import { LOCAL_INTAKE_BUCKET } from './intake-stack.js';
import { REPO_ROOT } from './services.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const TENANT = 'demo';
const args = new Set(process.argv.slice(2));

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

async function main(): Promise<number> {
  const unknown = [...args].filter((a) => a !== '--hw' && a !== '--keep');
  if (unknown.length) {
    process.stderr.write(`usage: npm start [-- --hw] [-- --keep]\nunknown option: ${unknown[0]}\n`);
    return 2;
  }
  const stack = await startStack({ mode: args.has('--hw') ? 'HW' : 'SIM', log: (line) => console.log(line) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stack.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const clips = readdirSync(SAMPLES).filter((name) => /\.mp4$/i.test(name)).sort();
    console.log(`[start] uploading ${clips.length} clips to s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/ (${stack.mode} mode; batch closes ${process.env.BATCH_QUIET_SECS} s after the last seal, or at the latest ${process.env.BATCH_MAX_AGE_SECS} s after it opens)`);
    console.log(`[start] status page: ${stack.statusApi.url}/  (token for tenant ${TENANT}: .local/secrets/status-token)`);
    writeFileSync(join(REPO_ROOT, '.local', 'secrets', 'status-token'), await stack.statusToken(TENANT), { mode: 0o600 });
    const sealing = progressLine('sealed   ');
    const processing = progressLine('processed');
    let stage = 'sealing';
    const report = await runClips(stack, clips.map((name) => join(SAMPLES, name)), {
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

    console.log('\nclip                                   stage     doppler textured label                z          results');
    let done = 0;
    for (const { clip, video, result, resultsContainer, apiStage } of report.clips) {
      const stage = apiStage?.stage ?? video?.stage ?? 'missing';
      let row = `${stage.padEnd(9)} ${apiStage?.reason ?? video?.reason ?? ''}`;
      if (result) {
        const block = result.label as { z: number | null; label: string | null; label_status: string };
        const label = block.label === null ? String(result.result) : `${block.label} (${block.label_status})`;
        const z = typeof block.z === 'number' ? block.z.toFixed(1) : '-';
        row = `${stage.padEnd(9)} ${String(result.doppler).padEnd(7)} ${String(result.textured_frames).padEnd(8)} ${label.padEnd(20)} ${z.padEnd(10)} ${report.storageUrl}/${resultsContainer}/${video!.videoId}.json`;
        done++;
      } else if (resultsContainer) {
        row = `${stage.padEnd(9)} ${apiStage?.reason ?? 'no result'} (see the job's errors)`;
      }
      console.log(`${clip.padEnd(38)} ${row}`);
    }
    console.log(
      `\n[start] ${done} of ${clips.length} clips analysed in ${stack.mode} mode in ${((report.timings.doneAtMs - report.timings.startedAtMs) / 1000).toFixed(1)} s.` +
        ' Labels are the original classifier\'s rule, reported as "unvalidated": not a diagnosis (see README); the view check is not assessed.',
    );
    console.log(`[start] status page: ${report.statusPageUrl} (paste the token from .local/secrets/status-token)`);
    if (args.has('--keep')) {
      console.log('[start] --keep: the stack stays up; Ctrl-C stops it (npm run services:stop stops Swift, Redis, memcached).');
      await new Promise(() => undefined);
    }
    return done === clips.length ? 0 : 1;
  } finally {
    if (!args.has('--keep')) await stop();
  }
}

process.exitCode = await main();
