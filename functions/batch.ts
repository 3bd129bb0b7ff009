/**
 * Schedule (rate 1 minute): closes due batches and submits their jobs. Direct invoke with `{"batchId": "…"}`
 * closes and submits that batch now, even if it is not yet due.
 */
import middy from '@middy/core';
import { buildOnce } from '../lib/once.js';
import type { Context } from 'aws-lambda';
import { batchConfig } from '../lib/config.js';
import { buildBatchDeps } from '../lib/batch/wiring.js';
import { closeDueBatches, type BatchRunSummary } from '../lib/batch/close.js';

const batchDeps = buildOnce(() => buildBatchDeps(batchConfig()));

type BatchEvent = { batchId?: unknown } | Record<string, unknown>;

export const handler = middy<BatchEvent, BatchRunSummary, Error, Context>().handler(async (event, _context, { signal }) => {
  const batchId = typeof event?.batchId === 'string' ? event.batchId : undefined;
  if (event && 'batchId' in event && !batchId) throw new Error('batchId must be a string');
  return closeDueBatches(await batchDeps(), { batchId, signal });
});
