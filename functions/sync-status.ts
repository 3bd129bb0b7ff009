/**
 * Schedule (rate 1 minute): polls Asperathos for every active job and records status, progress and errors
 * (lib/status/sync.ts). Stops a little before the Lambda deadline; unpolled jobs are picked up next tick.
 */
import { recordSync } from '#lib/middleware/function-metrics.js';
import { eventFunction } from '#lib/middleware/event-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';
import { syncConfig } from '#lib/status/config.js';
import { syncActiveJobs, type SyncSummary } from '#lib/status/sync.js';
import { buildSyncDeps } from '#lib/status/sync-wiring.js';

const SAFETY_MARGIN_MS = 5_000;
const tools = functionTools('sync-status');
const syncDeps = buildOnce(() => buildSyncDeps(syncConfig(), { log: tools.log }));

export const handler = eventFunction<unknown, Omit<SyncSummary, 'byJob'>>(tools, async (_event, context, { signal }) => {
  const deadlineMs = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const { byJob: _byJob, ...summary } = await syncActiveJobs(await syncDeps(), { signal, deadlineMs });
  void _byJob;
  recordSync(tools.metricSink, summary);
  return summary;
});
