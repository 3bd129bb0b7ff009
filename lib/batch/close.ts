/**
 * Closes due batches and carries each through to a submitted Asperathos job, one recorded step at a time:
 *   1. close a full, old or quiet batch (no new seal can join it) and wait for its in-flight seals,
 *   2. write workload.txt (one sealed-object URL per line, ending with \n) to the batch's container,
 *   3. HW mode: provision the Palaemon session holding the key (idempotent: an existing session of ours is reused),
 *   4. post the kubejobs job, guarded by a submit claim so overlapping runs never post twice,
 *   5. record the job id (the batch becomes an active job for sync-status).
 * A crash or a 5xx at any point leaves the row in a state the next run resumes from.
 */
import { WORKLOAD_OBJECT, workloadText } from '#lib/contract.js';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import type { KeyWrapper } from '#lib/keys.js';
import type { BatchStore, RecordedSeal, SealedVideo } from '#lib/store/batch-store.js';
import { activeJobKeys, LEAVE_ACTIVE } from '#lib/store/keys.js';
import type { IntakeStore } from '#lib/store/intake-store.js';
import type { BatchRecord } from '#lib/store/records.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { segmentsContainerOf } from '#lib/seal/sealed-upload.js';
import { AsperathosError, type JobManager } from '#lib/asperathos/index.js';
import type { SessionAuthority } from '#lib/palaemon/index.js';
import { ensureSession } from '#lib/palaemon/index.js';
import { buildBatchJob, buildBatchSession, type SubmissionSettings } from './job-spec.js';

export interface BatchSettings {
  maxItems: number;
  maxBytes: number;
  maxAgeSecs: number;
  /** Close a batch this long after the last video joined it, once none is still being sealed (0: never). */
  quietSecs: number;
  /** An in-flight seal older than this is abandoned (its intake died); default 20 minutes, beyond Lambda's 15. */
  staleSealSecs: number;
  /** A submit claim older than this with no job id is taken over. */
  staleSubmitSecs: number;
  links: { kind: 'tempurl'; key: string; ttlSecs: number } | { kind: 'public' };
  submission: SubmissionSettings;
}

export interface BatchDeps {
  batches: BatchStore;
  intake: IntakeStore;
  swift: SwiftStore;
  keys: KeyWrapper;
  jobs: JobManager;
  sessions?: SessionAuthority;
  settings: BatchSettings;
  log: Logger;
  now?: () => Date;
}

/** What settling a batch's registrations needs. */
export type SettleDeps = Pick<BatchDeps, 'batches' | 'intake' | 'log'> & { settings: Pick<BatchSettings, 'staleSealSecs'> };

export type BatchStep = 'open' | 'waiting_for_seals' | 'empty' | 'submitted' | 'submitting_elsewhere' | 'failed' | 'retry_later';

export interface BatchRunSummary {
  batches: number;
  steps: Record<string, BatchStep>;
  /** `submitDelaySecs`: from the batch's close to its job's submission, for the batches this run submitted. */
  submitted: Array<{ batchId: string; jobId: string; submitDelaySecs?: number }>;
  /** Age since its close of the oldest batch this run left closed but unsubmitted (0: none); the stuck-batch alarm. */
  oldestUnsubmittedSecs: number;
}

const UNSUBMITTED_STEPS: ReadonlySet<BatchStep> = new Set(['waiting_for_seals', 'submitting_elsewhere', 'retry_later']);

