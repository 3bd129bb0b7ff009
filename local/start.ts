/**
 * `npm start`: the main job end to end on embedded local defaults. The clips go in as tenant `demo` by the two
 * ways hospitals send them: most are uploaded into the local intake bucket, and a few become DICOM Ultrasound
 * Multi-frame files that a loopback Orthanc exports through DICOMweb STOW-RS to the PACS hook
 * (local/orthanc-route.ts). The real intake handler de-identifies and converts the DICOM ones and seals every
 * clip into its batch in Swift; the real batch handler closes the batch when uploads go quiet (or its window
 * ends) and submits the job; the Asperathos emulator runs this project's enclave worker, which decrypts,
 * analyses and uploads results to Swift. The run ends with one row per clip, and with the results in hand:
 * through the same code as `radiomics results`, each job's files are fetched via the status API's TempURLs
 * into results/<job id>/, with features.csv and report.html; the last line is the report's path.
 * `npm start -- --help` lists the options.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { findClips, isDicomFile } from './clip-folder.js';
import { dcmtkAvailable } from './dicom-fixtures.js';
import { orthancUnavailable } from './orthanc.js';
import { startPacsRoute, type PacsRoute } from './orthanc-route.js';
import { startStack, type Stack } from './stack.js';
import { runClips, type RunReport } from './run-clips.js';
import { LOCAL_INTAKE_BUCKET } from './intake-stack.js';
import { REPO_ROOT } from './services.js';
import { clipsDir, resultFileName } from '#lib/results/download.js';
import { exportJobResults, type ExportOutcome } from '#lib/results/export-job.js';
import { HttpStatusApi } from '#lib/results/status-api-client.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const TENANT = 'demo';
const USAGE = 'usage: npm start [-- [--clips DIR] [--pacs N] [--hw] [--keep] [--help]]';
const HELP = `${USAGE}

Runs the whole system on this machine: local S3 and DynamoDB, Swift, the real intake, batch, sync-status
and status-API functions, the Asperathos emulator running the enclave worker, and a loopback Orthanc that
exports through the PACS hook. It sends the clips as tenant ${TENANT}, most uploaded into the intake bucket
(route s3), a few as DICOM Ultrasound Multi-frame files with a patient's details, pushed by Orthanc through
DICOMweb STOW-RS to the PACS hook (route pacs). It waits for the job, prints one row per clip, writes
results/<job id>/features.csv and report.html (as \`radiomics results\` does), and prints the report's path
as its last line.

Options:
  --clips DIR   the MP4 and DICOM files of DIR (default: ../shared/samples/videos)
  --pacs N      how many of the MP4 clips go through PACS instead of S3 (default: 1 in 7, at most 3;
                0: none). DICOM files always go through PACS.
  --hw          HW mode: the worker's key comes only from the (emulated) Palaemon session
  --keep        leave the stack up afterwards (Ctrl-C stops it); the results column then shows TempURLs
  -h, --help    this text

The PACS route needs root (for unshare --net: Orthanc always listens on every interface, so it runs in a
network namespace of its own) and Debian's orthanc, orthanc-dicomweb and dcmtk. Without them, one line
says so and every clip goes through S3.

Environment:
  RADIOMICS_PORT_OFFSET   shifts every local service port (two checkouts on one machine)

Files:
  .local/secrets/status-token   a 12-hour token for the status page, tenant ${TENANT}
  results/<job id>/             features.csv, report.html, and each clip's files under clips/

Exit codes:
  0    every clip analysed and every result file fetched
  1    some clip was not analysed, some result file could not be fetched, or the run failed
  2    usage, or no clips to run
  130  interrupted (Ctrl-C)
`;

interface Options {
  hw: boolean;
  keep: boolean;
  help: boolean;
  clipsDir?: string;
  pacs?: number;
}

const clips = (n: number) => `${n} ${n === 1 ? 'clip' : 'clips'}`;

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

function parseOptions(): Options | string {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        hw: { type: 'boolean' },
        keep: { type: 'boolean' },
        clips: { type: 'string' },
        pacs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.pacs !== undefined && !/^\d+$/.test(values.pacs)) return `--pacs takes a number of clips, not ${values.pacs}`;
    return {
      hw: values.hw === true,
      keep: values.keep === true,
      help: values.help === true,
      clipsDir: values.clips,
      pacs: values.pacs === undefined ? undefined : Number(values.pacs),
    };
  } catch (error) {
    return (error as Error).message;
  }
}

/** `count` of `clips`, spread evenly over them. */
function spread(clips: readonly string[], count: number): string[] {
  return Array.from({ length: count }, (_, k) => clips[Math.floor(((k + 0.5) * clips.length) / count)]);
}

