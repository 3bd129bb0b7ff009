/**
 * The API's response bodies, built from table rows (and, for a job's results and a video's `done`, the
 * results container). Only allow-listed fields leave: never wrapped keys, workload or sealed-object URLs,
 * container names, Redis addresses; a video's original object name only opened, for its own tenant.
 */
import type { BatchRecord, JobState, VideoRecord } from '#lib/store/records.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { terminalOutcome } from '#lib/status/job-state.js';
import { hasResult, listResults, resultsContainerOf } from '#lib/status/results.js';

export interface ProgressView {
  done: number;
  total: number;
  percent: number;
  source: 'queue' | 'results';
}

export interface JobSummaryView {
  job_id: string;
  asperathos_job_id: string;
  status: string;
  batch_state: string;
  progress: ProgressView | null;
  failed_count: number;
  items: number | null;
  created_at: string;
  submitted_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  observed_at: string | null;
  stale_since: string | null;
}

const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

function progressView(state: JobState | undefined): ProgressView | null {
  const p = state?.progress;
  if (!p || p.total <= 0) return null;
  return { done: p.done, total: p.total, percent: Math.round((1000 * p.done) / p.total) / 10, source: p.source };
}

/** The job's status word: Asperathos's, `lost`, or `submitted` until the first poll. */
export function jobStatusOf(batch: BatchRecord): string {
  return batch.jobState?.status ?? 'submitted';
}

export function jobSummaryView(batch: BatchRecord): JobSummaryView {
  const s = batch.jobState;
  return {
    job_id: batch.batchId,
    asperathos_job_id: batch.jobId!,
    status: jobStatusOf(batch),
    batch_state: batch.state,
    progress: progressView(s),
    failed_count: s?.failedCount ?? 0,
    items: orNull(batch.items),
    created_at: batch.createdAt,
    submitted_at: orNull(batch.submittedAt),
    started_at: orNull(s?.startingTime),
    ended_at: orNull(s?.endedAt),
    observed_at: batch.observedAtMs ? new Date(batch.observedAtMs).toISOString() : null,
    stale_since: orNull(batch.staleSince),
  };
}

export interface ResultsSigner {
  swift: SwiftStore;
  tempUrlKey: string;
  ttlSecs: number;
  maxLinks: number;
  nowMs: number;
}

export async function jobDetailView(batch: BatchRecord, signer: ResultsSigner, signal?: AbortSignal) {
  const s = batch.jobState;
  const expiresAtSec = Math.floor(signer.nowMs / 1000) + signer.ttlSecs;
  const container = resultsContainerOf(batch.batchId);
  const sign = (object: string | undefined) =>
    object
      ? signer.swift.tempUrl({ method: 'GET', container, object, expiresAtSec, key: signer.tempUrlKey, digest: 'sha256', signal })
      : Promise.resolve(null);
  const { results, truncated } = await listResults(signer.swift, batch.batchId, signer.maxLinks, signal);
  const links = await Promise.all(
    results.map(async (r) => ({
      video_id: r.videoId,
      analysis_url: await sign(r.analysis),
      frames_url: await sign(r.frames),
      error_url: await sign(r.error),
    })),
  );
  return {
    ...jobSummaryView(batch),
    reason: orNull(s?.reason ?? (terminalOutcome(jobStatusOf(batch)) ? batch.reason : undefined)),
    visualizer_url: orNull(s?.visualizerUrl),
    report: s?.report ?? {},
    failed_items: s?.failedItems ?? [],
    results: links,
    results_truncated: truncated,
    results_expire_at: new Date(expiresAtSec * 1000).toISOString(),
  };
}

export function batchView(batch: BatchRecord) {
  return {
    batch_id: batch.batchId,
    state: batch.state,
    items: orNull(batch.items),
    joined_items: batch.claims ?? 0,
    sealed_items: batch.sealedItems ?? 0,
    created_at: batch.createdAt,
    closing_at: orNull(batch.closingAt),
    submitted_at: orNull(batch.submittedAt),
    job_id: batch.jobId ? batch.batchId : null,
    job_status: batch.jobId ? jobStatusOf(batch) : null,
    reason: orNull(batch.reason),
  };
}

export type VideoStageView = 'received' | 'sealed' | 'batched' | 'submitted' | 'processing' | 'done' | 'failed';

/** The video's stage, from its row, its batch and the job's state (and whether its `<id>.json` exists). */
export async function videoStage(
  video: VideoRecord,
  batch: BatchRecord | undefined,
  swift: SwiftStore,
  signal?: AbortSignal,
): Promise<{ stage: VideoStageView; reason: string | null }> {
  if (video.stage === 'rejected' || video.stage === 'failed' || video.stage === 'superseded')
    return { stage: 'failed', reason: video.reason ?? video.stage };
  if (video.stage === 'sealing' || video.stage === 'abandoned') return { stage: 'received', reason: null };
  if (!batch) return { stage: 'sealed', reason: null };
  if (!batch.jobId) {
    if (batch.state === 'submitting') return { stage: 'batched', reason: null };
    if (batch.state === 'failed') return { stage: 'failed', reason: batch.reason ?? 'batch_failed' };
    return { stage: 'sealed', reason: null };
  }
  const state = batch.jobState;
  if (state?.failedItems?.includes(video.videoId)) return { stage: 'failed', reason: 'analysis_failed' };
  if (state?.status !== undefined && state.status !== 'created' && (await hasResult(swift, batch.batchId, video.videoId, signal)))
    return { stage: 'done', reason: null };
  if (!state || state.status === 'created') return { stage: 'submitted', reason: null };
  const outcome = terminalOutcome(state.status);
  if (!outcome) return { stage: 'processing', reason: null };
  return { stage: 'failed', reason: outcome.reason ?? 'no_result' };
}

/** `source`: the upload's key or SOPInstanceUID, opened for its own tenant (lib/status/api/router.ts), else null. */
export async function videoView(
  video: VideoRecord,
  batch: BatchRecord | undefined,
  swift: SwiftStore,
  signal?: AbortSignal,
  source: string | null = null,
) {
  const { stage, reason } = await videoStage(video, batch, swift, signal);
  return {
    video_id: video.videoId,
    source,
    route: video.kind === 'dicom' ? 'pacs' : 's3',
    stage,
    reason,
    batch_id: orNull(batch?.batchId),
    job_id: batch?.jobId ? batch.batchId : null,
    received_at: video.receivedAt,
    sealed_at: orNull(video.sealedAt),
    updated_at: video.updatedAt,
  };
}