/** Runs every active batch forward as far as it can go now; with `batchId`, that batch only (closing it even if not due). */
export async function closeDueBatches(deps: BatchDeps, options: { batchId?: string; signal?: AbortSignal } = {}): Promise<BatchRunSummary> {
  const summary: BatchRunSummary = { batches: 0, steps: {}, submitted: [], oldestUnsubmittedSecs: 0 };
  const candidates: BatchRecord[] = [];
  if (options.batchId) {
    const batch = await deps.intake.getBatch(options.batchId);
    if (!batch) throw new RejectedInput('unknown_batch', 'no such batch');
    candidates.push(batch);
  } else {
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await deps.batches.activeBatches(100, cursor);
      candidates.push(...page.batches);
      cursor = page.cursor;
    } while (cursor);
  }
  const failures: unknown[] = [];
  for (const batch of candidates) {
    summary.batches++;
    try {
      const step = await advanceBatch(batch, deps, Boolean(options.batchId), options.signal);
      summary.steps[batch.batchId] = step.step;
      if (step.jobId) summary.submitted.push({ batchId: batch.batchId, jobId: step.jobId, submitDelaySecs: step.submitDelaySecs });
    } catch (error) {
      summary.steps[batch.batchId] = 'retry_later';
      deps.log.warn('batch step failed; the next run resumes it', { batchId: batch.batchId, ...errorFields(error) });
      failures.push(error);
    }
  }
  const nowMs = (deps.now ?? (() => new Date()))().getTime();
  for (const batch of candidates) {
    if (!batch.closingAt || !UNSUBMITTED_STEPS.has(summary.steps[batch.batchId])) continue;
    summary.oldestUnsubmittedSecs = Math.max(summary.oldestUnsubmittedSecs, (nowMs - Date.parse(batch.closingAt)) / 1000);
  }
  if (failures.length > 0 && options.batchId) throw failures[0];
  return summary;
}

async function advanceBatch(
  initial: BatchRecord,
  deps: BatchDeps,
  force: boolean,
  signal?: AbortSignal,
): Promise<{ step: BatchStep; jobId?: string; submitDelaySecs?: number }> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ batchId: initial.batchId, tenant: initial.tenant });
  let batch = initial;
  let settledWhileOpen = false;
  let settlesWhileClosing = 0;
  for (;;) {
    switch (batch.state) {
      case 'open': {
        if (!isDue(batch, deps.settings, now(), force)) {
          if (settledWhileOpen || !isQuietByTime(batch, deps.settings, now())) return { step: 'open' };
          settledWhileOpen = true;
          if ((await settleInflight(batch, deps, now())) > 0) return { step: 'open' };
          break;
        }
        await deps.batches.transition(batch.batchId, 'open', 'closing', { closingAt: now().toISOString() });
        await deps.intake.clearOpenBatch(batch.tenant, batch.batchId);
        log.info('batch closed', { claims: batch.claims });
        break;
      }
      case 'closing': {
        if (Object.keys(batch.inflight ?? {}).length > 0) {
          if (settlesWhileClosing++ > 1) return { step: 'waiting_for_seals' };
          const waiting = await settleInflight(batch, deps, now());
          if (waiting > 0) return { step: 'waiting_for_seals' };
          break;
        }
        const written = await writeWorkload(batch, deps, now(), signal);
        if (written === undefined) {
          log.info('waiting for the index to list every sealed video', { sealedItems: batch.sealedItems });
          return { step: 'waiting_for_seals' };
        }
        if (written === 0) {
          await deps.batches.transition(batch.batchId, 'closing', 'empty', { ...LEAVE_ACTIVE });
          log.info('batch closed with nothing sealed');
          return { step: 'empty' };
        }
        break;
      }
      case 'submitting': {
        const outcome = await submitBatch(batch, deps, now, signal);
        if (outcome.step !== 'submitted') return outcome;
        log.info('job submitted', { jobId: outcome.jobId });
        const closedAtMs = batch.closingAt ? Date.parse(batch.closingAt) : undefined;
        return { ...outcome, submitDelaySecs: closedAtMs === undefined ? undefined : (now().getTime() - closedAtMs) / 1000 };
      }
      case 'submitted':
        return { step: 'submitted', jobId: batch.jobId };
      case 'empty':
        return { step: 'empty' };
      default:
        return { step: 'failed' };
    }
    const reread = await deps.intake.getBatch(batch.batchId);
    if (!reread) throw new RetryableError('batch vanished');
    batch = reread;
  }
}

