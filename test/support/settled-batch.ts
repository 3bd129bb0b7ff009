/**
 * A batch as the closer leaves it after settling its registrations: the intake records a seal and leaves its
 * registration in flight, so a test that asserts a batch's counts settles it first, as the closer would.
 */
import { settleInflight } from '#lib/batch/close.js';
import { createLogger } from '#lib/log.js';
import { DynamoBatchStore } from '#lib/store/batch-store.js';
import type { BatchRecord } from '#lib/store/records.js';
import type { IntakeHarness } from '#local/intake-harness.js';

export async function settledBatch(h: Pick<IntakeHarness, 'dynamo' | 'store'>, batchId: string): Promise<BatchRecord> {
  const batch = await h.store.getBatch(batchId);
  if (!batch) throw new Error(`no batch ${batchId}`);
  const deps = {
    batches: new DynamoBatchStore(h.dynamo.doc, 'radiomics'),
    intake: h.store,
    log: createLogger({}, { sink: () => undefined }),
    settings: { staleSealSecs: 1200 },
  };
  await settleInflight(batch, deps, new Date());
  const settled = await h.store.getBatch(batchId);
  if (!settled) throw new Error(`batch ${batchId} vanished`);
  return settled;
}
