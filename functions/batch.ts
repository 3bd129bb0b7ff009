/**
 * Schedule (rate 1 minute): closes due batches and submits their jobs. Direct invoke with `{"batchId": "…"}`
 * closes and submits that batch now, even if it is not yet due.
 */
import { batchConfig } from '#lib/batch/config.js';
import { buildBatchDeps } from '#lib/batch/wiring.js';
import { closeDueBatches, type BatchRunSummary } from '#lib/batch/close.js';
import { recordBatchRun } from '#lib/middleware/function-metrics.js';
import { eventFunction } from '#lib/middleware/event-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';

const tools = functionTools('batch');
const batchDeps = buildOnce(() => buildBatchDeps(batchConfig(), { log: tools.log }));

type BatchEvent = { batchId?: unknown } | Record<string, unknown>;

export const handler = eventFunction<BatchEvent, BatchRunSummary>(tools, async (event, _context, { signal }) => {
  const batchId = typeof event?.batchId === 'string' ? event.batchId : undefined;
  if (event && 'batchId' in event && !batchId) throw new Error('batchId must be a string');
  const summary = await closeDueBatches(await batchDeps(), { batchId, signal });
  recordBatchRun(tools.metricSink, summary);
  return summary;
});
