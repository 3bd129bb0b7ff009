/**
 * Pure mapping from what Asperathos says about a job to what the table stores (JobState), and back to the
 * words the API speaks. No I/O.
 *
 * Asperathos statuses: lib/asperathos/client.ts. `lost` is ours: the manager no longer knows the job id at all
 * (GET answers 400 with an empty message) several polls in a row.
 */
import { ASPERATHOS_STATUSES, type JobStatus, type JobStatusName, type TerminalStatusName } from '#lib/asperathos/client.js';
import { itemIdOfUrl as itemIdOfWorkloadUrl } from '#lib/contract.js';
import type { JobState } from '#lib/store/records.js';

export type TrackedStatus = JobStatusName | 'lost' | 'unknown';

/** Terminal status → the batch's final state and the reason recorded with it. */
const TERMINAL: Record<TerminalStatusName | 'lost', { state: 'completed' | 'failed'; reason?: string }> = {
  completed: { state: 'completed' },
  failed: { state: 'failed', reason: 'job_failed' },
  error: { state: 'failed', reason: 'job_setup_error' },
  stopped: { state: 'failed', reason: 'job_stopped' },
  terminated: { state: 'failed', reason: 'job_terminated' },
  'not found': { state: 'failed', reason: 'job_not_found_in_cluster' },
  lost: { state: 'failed', reason: 'job_unknown_to_asperathos' },
};

export function terminalOutcome(status: string): { state: 'completed' | 'failed'; reason?: string } | undefined {
  return Object.hasOwn(TERMINAL, status) ? TERMINAL[status as keyof typeof TERMINAL] : undefined;
}

export function trackedStatus(status: string): TrackedStatus {
  return (ASPERATHOS_STATUSES as readonly string[]).includes(status) || status === 'lost' ? (status as TrackedStatus) : 'unknown';
}

const MAX_FAILED_ITEMS = 1000;
const MAX_REPORT_KEYS = 20;

/** The video id of a failed workload line (lib/contract.ts); undefined for a line that names no video. */
export function itemIdOfUrl(line: string): string | undefined {
  try {
    const id = itemIdOfWorkloadUrl(line);
    return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Report values worth keeping: scalars and short arrays of scalars (never nested objects, never redis addresses). */
function reportOf(report: Record<string, unknown>): Record<string, unknown> | undefined {
  const kept = Object.entries(report)
    .filter(([key]) => !/redis|password|token|secret|key/i.test(key))
    .filter(
      ([, value]) =>
        ['number', 'string', 'boolean'].includes(typeof value) ||
        (Array.isArray(value) && value.length <= 64 && value.every((v) => v === null || typeof v !== 'object')),
    )
    .slice(0, MAX_REPORT_KEYS);
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

export type FailedItemsSource = NonNullable<JobState['failedItemsSource']>;

/** Failed items as item ids, with how many there were (a list may repeat an item or hold foreign lines). */
export interface FailedItems {
  ids: string[];
  count: number;
  source: FailedItemsSource;
}

/** The manager's `/errors` lines (workload URLs) as failed items. */
export function failedFromManager(urls: readonly string[]): FailedItems {
  const ids = [...new Set(urls.map(itemIdOfUrl).filter((id): id is string => id !== undefined))].sort();
  return { ids, count: urls.length, source: 'manager' };
}

export interface Observation {
  status: JobStatus;
  /** Failed items, when they were read this time. */
  failed?: FailedItems;
  /** Items with a result (`<id>.json` or `<id>.error.json`), when the status carries no queue counts. */
  resultsDone?: number;
  items?: number;
  at: Date;
}

/** Builds the stored state from one observation, keeping the previous failed items when none were read. */
export function jobStateOf(observation: Observation, previous: JobState | undefined, status = observation.status.status): JobState {
  const s = observation.status;
  const state: JobState = { status };
  if (s.startingTime) state.startingTime = s.startingTime.toISOString();
  if (s.visualizerUrl) state.visualizerUrl = s.visualizerUrl;
  const report = reportOf(s.report);
  if (report) state.report = report;
  if (s.progress) state.progress = { done: s.progress.processed, total: s.progress.items, source: 'queue' };
  else if (observation.resultsDone !== undefined && observation.items)
    state.progress = { done: Math.min(observation.resultsDone, observation.items), total: observation.items, source: 'results' };
  else if (previous?.progress) state.progress = previous.progress;
  const failed = observation.failed;
  if (failed) {
    state.failedCount = failed.count;
    if (failed.ids.length > 0) state.failedItems = failed.ids.slice(0, MAX_FAILED_ITEMS);
    state.failedItemsSource = failed.source;
  } else if (previous?.failedCount !== undefined) {
    state.failedCount = previous.failedCount;
    if (previous.failedItems) state.failedItems = previous.failedItems;
    if (previous.failedItemsSource) state.failedItemsSource = previous.failedItemsSource;
  }
  const outcome = terminalOutcome(status);
  if (outcome) {
    state.endedAt = observation.at.toISOString();
    if (outcome.reason) state.reason = outcome.reason;
  }
  return state;
}

/** True when `next` says something `previous` did not (used to skip no-op writes). */
export function stateChanged(previous: JobState | undefined, next: JobState): boolean {
  if (!previous) return true;
  const { endedAt: _a, ...p } = previous;
  const { endedAt: _b, ...n } = next;
  return stableJson(p) !== stableJson(n);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
