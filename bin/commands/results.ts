/**
 * `radiomics results JOB_ID --out DIR` (or `--batch BATCH_ID`, or `--video ID` / `--source KEY` / `--sop UID` for
 * one clip) `[--api URL] [--token T | --token-file F]`: downloads the job's per-clip results (or that one clip's)
 * through the status API's links, resumably, and writes DIR/features.csv and DIR/report.html (see lib/results/).
 * A progress bar goes to stderr. Exit codes: 0 written (every file fetched), 1 the API refused, no such upload
 * in the tenant, or some files could not be fetched (the rest is written; run again to resume), 2 usage.
 */
import { exportJobResults } from '#lib/results/export-job.js';
import { HttpStatusApi, ID_PATTERN, StatusApiError } from '#lib/results/status-api-client.js';
import { UsageError, defineCommand, runCommand, type Out } from '#bin/support/command-line.js';
import { API_ACCESS_ENVIRONMENT, API_ACCESS_OPTIONS, apiAccess, type ApiAccess } from '#bin/support/status-access.js';
import { progressBar } from '#bin/support/status-format.js';
import { VIDEO_ID_OPTION, VIDEO_LOOKUP_OPTIONS, noVideoLine, videoQueryOf, type VideoQuery } from '#bin/support/video-status.js';

export const RESULTS = defineCommand({
  program: 'radiomics results',
  usage: `usage: radiomics results (JOB_ID | --batch BATCH_ID) --out DIR [--api URL] [--token TOKEN | --token-file PATH]
       radiomics results (--video ID | --source KEY | --sop UID) --out DIR [--api URL] [--token TOKEN | --token-file PATH]`,
  about:
    "Download a job's per-clip results through the status API's links, resumably (files already in DIR are kept), and write DIR/features.csv and DIR/report.html. With --video, --source or --sop, only that clip, from its job. A progress bar goes to stderr. The token is never printed.",
  arguments: [['JOB_ID', 'the job (32 hex characters)']],
  options: {
    ...API_ACCESS_OPTIONS,
    out: { type: 'string', value: 'DIR', help: 'the folder to write into (required)' },
    batch: { type: 'string', value: 'BATCH_ID', help: "the batch whose job's results to fetch, instead of JOB_ID" },
    ...VIDEO_ID_OPTION,
    ...VIDEO_LOOKUP_OPTIONS,
  },
  environment: API_ACCESS_ENVIRONMENT,
  exitStatus: [
    [0, 'written: every file fetched'],
    [
      1,
      'the API refused, the tenant has no such video (--video, --source or --sop) or it is in no job yet, some files could not be fetched (the rest is written; run again to resume) or DIR cannot be written',
    ],
    [2, 'usage error'],
  ],
});

export async function run(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runCommand(RESULTS, args, { out, err }, async ({ values, positionals }) => {
    const access = await apiAccess(values, env);
    const given = [...positionals, ...(values.batch ? [values.batch] : [])];
    if ('problem' in access) throw new UsageError(access.problem);
    if (!values.out) throw new UsageError('--out DIR is required');
    const video = videoQueryOf(values);
    if (video) {
      if (given.length) throw new UsageError(`--${video.by} does not go with JOB_ID or --batch`);
      return exportResults(access, { outDir: values.out, video }, out, err);
    }
    if (given.length !== 1) throw new UsageError('give one JOB_ID, --batch BATCH_ID, --video ID, --source KEY or --sop UID');
    if (!ID_PATTERN.test(given[0])) throw new UsageError('the id must be 32 hex characters');
    return exportResults(access, { outDir: values.out, batchId: values.batch, jobId: given[0] }, out, err);
  });
}

type Target = { outDir: string } & ({ batchId?: string; jobId: string } | { video: VideoQuery });

/** The job to export from and, for one upload, its clip (with what the caller knows of it); or why there is none. */
async function jobOf(
  api: HttpStatusApi,
  target: Target,
): Promise<{ jobId: string; clip?: { videoId: string; source?: string; route?: string } } | { problem: string }> {
  if (!('video' in target)) {
    const jobId = target.batchId ? (await api.batch(target.batchId)).job_id : target.jobId;
    return jobId ? { jobId } : { problem: 'that batch has no job yet' };
  }
  const { video } = target;
  const found = await (video.by === 'video' ? api.video(video.value) : api.findVideo(video)).catch((error: unknown) => {
    if (error instanceof StatusApiError && error.status === 404) return undefined;
    throw error;
  });
  if (!found) return { problem: noVideoLine(target.video) };
  if (!found.job_id) {
    const id = found.video_id;
    return {
      problem:
        found.stage === 'failed'
          ? `video ${id} failed before it had a job (${found.reason ?? 'failed'})`
          : `video ${id} has no job yet (stage ${found.stage})`,
    };
  }
  const source = video.by === 'video' ? (found.source ?? undefined) : video.value;
  return { jobId: found.job_id, clip: { videoId: found.video_id, source, route: found.route } };
}

async function exportResults(access: ApiAccess, target: Target, out: Out, err: Out): Promise<number> {
  const api = new HttpStatusApi(access.api, access.token);
  const progress = (text: string, end = false) => (err.isTTY ? err.write(`\r${text}${end ? '\n' : ''}`) : end && err.write(`${text}\n`));
  try {
    const found = await jobOf(api, target);
    if ('problem' in found) {
      err.write(`radiomics results: ${found.problem}\n`);
      return 1;
    }
    const { jobId, clip } = found;
    const outcome = await exportJobResults({
      api,
      jobId,
      outDir: target.outDir,
      ...(clip ? { videoIds: [clip.videoId], origins: new Map([[clip.videoId, { source: clip.source, route: clip.route }]]) } : {}),
      onProgress: (p) =>
        progress(
          `files ${progressBar({ done: p.done, total: p.total, percent: p.total ? (100 * p.done) / p.total : 100 })} (${p.skipped} already there)`,
          p.done === p.total,
        ),
    });
    const { download, job } = outcome;
    for (const failure of download.failed) err.write(`radiomics results: ${failure.name}: ${failure.reason}\n`);
    const clipListed = clip !== undefined && job.results.some((r) => r.video_id === clip.videoId);
    if (job.results_truncated && !clipListed)
      err.write(`radiomics results: the API listed only the first ${job.results.length} clips of this job (its RESULTS_MAX_LINKS)\n`);
    const clips = outcome.records.length === 1 ? '1 clip' : `${outcome.records.length} clips`;
    const failed = download.failed.length ? `, ${download.failed.length} failed (run again to resume)` : '';
    out.write(`${clips}: ${download.downloaded} files fetched, ${download.skipped} already there${failed}\n`);
    out.write(`${outcome.csvPath}\n${outcome.reportPath}\n`);
    return download.failed.length ? 1 : 0;
  } catch (error) {
    if (error instanceof StatusApiError) {
      err.write(`radiomics results: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EROFS' || code === 'ENOSPC') {
      err.write(`radiomics results: cannot write into ${target.outDir} (${code})\n`);
      return 1;
    }
    throw error;
  }
}
