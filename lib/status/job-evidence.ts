/**
 * What sync-status reads besides the status JSON, and how it settles a finished job's failed items when the real
 * manager's `/errors` cannot be trusted (protocols.md §5):
 * - `{}` means "no failed items" only while the job's Redis lives; `job_resources_lifetime` seconds after the end
 *   the Redis is deleted and `{}` comes back even for a job that had failures;
 * - `500` before the Redis existed and, after a manager restart, for every earlier job.
 * So a finished job's list is the manager's when it names failures, and otherwise comes from the results
 * container: an item with `<id>.error.json`, or with no `<id>.json`, failed.
 */
import { errorFields, type Logger } from '#lib/log.js';
import type { JobManager } from '#lib/asperathos/index.js';
import type { BatchRecord } from '#lib/store/records.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { failedFromManager, type FailedItems } from './job-state.js';
import { failedFromResults, hasResult, tallyResults, type ResultsTally } from './results.js';
import type { JobStatusStore } from '#lib/store/status-store.js';

export interface EvidenceDeps {
  store: JobStatusStore;
  jobs: JobManager;
  swift?: SwiftStore;
  log: Logger;
}

/** Listing names checked one by one (HEAD) before an item with no `<id>.json` in the listing counts as failed. */
const MAX_CONFIRMATIONS = 50;

/** The manager's failed-item lines, or undefined when `/errors` answered 500 or could not be reached. */
export async function readManagerErrors(deps: EvidenceDeps, batch: BatchRecord, signal?: AbortSignal): Promise<string[] | undefined> {
  try {
    return await deps.jobs.errors(batch.jobId!, { signal });
  } catch (error) {
    deps.log.debug('job errors not readable this tick', { batchId: batch.batchId, jobId: batch.jobId, ...errorFields(error) });
    return undefined;
  }
}

/** One listing of the results container; undefined without Swift, without items, or when it fails. */
export async function readResultsTally(deps: EvidenceDeps, batch: BatchRecord, signal?: AbortSignal): Promise<ResultsTally | undefined> {
  if (!deps.swift || !batch.items) return undefined;
  try {
    return await tallyResults(deps.swift, batch.batchId, 3 * batch.items + 1, signal);
  } catch (error) {
    deps.log.warn('results container not readable this tick', { batchId: batch.batchId, ...errorFields(error) });
    return undefined;
  }
}

/**
 * A finished job's failed items, or undefined when neither the manager nor the results container can tell
 * (the caller retries a bounded number of ticks, then settles for the last list seen).
 */
export async function settleFailedItems(
  deps: EvidenceDeps,
  batch: BatchRecord,
  managerErrors: string[] | undefined,
  tally: ResultsTally | undefined,
  signal?: AbortSignal,
): Promise<FailedItems | undefined> {
  if (managerErrors && managerErrors.length > 0) return failedFromManager(managerErrors);
  const derived = tally ? await failedFromResultsContainer(deps, batch, tally, signal) : undefined;
  if (derived && derived.length > 0) return { ids: derived, count: derived.length, source: 'results' };
  if (derived || managerErrors) return { ids: [], count: 0, source: managerErrors ? 'manager' : 'results' };
  return undefined;
}

async function failedFromResultsContainer(
  deps: EvidenceDeps,
  batch: BatchRecord,
  tally: ResultsTally,
  signal?: AbortSignal,
): Promise<string[] | undefined> {
  let itemIds: string[];
  try {
    itemIds = await deps.store.batchItemIds(batch.batchId);
  } catch (error) {
    deps.log.warn('batch items not readable this tick', { batchId: batch.batchId, ...errorFields(error) });
    return undefined;
  }
  const failed = failedFromResults(itemIds, tally);
  const unconfirmed = failed.filter((id) => !tally.failed.has(id)).slice(0, MAX_CONFIRMATIONS);
  const late = new Set<string>();
  try {
    // A listing may lag a write: an item whose `<id>.json` exists after all did not fail.
    for (const id of unconfirmed) if (await hasResult(deps.swift!, batch.batchId, id, signal)) late.add(id);
  } catch (error) {
    deps.log.warn('results not confirmable this tick', { batchId: batch.batchId, ...errorFields(error) });
    return undefined;
  }
  return failed.filter((id) => !late.has(id));
}
