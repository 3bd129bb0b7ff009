/**
 * `npm run bench -- analyze [clip-dir]`: single-threaded analysis speed on the sample clips, one JSON line per clip;
 * then the enclave worker's throughput with 1 and 2 processes (bench/worker.ts, its own lines); then the summary
 * {summary, clips, median_seconds_per_clip, …, worker_clips_per_s_1, worker_clips_per_s_2}.
 * `seconds` is wall time (decode in the ffmpeg child overlaps with analysis); `cpu_seconds` is this process's CPU
 * time, a steadier number on a shared machine.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeClip } from '#enclave/analyze-clip.js';
import { REPO_ROOT } from '#local/services.js';
import { run as runWorkerBench } from './worker.js';

const BASELINE_SECONDS_PER_CLIP = 19; // original: ~18–20 s per 11-frame clip (docs/radiomics.md §6)

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function run(args: string[] | string = []): Promise<{ median_seconds_per_clip: number }> {
  // bench/run.ts passes the remaining argv (an array); direct callers may pass the directory itself
  const clipDir = (typeof args === 'string' ? args : args[0]) ?? join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
  const clips = (await readdir(clipDir)).filter((f) => /\.mp4$/i.test(f)).sort();
  const seconds: number[] = [];
  const elevenFrameSeconds: number[] = [];
  for (const file of clips) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const analysis = await analyzeClip(join(clipDir, file));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    seconds.push(elapsed);
    if (analysis.frames === 11) elevenFrameSeconds.push(elapsed);
    const line = {
      clip: file.replace(/\.mp4$/i, ''),
      frames: analysis.frames,
      seconds: Number(elapsed.toFixed(3)),
      seconds_per_frame: Number((elapsed / analysis.frames).toFixed(4)),
      cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  const worker = await runWorkerBench([], { summaryLine: false });
  const medianSeconds = median(seconds);
  const comparable = elevenFrameSeconds.length ? median(elevenFrameSeconds) : medianSeconds;
  process.stdout.write(
    `${JSON.stringify({
      summary: true,
      clips: clips.length,
      median_seconds_per_clip: Number(medianSeconds.toFixed(3)),
      median_seconds_per_11_frame_clip: Number(comparable.toFixed(3)),
      baseline: 'original ~18-20 s per 11-frame clip (radiomics.md §6)',
      speedup_vs_original: Number((BASELINE_SECONDS_PER_CLIP / comparable).toFixed(1)),
      worker_clips_per_s_1: Number(worker.clipsPerS[1].toFixed(3)),
      worker_clips_per_s_2: Number(worker.clipsPerS[2].toFixed(3)),
    })}\n`,
  );
  return { median_seconds_per_clip: medianSeconds };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
