/**
 * `npm run bench -- worker [N]`: enclave worker throughput, 1 worker process against 2, on the same N sealed sample
 * clips (default 6 eleven-frame clips) behind TempURLs, with the real Redis and Swift All-In-One (started if needed). Workers are the esbuild bundle (what the image runs), started as processes.
 * Prints one JSON line per run, {workers, clips, seconds, clips_per_s}, then a summary with the 2-vs-1 ratio.
 * `seconds` is wall time from starting the workers to the last exit (process start-up included); on a 2-core
 * machine shared with other work, the ratio is bounded by the free cores, not by the queue: `cpu_share_per_worker`
 * (each worker's node CPU time ÷ wall time) shows how much of a core each worker actually got.
 */
import { removeContainers } from '#local/swift-cleanup.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, startServices } from '#local/services.js';
import { Redis } from 'ioredis';
import { buildWorkerBundle } from '#enclave/build.js';
import { sealBuffer } from '#lib/seal/cipher.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { loadServices } from '#local/service-endpoints.js';

const VIDEOS = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const ELEVEN_FRAME_CLIPS = [
  'VH020213M4_001390_20160406T111638.MP4',
  'VH020213M4_001390_20160406T111647.MP4',
  'VH020213M4_001390_20160406T111710.MP4',
  'VH020213M4_001390_20160406T111728.MP4',
  'VH020213M4_001418_20160407T115007.MP4',
  'VH020213M4_001418_20160407T115017.MP4',
  'VH020213M4_001418_20160407T115035.MP4',
  'VH020213M4_001559_20160429T120822.MP4',
];

export async function run(
  args: string[] = [],
  options: { summaryLine?: boolean } = {},
): Promise<{ ratio: number; clipsPerS: Record<1 | 2, number> }> {
  const clips = Number(args[0] ?? '6');
  if (!Number.isInteger(clips) || clips < 1 || clips > ELEVEN_FRAME_CLIPS.length)
    throw new Error(`N must be 1..${ELEVEN_FRAME_CLIPS.length}`);
  await startServices();
  const services = loadServices();
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  const redis = new Redis({ host: services.redis.host, port: services.redis.port, db: 0, maxRetriesPerRequest: 2 });
  const tag = randomBytes(5).toString('hex');
  const source = `bench-worker-src-${tag}`;
  const key = randomBytes(16);
  const tempUrlKey = randomBytes(16).toString('hex');
  const outDir = mkdtempSync(join(tmpdir(), 'bench-worker-'));
  const envDir = mkdtempSync(join(tmpdir(), 'bench-worker-env-'));
  const containers = [source];
  const prefixes: string[] = [];
  try {
    const { bundle } = await buildWorkerBundle({ outDir });
    await swift.createContainer(source);
    await swift.setContainerTempUrlKey(source, tempUrlKey);
    const urls: string[] = [];
    for (const clip of ELEVEN_FRAME_CLIPS.slice(0, clips)) {
      const name = `${randomBytes(16).toString('hex')}.mp4`;
      await swift.putObject(source, name, sealBuffer(key, readFileSync(join(VIDEOS, clip))));
      urls.push(
        await swift.tempUrl({
          method: 'GET',
          container: source,
          object: name,
          expiresAtSec: Math.floor(Date.now() / 1000) + 3600,
          key: tempUrlKey,
        }),
      );
    }

    const results: Record<1 | 2, number> = { 1: 0, 2: 0 };
    for (const workers of [1, 2] as const) {
      const prefix = `bench-${tag}-w${workers}`;
      const jobName = `bench-worker-${tag}-w${workers}`;
      prefixes.push(prefix);
      containers.push(`${jobName}-results`);
      await redis.rpush(prefix, ...urls);
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        REDIS_HOST: services.redis.host,
        REDIS_PORT: String(services.redis.port),
        REDIS_QUEUE: prefix,
        REDIS_STOP_KEY: `${prefix}:stop`,
        QUEUE_POLL_SECS: '0.25',
        ENCRYPTION_KEY: key.toString('base64'),
        JOB_NAME: jobName,
        ST_AUTH: services.swift.authUrl,
        ST_USER: services.swift.user,
        ST_KEY: services.swift.key,
        WORKER_ENV_DIR: envDir,
        LOG_LEVEL: 'info',
      };
      const started = performance.now();
      let workerCpuSeconds = 0;
      const codes = await Promise.all(
        Array.from({ length: workers }, () => {
          const child = spawn(process.execPath, [bundle], { cwd: outDir, env, stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
          return new Promise<number | null>((resolve) =>
            child.on('close', (code) => {
              for (const line of out.split('\n')) {
                if (line.includes('"worker finished"')) workerCpuSeconds += (JSON.parse(line) as { cpu_seconds: number }).cpu_seconds;
              }
              resolve(code);
            }),
          );
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      if (codes.some((c) => c !== 0)) throw new Error(`a worker exited with ${codes.join(',')}`);
      let done = 0;
      for await (const entry of swift.listAllObjects(`${jobName}-results`))
        if (entry.name.endsWith('.json') && !entry.name.endsWith('.error.json')) done++;
      if (done !== clips) throw new Error(`${done} of ${clips} results`);
      results[workers] = clips / seconds;
      process.stdout.write(
        `${JSON.stringify({
          workers,
          clips,
          seconds: Number(seconds.toFixed(2)),
          clips_per_s: Number((clips / seconds).toFixed(3)),
          // node CPU of the workers (ffmpeg children excluded) ÷ (wall × workers): < 1 means they waited for a core
          worker_cpu_seconds: Number(workerCpuSeconds.toFixed(2)),
          cpu_share_per_worker: Number((workerCpuSeconds / (seconds * workers)).toFixed(2)),
        })}\n`,
      );
    }
    const ratio = results[2] / results[1];
    if (options.summaryLine !== false) {
      const cores = (await import('node:os')).availableParallelism();
      process.stdout.write(
        `${JSON.stringify({ summary: true, clips, ratio_2_vs_1: Number(ratio.toFixed(2)), cores, note: 'ideal 2.0 on 2 free cores' })}\n`,
      );
    }
    return { ratio, clipsPerS: results };
  } finally {
    await removeContainers(swift, containers);
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    rmSync(outDir, { recursive: true, force: true });
    rmSync(envDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
