/** Terminal rendering of status-api answers for `radiomics status`: jobs, one job, one video (pure; no I/O). */
import { isDicomUid } from '#lib/dicom/uid.js';

interface Progress {
  done: number;
  total: number;
  percent: number;
}
export interface JobLike {
  job_id: string;
  status: string;
  progress: Progress | null;
  failed_count: number;
  items: number | null;
  submitted_at: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  stale_since: string | null;
}

export function progressBar(progress: Progress | null, width = 24): string {
  const fraction = progress && progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
  const filled = Math.round(fraction * width);
  const label = progress ? `${progress.done}/${progress.total} ${progress.percent.toFixed(1)}%` : 'no progress yet';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${label}`;
}

export function jobLine(job: JobLike): string {
  const stale = job.stale_since ? `  (stale since ${job.stale_since})` : '';
  const failed = job.failed_count > 0 ? `  failed ${job.failed_count}` : '';
  return `${job.job_id}  ${job.status.padEnd(10)} ${progressBar(job.progress)}${failed}${stale}`;
}

export function jobDetail(
  job: JobLike & {
    asperathos_job_id: string;
    reason: string | null;
    failed_items: string[];
    results: Array<{ video_id: string; analysis_url: string | null }>;
  },
): string {
  const lines = [
    `job        ${job.job_id} (Asperathos ${job.asperathos_job_id})`,
    `status     ${job.status}${job.reason ? ` (${job.reason})` : ''}${job.stale_since ? `, stale since ${job.stale_since}` : ''}`,
    `progress   ${progressBar(job.progress, 32)}`,
    `items      ${job.items ?? '-'}`,
    `submitted  ${job.submitted_at ?? '-'}`,
    `started    ${job.started_at ?? '-'}`,
    `ended      ${job.ended_at ?? '-'}`,
    `failed     ${job.failed_count}${job.failed_items.length ? `: ${job.failed_items.join(', ')}` : ''}`,
    `results    ${job.results.filter((r) => r.analysis_url).length} analysed`,
  ];
  return lines.join('\n');
}

/** Text from outside (a source key) made safe for a terminal: control characters become '?'. */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}

export interface VideoLike {
  video_id: string;
  source?: string | null;
  route?: string;
  stage: string;
  reason: string | null;
  batch_id: string | null;
  job_id: string | null;
  received_at?: string;
  sealed_at?: string | null;
  updated_at?: string;
}

interface JobWithLinks extends JobLike {
  results: Array<{ video_id: string; analysis_url: string | null; frames_url: string | null; error_url: string | null }>;
  results_truncated: boolean;
  results_expire_at: string;
}

export const VIDEO_ENDED_STAGES: readonly string[] = ['done', 'failed'];

/**
 * What was uploaded as the video: its `source` as the API names it to its own tenant (`sop UID` for a PACS
 * instance, `source KEY` otherwise); without one, what was asked for, or `source -` when it was asked by id.
 */
function uploadLine(video: VideoLike, asked: { by: 'source' | 'sop' | 'video'; value: string }): string {
  const [label, name] = video.source
    ? [isDicomUid(video.source) ? 'sop' : 'source', video.source]
    : asked.by === 'video'
      ? ['source', '-']
      : [asked.by, asked.value];
  return `${label.padEnd(10)} ${printable(name)}`;
}

/**
 * One video: what was uploaded (uploadLine), its stage, batch and job, and its result links (TempURLs: anyone
 * holding one can fetch the file until it expires).
 */
export function videoDetail(video: VideoLike, asked: { by: 'source' | 'sop' | 'video'; value: string }, job: JobWithLinks | null): string {
  const lines = [
    uploadLine(video, asked),
    `video      ${video.video_id}${video.route ? ` (${video.route})` : ''}`,
    `stage      ${video.stage}${video.reason ? ` (${video.reason})` : ''}`,
    `batch      ${video.batch_id ?? '-'}`,
    `job        ${job ? jobLine(job) : (video.job_id ?? '-')}`,
    `received   ${video.received_at ?? '-'}`,
    `sealed     ${video.sealed_at ?? '-'}`,
    `updated    ${video.updated_at ?? '-'}`,
  ];
  const links = job?.results.find((r) => r.video_id === video.video_id);
  const urls = links
    ? (
        [
          ['json', links.analysis_url],
          ['zip', links.frames_url],
          ['error.json', links.error_url],
        ] as const
      ).filter(([, url]) => url)
    : [];
  if (job && urls.length) {
    for (const [name, url] of urls) lines.push(`${name.padEnd(10)} ${url}`);
    lines.push(`links      expire at ${job.results_expire_at}`);
  } else if (job?.results_truncated)
    lines.push(`results    not listed: the job lists the links of its first ${job.results.length} clips only`);
  else lines.push(`results    ${VIDEO_ENDED_STAGES.includes(video.stage) ? 'none' : 'none yet'}`);
  return lines.join('\n');
}
