/**
 * Schedule (rate 1 minute): polls Asperathos for every active job and records status, progress and errors
 * (lib/status/sync.ts). Stops a little before the Lambda deadline; unpolled jobs are picked up next tick.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { syncConfig } from '../lib/status/config.js';
import { buildSyncDeps } from '../lib/status/wiring.js';
import { syncActiveJobs, type SyncDeps, type SyncSummary } from '../lib/status/sync.js';

const SAFETY_MARGIN_MS = 5_000;
let deps: Promise<SyncDeps> | undefined;

function syncDeps(): Promise<SyncDeps> {
  deps ??= buildSyncDeps(syncConfig()).catch((error: unknown) => {
    deps = undefined;
    throw error;
  });
  return deps;
}

export const handler = middy<unknown, Omit<SyncSummary, 'byJob'>, Error, Context>().handler(async (_event, context, { signal }) => {
  const deadlineMs = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const { byJob: _byJob, ...summary } = await syncActiveJobs(await syncDeps(), { signal, deadlineMs });
  void _byJob;
  return summary;
});