function isDue(batch: BatchRecord, settings: BatchSettings, now: Date, force: boolean): boolean {
  if (batch.claims === 0) return false;
  if (force) return true;
  const ageSecs = (now.getTime() - Date.parse(batch.createdAt)) / 1000;
  return (
    batch.claims >= settings.maxItems ||
    batch.claimedBytes >= settings.maxBytes ||
    ageSecs >= settings.maxAgeSecs ||
    isQuiet(batch, settings, now)
  );
}

function isQuiet(batch: BatchRecord, settings: BatchSettings, now: Date): boolean {
  return isQuietByTime(batch, settings, now) && Object.keys(batch.inflight ?? {}).length === 0;
}

/** No video has joined for the quiet period: the batch is quiet once its registrations are settled. */
function isQuietByTime(batch: BatchRecord, settings: BatchSettings, now: Date): boolean {
  if (settings.quietSecs <= 0 || batch.claims === 0) return false;
  const lastActivityMs = batch.lastActivityMs ?? Date.parse(batch.createdAt);
  return now.getTime() - lastActivityMs >= settings.quietSecs * 1000;
}

/**
 * Settles the batch's registrations by its video rows: one whose seal is recorded in this batch is counted (the
 * intake leaves that to the closer), one whose video was recorded elsewhere or refused is dropped, a stale one (its
 * intake seems dead) is given up with a tombstone row first (lib/store/intake-store.ts) and dropped; returns how
 * many are still being sealed. The batch's sealed rows come from one query, and their registrations are counted a
 * write per 25; only the rest are read one by one (consistently: a row just recorded may not be in the index yet).
 */
export async function settleInflight(batch: BatchRecord, deps: SettleDeps, now: Date): Promise<number> {
  const entries = Object.entries(batch.inflight ?? {});
  if (entries.length === 0) return 0;
  const sealedHere = new Map<string, SealedVideo>();
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await deps.batches.sealedVideos(batch.batchId, cursor);
    for (const video of page.videos) sealedHere.set(video.videoId, video);
    cursor = page.cursor;
  } while (cursor);
  const recorded: RecordedSeal[] = [];
  let waiting = 0;
  for (const [videoId, startedAtMs] of entries) {
    const video: SealedVideo | undefined = sealedHere.get(videoId) ?? (await deps.intake.getVideo(videoId));
    if (video?.stage === 'sealed' && video.batchId === batch.batchId && (video.sealStartedAtMs ?? startedAtMs) === startedAtMs) {
      recorded.push({ videoId, startedAtMs, bytes: video.sealedBytes ?? 0 });
    } else if (video && video.stage !== 'abandoned' && video.batchId !== batch.batchId) {
      await deps.batches.dropInflight(batch.batchId, videoId, startedAtMs);
    } else if (now.getTime() - startedAtMs > deps.settings.staleSealSecs * 1000) {
      const given = video?.stage === 'sealed' || (await deps.batches.abandonSeal(batch, videoId, startedAtMs, now.toISOString()));
      if (!given) {
        waiting++;
        continue;
      }
      await deps.batches.dropInflight(batch.batchId, videoId, startedAtMs);
      deps.log.warn('dropped an abandoned seal; its intake retry will join a new batch', { batchId: batch.batchId, videoId });
    } else {
      waiting++;
    }
  }
  await deps.batches.countSeals(batch.batchId, recorded);
  return waiting;
}

/**
 * Lists the batch's sealed videos in its workload; undefined while the index lists fewer than the batch counted
 * (every counted seal is a row sealed in this batch, and a row reaches the index a moment after it is written).
 */
