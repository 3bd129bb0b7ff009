/**
 * `npm start`: the main job end to end on embedded local defaults. The sample clips go into the local intake
 * bucket as tenant `demo`; the real intake handler seals each into its batch in Swift; the real batch handler
 * closes the batch when its window ends and submits the job; the Asperathos emulator runs this project's enclave
 * worker, which decrypts, analyses and uploads results to Swift. The run ends with one row per clip.
 *   npm start -- --hw      the same with the key only in the (emulated) Palaemon session
 *   npm start -- --keep    leave the stack up for exploring (Ctrl-C stops it)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../lib/s3.js';
import { DynamoIntakeStore } from '../lib/store/intake-store.js';
import { videoIdDeriver } from '../lib/video-id.js';
import { decodeMasterKey } from '../lib/intake/wiring.js';
import { AsperathosClient } from '../lib/asperathos/index.js';
import { SwiftClient, TempAuth } from '../lib/swift/index.js';
import { startStack } from './stack.js';
import { LOCAL_INTAKE_BUCKET, LOCAL_TABLE } from './intake-stack.js';
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
    if (text === last && !end) return;
    last = text;
    if (process.stdout.isTTY) process.stdout.write(`\r[start] ${label} ${text}${end ? '\n' : ''}`);
    else process.stdout.write(`[start] ${label} ${text}\n`);
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const s3 = createS3Client({ region: 'eu-west-1', endpoint: stack.s3.endpoint, credentials: stack.s3.credentials });
    console.log(`[start] uploading ${clips.length} clips to s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/ (${stack.mode} mode)`);
    const eTags = new Map<string, string>();
    for (const name of clips) {
      const answer = await s3.send(new PutObjectCommand({ Bucket: LOCAL_INTAKE_BUCKET, Key: `${TENANT}/${name}`, Body: readFileSync(join(SAMPLES, name)) }));
      eTags.set(name, (answer.ETag ?? '').replace(/"/g, ''));
    }
    s3.destroy();
    const sealing = progressLine('sealed   ');
    while (stack.deliveries.length < clips.length) {
      sealing(bar(stack.deliveries.length, clips.length));
      await sleep(200);
    }
    await stack.idle();
    sealing(bar(stack.deliveries.length, clips.length), true);

    const masterKey = decodeMasterKey(readFileSync(stack.env.MASTER_KEY_FILE, 'utf8'));
    const ids = videoIdDeriver(masterKey);
    const store = new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE);
    const videos = await Promise.all(clips.map((name) => store.getVideo(ids({ bucket: LOCAL_INTAKE_BUCKET, key: `${TENANT}/${name}`, eTag: eTags.get(name) }))));
    const batchIds = [...new Set(videos.map((v) => v?.batchId).filter((id): id is string => Boolean(id)))];
    console.log(`[start] ${videos.filter((v) => v?.stage === 'sealed').length} sealed into ${batchIds.length} batch(es); the batch window is ${process.env.BATCH_MAX_AGE_SECS} s`);

    const jobs = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
    const processing = progressLine('processed');
    const jobIds = new Map<string, string>();
    for (;;) {
      let items = 0;
      let processed = 0;
      let finished = 0;
      for (const batchId of batchIds) {
        const batch = await store.getBatch(batchId);
        if (batch?.jobId) jobIds.set(batchId, batch.jobId);
        const jobId = jobIds.get(batchId);
        if (!jobId) {
          items += batch?.claims ?? 0;
          continue;
        }
        const status = await jobs.get(jobId);
        items += status.progress?.items ?? batch?.items ?? 0;
        processed += status.progress?.processed ?? 0;
        if (['completed', 'failed', 'error', 'stopped', 'terminated'].includes(String(status.status))) finished++;
      }
      processing(`${bar(processed, items)} ${jobIds.size ? [...jobIds.values()].join(', ') : '(waiting for the batch window)'}`);
      if (finished === batchIds.length) break;
      await sleep(500);
    }
    processing('done', true);

    const swift = new SwiftClient({ auth: new TempAuth({ authUrl: stack.services.swift.authUrl, user: stack.services.swift.user, key: stack.services.swift.key }) });
    const storageUrl = await swift.storageUrl();
    console.log('\nclip                                   stage     doppler textured label             z          results');
    let done = 0;
    for (const [i, name] of clips.entries()) {
      const video = videos[i];
      let row = `${(video?.stage ?? 'missing').padEnd(9)} ${video?.reason ?? ''}`;
      if (video?.batchId && video.stage === 'sealed') {
        const container = `${video.batchId}-results`;
        try {
          const result = JSON.parse((await swift.getObjectBytes(container, `${video.videoId}.json`)).toString()) as Record<string, unknown>;
          const label = result.label === null || result.label === undefined ? String(result.result) : `${result.label_name ?? result.label} (${result.label_status})`;
          const z = typeof result.decision === 'number' ? result.decision.toFixed(1) : '-';
          row = `${'done'.padEnd(9)} ${String(result.doppler).padEnd(7)} ${String(result.textured_frames).padEnd(8)} ${label.padEnd(17)} ${z.padEnd(10)} ${storageUrl}/${container}/${video.videoId}.json`;
          done++;
        } catch {
          row = `${'failed'.padEnd(9)} no result in ${container} (see the job's errors)`;
        }
      }
      console.log(`${name.padEnd(38)} ${row}`);
    }
    console.log(
      `\n[start] ${done} of ${clips.length} clips analysed in ${stack.mode} mode. Labels are the original classifier's rule, reported as` +
        ' "unvalidated": it is not a diagnosis (see README); the view check is not assessed.',
    );
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
