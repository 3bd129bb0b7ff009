/** Terminal rendering of status-api answers for `radiomics status` (pure; no I/O). */

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

export function jobDetail(job: JobLike & { asperathos_job_id: string; reason: string | null; failed_items: string[]; results: Array<{ video_id: string; analysis_url: string | null }> }): string {
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
