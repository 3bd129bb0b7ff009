/**
 * What `radiomics status` shows, fetched once or watched: the tenant's jobs, one job, or one upload's video
 * (video-status.ts), rendered by status-format.ts. Watching redraws the block in place on a terminal (cursor up,
 * clear to the end) and prints only changed blocks elsewhere, until the job (or every listed job) has a terminal
 * status, or the video is done or failed.
 */
import { jobDetail, jobLine, type JobLike } from './status-format.js';
import { fetchVideoView, type VideoQuery } from './video-status.js';
import { terminalOutcome } from '#lib/status/job-state.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StatusRequest {
  api: string;
  token: string;
  jobId?: string;
  video?: VideoQuery;
}

export type StatusView = { body: Record<string, unknown>; text: string; ended: boolean } | { problem: string };

export async function fetchStatusView(request: StatusRequest): Promise<StatusView> {
  if (request.video) return fetchVideoView(request, request.video);
  const url = `${request.api}/${request.jobId ? `jobs/${request.jobId}` : 'jobs?limit=100'}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${request.token}` }, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    return { problem: `the status API is unreachable (${(error as { cause?: { code?: string } }).cause?.code ?? 'error'})` };
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) return { problem: `${res.status} ${String(body.error ?? 'error')}: ${String(body.message ?? '')}` };
  if (request.jobId) {
    const job = body as unknown as Parameters<typeof jobDetail>[0];
    return { body, text: jobDetail(job), ended: terminalOutcome(job.status) !== undefined };
  }
  const jobs = (body.jobs as JobLike[]) ?? [];
  return {
    body,
    text: jobs.length ? jobs.map(jobLine).join('\n') : 'no jobs',
    ended: jobs.every((job) => terminalOutcome(job.status) !== undefined),
  };
}

type Out = { write(text: string): unknown; isTTY?: boolean };

export async function watchStatus(request: StatusRequest, options: { intervalMs: number; out: Out; err: Out }): Promise<number> {
  let shownLines = 0;
  let last = '';
  for (;;) {
    const view = await fetchStatusView(request);
    if ('problem' in view) {
      options.err.write(`radiomics status: ${view.problem}\n`);
      return 1;
    }
    if (view.text !== last) {
      if (options.out.isTTY && shownLines > 0) options.out.write(`\x1b[${shownLines}F\x1b[J`);
      options.out.write(`${view.text}\n`);
      shownLines = view.text.split('\n').length;
      last = view.text;
    }
    if (view.ended) return 0;
    await sleep(options.intervalMs);
  }
}
