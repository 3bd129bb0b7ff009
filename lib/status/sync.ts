/**
 * One sync-status tick: polls Asperathos for every *active* job (the jobs in the sparse `active` index,
 * never a scan) with bounded concurrency and per-call timeouts, and records what it saw.
 *
 * - Every status is mapped (job-state.ts). A terminal one ends polling: the batch becomes completed | failed
 *   and leaves the index; optionally its wrapped key is deleted (crypto-shredding).
 * - A job the manager no longer knows (JobNotFound) is retried `notFoundLimit` ticks, then marked `lost`.
 * - Asperathos unreachable (network, timeout, 5xx): the job keeps its last known state, gets `staleSince`
 *   and an exponential back-off (`nextPollAtMs`). After `breakerThreshold` consecutive failures in one tick
 *   the rest of the tick stops calling and only marks jobs stale. Nothing is ever deleted on failure.
 * - Progress: the queue counts in the status JSON where a manager reports them (the real one does not), else
 *   items with `<id>.json` or `<id>.error.json` in the `<batchId>-results` container ÷ items: one listing a tick.
 * - Failed items: `/errors` is read on every tick of an ongoing job and the last list kept. When the job ends,
 *   a terminal status is recorded in that same tick: the failed items are the manager's list when it names any,
 *   else derived from the results container (job-evidence.ts), else, after `settleRetryLimit` ticks in which
 *   neither could be read, the last list seen. `failedItemsSource` records which.
 * - Writes are conditional (still submitted, same job, `observedAtMs` growing): an older poll never wins.
 *   An unchanged state is not rewritten, except every `heartbeatMs`.
 */
import { JobNotFound, AsperathosError, type JobManager, type JobStatus } from '#lib/asperathos/client.js';
import { RetryableError } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import type { BatchRecord } from '#lib/store/records.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { readManagerErrors, readResultsTally, settleFailedItems } from './job-evidence.js';
import { failedFromManager, jobStateOf, stateChanged, terminalOutcome, type FailedItems } from './job-state.js';
import { finishedCount } from './results.js';
import type { JobStatusStore } from '#lib/store/status-store.js';

export interface SyncSettings {
  concurrency: number;
  notFoundLimit: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  breakerThreshold: number;
  heartbeatMs: number;
  shredKeysOnTerminal: boolean;
  pageSize: number;
  /** Ticks a finished job is retried when neither /errors nor the results container can be read. */
  settleRetryLimit: number;
}

/** The settings with every variable unset (the defaults are the config schema's: lib/status/config.ts). */
export { DEFAULT_SYNC_SETTINGS } from './config.js';

export interface SyncDeps {
  store: JobStatusStore;
  jobs: JobManager;
  /** For progress from results when the status has no queue counts; optional. */
  swift?: SwiftStore;
  settings: SyncSettings;
  log: Logger;
  now?: () => number;
}

export type JobOutcome = 'updated' | 'unchanged' | 'terminal' | 'stale' | 'backing_off' | 'not_found' | 'lost' | 'superseded' | 'deferred';

export interface SyncSummary {
  active: number;
  outcomes: Record<JobOutcome, number>;
  breakerOpen: boolean;
  byJob: Record<string, JobOutcome>;
}

interface Tick {
  deps: SyncDeps;
  now: () => number;
  signal?: AbortSignal;
  deadlineMs: number;
  consecutiveFailures: number;
  breakerOpen: boolean;
}