/** Which clips go through PACS: every DICOM file, and `--pacs N` (default 1 in 7, at most 3) of the MP4 files. */
function splitRoutes(clips: readonly string[], pacs: number | undefined): { s3: string[]; pacs: string[] } | string {
  const dicom = clips.filter(isDicomFile);
  const mp4 = clips.filter((clip) => !dicom.includes(clip));
  const count = pacs ?? (mp4.length >= 2 ? Math.min(3, Math.ceil(mp4.length / 7)) : 0);
  if (count > mp4.length) return `--pacs ${count}: there are only ${mp4.length} MP4 clips`;
  const converted = spread(mp4, count);
  return { s3: mp4.filter((clip) => !converted.includes(clip)), pacs: [...dicom, ...converted] };
}

/** Why the PACS route cannot run here, or undefined. */
function pacsUnavailable(clips: readonly string[]): string | undefined {
  return (
    orthancUnavailable() ??
    (clips.some((clip) => !isDicomFile(clip)) && !dcmtkAvailable() ? 'dcmtk is not installed (apt-get install dcmtk)' : undefined)
  );
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'string') {
    process.stderr.write(`${USAGE}\n${options}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const clipPaths = findClips(options.clipsDir, SAMPLES);
  if (typeof clipPaths === 'string') {
    process.stderr.write(`${clipPaths}\n`);
    return 2;
  }
  const routes = splitRoutes(clipPaths, options.pacs);
  if (typeof routes === 'string') {
    process.stderr.write(`${USAGE}\n${routes}\n`);
    return 2;
  }
  const offline = routes.pacs.length ? pacsUnavailable(routes.pacs) : undefined;
  if (offline) {
    console.log(`[start] PACS route off (${offline}): all ${clips(clipPaths.length)} go through S3`);
    routes.s3 = [...clipPaths];
    routes.pacs = [];
  }

  const stack = await startStack({ mode: options.hw ? 'HW' : 'SIM', log: (line) => console.log(line) });
  let route: PacsRoute | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await route?.close();
    await stack.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    if (routes.pacs.length) {
      try {
        route = await startPacsRoute(stack, { tenant: TENANT });
      } catch (error) {
        console.log(`[start] PACS route off (${(error as Error).message}): all ${clips(clipPaths.length)} go through S3`);
        routes.s3 = [...clipPaths];
        routes.pacs = [];
      }
    }
    const window = `batch closes ${process.env.BATCH_QUIET_SECS} s after the last seal, or at the latest ${process.env.BATCH_MAX_AGE_SECS} s after it opens`;
    console.log(`[start] ${clips(routes.s3.length)} uploaded to s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/ (${stack.mode} mode; ${window})`);
    if (route)
      console.log(
        `[start] ${clips(routes.pacs.length)} through PACS, MP4 as DICOM US Multi-frame with a patient's details: Orthanc → STOW-RS → PACS hook → s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/dicom/`,
      );
    console.log(`[start] status page: ${stack.statusApi.url}/  (token for tenant ${TENANT}: .local/secrets/status-token)`);
    writeFileSync(join(REPO_ROOT, '.local', 'secrets', 'status-token'), await stack.statusToken(TENANT), { mode: 0o600 });
    const sealing = progressLine('sealed   ');
    const processing = progressLine('processed');
    let stage = 'sealing';
    let sealedTotal = clipPaths.length;
    let report: RunReport;
    try {
      report = await runClips(stack, routes.s3, {
        tenant: TENANT,
        pacs: route && { route, clips: routes.pacs },
        onProgress: (p) => {
          if (p.stage !== stage) {
            sealing(bar(sealedTotal, sealedTotal), true);
            stage = p.stage;
          }
          if (p.stage === 'sealing') {
            sealedTotal = p.total;
            sealing(bar(p.done, sealedTotal));
          } else {
            processing(`${bar(p.done, p.total)} ${p.jobIds.length ? p.jobIds.join(', ') : '(waiting for the batch to close)'}`);
          }
        },
      });
    } catch (error) {
      console.log(`\n[start] the run failed: ${(error as Error).message}`);
      return 1;
    }
    processing(`done: ${report.jobs.map((j) => `${j.jobId} ${j.status} (status API: ${j.apiStatus})`).join(', ')}`, true);

    const exports = await exportResults(stack, report);
    printTable(report, exports, options.keep);
    const done = report.clips.filter((clip) => clip.result).length;
    console.log(
      `\n[start] ${done} of ${report.clips.length} clips analysed in ${stack.mode} mode in ${((report.timings.doneAtMs - report.timings.startedAtMs) / 1000).toFixed(1)} s.` +
        ' Labels are the original classifier\'s rule, reported as "unvalidated": not a diagnosis (see README); the view check is not assessed.',
    );
    console.log(`[start] status page: ${report.statusPageUrl} (paste the token from .local/secrets/status-token)`);
    if (options.keep)
      console.log(
        `[start] --keep: the stack stays up; Ctrl-C stops it (npm run services:stop stops Swift, Redis, memcached). Same files again: radiomics results JOB_ID --out DIR --api ${stack.statusApi.url} --token-file .local/secrets/status-token`,
      );
    for (const e of exports) {
      const failed = e.download.failed.length ? ` (${e.download.failed.length} files could not be fetched)` : '';
      console.log(`[start] job ${e.job.job_id}: ${e.records.length} clips in ${relative(process.cwd(), e.csvPath)}${failed}; report:`);
      console.log(e.reportPath);
    }
    if (options.keep) await new Promise(() => undefined);
    return done === report.clips.length && exports.every((e) => e.download.failed.length === 0) ? 0 : 1;
  } finally {
    if (!options.keep) await stop();
  }
}