async function writeWorkload(batch: BatchRecord, deps: BatchDeps, now: Date, signal?: AbortSignal): Promise<number | undefined> {
  const names: string[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await deps.batches.sealedVideos(batch.batchId, cursor);
    for (const video of page.videos) if (video.objectName) names.push(video.objectName);
    cursor = page.cursor;
  } while (cursor);
  if (names.length < (batch.sealedItems ?? 0)) return undefined;
  if (names.length === 0) return 0;
  names.sort();
  const expiresAtSec = Math.floor(now.getTime() / 1000) + (deps.settings.links.kind === 'tempurl' ? deps.settings.links.ttlSecs : 0);
  const linkTo = async (name: string) => {
    const links = deps.settings.links;
    if (links.kind === 'public') return deps.swift.objectUrl(batch.container, name, { signal });
    return deps.swift.tempUrl({
      method: 'GET',
      container: batch.container,
      object: name,
      expiresAtSec,
      key: links.key,
      digest: 'sha256',
      signal,
    });
  };
  if (deps.settings.links.kind === 'public') {
    await deps.swift.setContainerReadAcl(batch.container, '.r:*', { signal });
    await deps.swift.setContainerReadAcl(segmentsContainerOf(batch.container), '.r:*', { signal });
  }
  const links: string[] = [];
  for (const name of names) links.push(await linkTo(name));
  await deps.swift.putObject(batch.container, WORKLOAD_OBJECT, Buffer.from(workloadText(links)), { contentType: 'text/plain', signal });
  await deps.batches.transition(batch.batchId, 'closing', 'submitting', {
    items: names.length,
    workloadUrl: await linkTo(WORKLOAD_OBJECT),
    workloadWrittenAt: now.toISOString(),
  });
  return names.length;
}

async function submitBatch(
  batch: BatchRecord,
  deps: BatchDeps,
  now: () => Date,
  signal?: AbortSignal,
): Promise<{ step: BatchStep; jobId?: string }> {
  const row = batch;
  if (!row.workloadUrl) throw new RetryableError('batch is submitting without a workload');
  const submission = deps.settings.submission;
  const key = await deps.keys.unwrap(batch.wrappedKey, { tenant: batch.tenant, batchId: batch.batchId });
  try {
    if (submission.mode === 'HW' && !row.sessionHash) {
      if (!deps.sessions) throw new RejectedInput('no_cas', 'HW mode needs a Palaemon CAS client');
      const session = await ensureSession(deps.sessions, buildBatchSession(batch.batchId, key, submission), { signal });
      await deps.batches.update(batch.batchId, 'submitting', { sessionHash: session.hash, sessionAt: now().toISOString() });
    }
    const claimedAt = now().getTime();
    const claimed = await deps.batches.update(
      batch.batchId,
      'submitting',
      { submitStartedAt: claimedAt },
      {
        expression: 'attribute_not_exists(submitStartedAt) OR submitStartedAt < :stale',
        values: { ':stale': claimedAt - deps.settings.staleSubmitSecs * 1000 },
      },
    );
    if (!claimed) return { step: 'submitting_elsewhere' };
    if (submission.mode === 'SIM') {
      deps.log.warn('SIM mode: the batch key travels in the job env_vars as ENCRYPTION_KEY; never use SIM mode for real patient data', {
        batchId: batch.batchId,
      });
    }
    let jobId: string;
    try {
      ({ jobId } = await deps.jobs.submit(buildBatchJob(batch.batchId, row.workloadUrl, key, submission), { signal }));
    } catch (error) {
      await deps.batches.update(batch.batchId, 'submitting', { submitStartedAt: undefined });
      if (error instanceof RejectedInput || error instanceof AsperathosError) {
        const reason = error instanceof RejectedInput ? error.reason : `asperathos_${error.status}`;
        await deps.batches.transition(batch.batchId, 'submitting', 'failed', { reason, ...LEAVE_ACTIVE });
        deps.log.error('job refused; the batch is failed', { batchId: batch.batchId, reason, ...errorFields(error) });
        return { step: 'failed' };
      }
      throw error;
    }
    const submittedAt = now().toISOString();
    await deps.batches.transition(batch.batchId, 'submitting', 'submitted', {
      jobId,
      submittedAt,
      ...activeJobKeys(submittedAt, batch.batchId),
    });
    return { step: 'submitted', jobId };
  } finally {
    key.fill(0);
  }
}