export async function syncActiveJobs(deps: SyncDeps, options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<SyncSummary> {
  const now = deps.now ?? Date.now;
  const tick: Tick = {
    deps,
    now,
    signal: options.signal,
    deadlineMs: options.deadlineMs ?? Infinity,
    consecutiveFailures: 0,
    breakerOpen: false,
  };
  const summary: SyncSummary = {
    active: 0,
    breakerOpen: false,
    byJob: {},
    outcomes: { updated: 0, unchanged: 0, terminal: 0, stale: 0, backing_off: 0, not_found: 0, lost: 0, superseded: 0, deferred: 0 },
  };
  let cursor: Record<string, unknown> | undefined;
  let next = deps.store.activeJobs(deps.settings.pageSize);
  do {
    const page = await next;
    cursor = page.cursor;
    if (cursor) next = deps.store.activeJobs(deps.settings.pageSize, cursor);
    summary.active += page.batches.length;
    await mapBounded(page.batches, deps.settings.concurrency, async (batch) => {
      let outcome: JobOutcome;
      try {
        outcome = await syncJob(batch, tick);
      } catch (error) {
        deps.log.warn('job sync failed; the next tick retries it', { batchId: batch.batchId, jobId: batch.jobId, ...errorFields(error) });
        outcome = 'deferred';
      }
      summary.outcomes[outcome]++;
      summary.byJob[batch.batchId] = outcome;
    });
  } while (cursor);
  summary.breakerOpen = tick.breakerOpen;
  return summary;
}

async function syncJob(batch: BatchRecord, tick: Tick): Promise<JobOutcome> {
  const { deps } = tick;
  if (!batch.jobId) return 'deferred';
  const startMs = tick.now();
  if (batch.nextPollAtMs !== undefined && batch.nextPollAtMs > startMs) return 'backing_off';
  if (startMs > tick.deadlineMs || tick.signal?.aborted) return 'deferred';
  const observedAtMs = Math.max(startMs, (batch.observedAtMs ?? 0) + 1);
  if (tick.breakerOpen) return markUnreachable(batch, observedAtMs, tick);
  let status: JobStatus;
  try {
    status = await deps.jobs.get(batch.jobId, { signal: tick.signal });
  } catch (error) {
    if (error instanceof JobNotFound) return notFound(batch, observedAtMs, tick);
    if (!(error instanceof RetryableError || error instanceof AsperathosError)) throw error;
    if (++tick.consecutiveFailures >= deps.settings.breakerThreshold && !tick.breakerOpen) {
      tick.breakerOpen = true;
      deps.log.warn('Asperathos looks unreachable; the rest of this tick only marks jobs stale', { failures: tick.consecutiveFailures });
    }
    return markUnreachable(batch, observedAtMs, tick);
  }
  tick.consecutiveFailures = 0;
  return recordStatus(batch, status, observedAtMs, tick);
}

async function recordStatus(batch: BatchRecord, status: JobStatus, observedAtMs: number, tick: Tick): Promise<JobOutcome> {
  const { deps } = tick;
  const previous = batch.jobState;
  const outcome = terminalOutcome(status.status);
  const running = status.status === 'ongoing';
  const managerErrors = outcome || running ? await readManagerErrors(deps, batch, tick.signal) : undefined;
  const tally = (outcome || running) && (outcome || !status.progress) ? await readResultsTally(deps, batch, tick.signal) : undefined;
  let failed: FailedItems | undefined = running && managerErrors ? failedFromManager(managerErrors) : undefined;
  if (outcome) {
    failed = await settleFailedItems(deps, batch, managerErrors, tally, tick.signal);
    if (!failed) {
      if ((batch.pollFailures ?? 0) + 1 < deps.settings.settleRetryLimit) return markUnreachable(batch, observedAtMs, tick);
      failed = { ids: previous?.failedItems ?? [], count: previous?.failedCount ?? 0, source: 'last_seen' };
      deps.log.warn('job ended but its failed items could not be read; recording the last list seen', {
        batchId: batch.batchId,
        jobId: batch.jobId,
      });
    }
  }
  const resultsDone = tally && !status.progress ? finishedCount(tally) : undefined;
  const jobState = jobStateOf({ status, failed, resultsDone, items: batch.items, at: new Date(observedAtMs) }, previous);
  const heartbeatDue = observedAtMs - (batch.observedAtMs ?? 0) >= deps.settings.heartbeatMs;
  if (!outcome && !stateChanged(previous, jobState) && batch.staleSince === undefined && batch.notFoundCount === undefined && !heartbeatDue)
    return 'unchanged';
  const written = await deps.store.recordObservation({
    batchId: batch.batchId,
    jobId: batch.jobId!,
    observedAtMs,
    jobState,
    terminal: outcome ? { ...outcome, shredKey: deps.settings.shredKeysOnTerminal } : undefined,
  });
  if (!written) return 'superseded';
  if (outcome) {
    deps.log.info('job ended', {
      batchId: batch.batchId,
      jobId: batch.jobId,
      status: status.status,
      failedCount: jobState.failedCount,
      failedItemsSource: jobState.failedItemsSource,
      keyShredded: deps.settings.shredKeysOnTerminal,
    });
  }
  return outcome ? 'terminal' : 'updated';
}

async function notFound(batch: BatchRecord, observedAtMs: number, tick: Tick): Promise<JobOutcome> {
  const { deps } = tick;
  tick.consecutiveFailures = 0;
  const count = (batch.notFoundCount ?? 0) + 1;
  if (count < deps.settings.notFoundLimit) {
    const ok = await deps.store.recordUnreachable({ ...unreachableFields(batch, observedAtMs, deps), notFoundCount: count });
    return ok ? 'not_found' : 'superseded';
  }
  const jobState = {
    ...(batch.jobState ?? {}),
    status: 'lost',
    reason: 'job_unknown_to_asperathos',
    endedAt: new Date(observedAtMs).toISOString(),
  };
  const ok = await deps.store.recordObservation({
    batchId: batch.batchId,
    jobId: batch.jobId!,
    observedAtMs,
    jobState,
    notFoundCount: count,
    terminal: { state: 'failed', reason: 'job_unknown_to_asperathos', shredKey: deps.settings.shredKeysOnTerminal },
  });
  if (ok) deps.log.warn('Asperathos no longer knows the job; marked lost', { batchId: batch.batchId, jobId: batch.jobId, polls: count });
  return ok ? 'lost' : 'superseded';
}

function unreachableFields(batch: BatchRecord, observedAtMs: number, deps: SyncDeps) {
  const failures = (batch.pollFailures ?? 0) + 1;
  const backoffMs = Math.min(deps.settings.backoffMaxMs, deps.settings.backoffBaseMs * 2 ** Math.min(failures - 1, 20));
  return {
    batchId: batch.batchId,
    jobId: batch.jobId!,
    observedAtMs,
    staleSince: new Date(observedAtMs).toISOString(),
    pollFailures: failures,
    nextPollAtMs: observedAtMs + backoffMs,
  };
}

async function markUnreachable(batch: BatchRecord, observedAtMs: number, tick: Tick): Promise<JobOutcome> {
  return (await tick.deps.store.recordUnreachable(unreachableFields(batch, observedAtMs, tick.deps))) ? 'stale' : 'superseded';
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function mapBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (index < items.length) await work(items[index++]);
  });
  await Promise.all(lanes);
}