/**
 * One row per clip. Its results: the clip's files as fetched into results/<job id>/clips/, or with --keep its
 * TempURL (valid while the stack is up); without either, the command that fetches them.
 */
function printTable(report: RunReport, exports: ExportOutcome[], keep: boolean): void {
  const links = new Map(exports.flatMap((e) => e.job.results.map((r) => [r.video_id, r.analysis_url ?? r.error_url] as const)));
  const folders = new Map(exports.map((e) => [e.job.job_id, join(e.csvPath, '..')] as const));
  const resultsOf = (videoId: string, jobId: string | undefined): string => {
    if (!jobId) return '';
    if (keep && links.get(videoId)) return links.get(videoId)!;
    const folder = folders.get(jobId);
    for (const kind of ['analysis', 'error'] as const) {
      const path = folder && join(clipsDir(folder), resultFileName(videoId, kind));
      if (path && existsSync(path)) return relative(process.cwd(), path);
    }
    return `radiomics results ${jobId} --out results/${jobId}`;
  };
  console.log(`\n${'clip'.padEnd(38)} route stage     doppler textured label                z          results`);
  const byName = [...report.clips].sort((a, b) => a.clip.localeCompare(b.clip));
  for (const { clip, sentBy, video, result, resultsContainer, apiStage } of byName) {
    const stage = apiStage?.stage ?? video?.stage ?? 'missing';
    const link = video ? resultsOf(video.videoId, video.batchId) : '';
    let row = `${stage.padEnd(9)} ${apiStage?.reason ?? video?.reason ?? ''}`;
    if (result) {
      const block = result.label as { z: number | null; label: string | null; label_status: string };
      const label = block.label === null ? String(result.result) : `${block.label} (${block.label_status})`;
      const z = typeof block.z === 'number' ? block.z.toFixed(1) : '-';
      row = `${stage.padEnd(9)} ${String(result.doppler).padEnd(7)} ${String(result.textured_frames).padEnd(8)} ${label.padEnd(20)} ${z.padEnd(10)} ${link}`;
    } else if (resultsContainer) {
      row = `${stage.padEnd(9)} ${apiStage?.reason ?? 'no result'} (see the job's errors) ${link}`;
    }
    console.log(`${basename(clip).padEnd(38)} ${(apiStage?.route ?? sentBy).padEnd(5)} ${row}`);
  }
}

/** Each job's results into results/<job id>/, exactly as `radiomics results` writes them (the same API, nothing more). */
async function exportResults(stack: Stack, report: RunReport): Promise<ExportOutcome[]> {
  const api = new HttpStatusApi(stack.statusApi.url, await stack.statusToken(TENANT));
  const outcomes: ExportOutcome[] = [];
  for (const job of report.jobs) {
    const progress = progressLine(`results  `);
    outcomes.push(
      await exportJobResults({
        api,
        jobId: job.batchId,
        outDir: join(REPO_ROOT, 'results', job.batchId),
        onProgress: (p) => progress(`${bar(p.done, p.total)} ${job.batchId}`, p.done === p.total),
      }),
    );
  }
  return outcomes;
}

process.exitCode = await main();
