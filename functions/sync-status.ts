/**
 * Schedule (rate 1 minute): polls Asperathos for every active job and records status, progress and errors
 * (lib/status/sync.ts). Stops a little before the Lambda deadline; unpolled jobs are picked up next tick.
 */
import middy from '@middy/core';
import { buildOnce } from '../lib/once.js';
import type { Context } from 'aws-lambda';
import { syncConfig } from '../lib/status/config.js';
import { buildSyncDeps } from '../lib/status/wiring.js';
import { syncActiveJobs, type SyncSummary } from '../lib/status/sync.js';

const SAFETY_MARGIN_MS = 5_000;
const syncDeps = buildOnce(() => buildSyncDeps(syncConfig()));

export const handler = middy<unknown, Omit<SyncSummary, 'byJob'>, Error, Context>().handler(async (_event, context, { signal }) => {
  const deadlineMs = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const { byJob: _byJob, ...summary } = await syncActiveJobs(await syncDeps(), { signal, deadlineMs });
  void _byJob;
  return summary;
});
