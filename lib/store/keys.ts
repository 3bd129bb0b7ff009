/**
 * Every key of the single table, and the only place that spells them:
 *
 *   pk / sk                                   item                                  index keys
 *   VIDEO#<videoId> / VIDEO                   one video (never its original name)   byBatch:  BATCH#<batchId> / VIDEO#<videoId>
 *                                                                                   byTenant: TENANT#<tenant>#VIDEOS / <receivedAt>#<videoId>
 *   BATCH#<batchId> / BATCH                   one batch = one key = one job         active:   BATCH#ACTIVE (open, closing, submitting)
 *                                                                                             or JOB#ACTIVE (submitted) / <at>#<batchId>, sparse
 *                                                                                   byTenant: TENANT#<tenant>#BATCHES / <createdAt>#<batchId>
 *   TENANT#<tenant> / OPEN_BATCH              the tenant's open batch pointer
 *   TENANT#<tenant>#REFUSALS / <at>#<random>  one PACS refusal (lib/store/refusals.ts)
 *   (a video row also carries)                                                    bySource: SOURCE#<tenant>#<digest(key)> / <sequencer>#<at>
 *                                                                                   the source object's videos, latest last (lib/store/source-lookup.ts);
 *                                                                                   digest: HMAC under SOURCE_NAME_KEY, or SHA-256 without
 */
import type { BatchRecord, VideoRecord } from './records.js';

export const INDEX = { byBatch: 'byBatch', active: 'active', byTenant: 'byTenant', bySource: 'bySource' } as const;

/** The `active` index's two partitions: batches the closer works on, and jobs sync-status polls. */
export const ACTIVE_BATCHES = 'BATCH#ACTIVE';
export const ACTIVE_JOBS = 'JOB#ACTIVE';

/** The attributes that hold keys; every store strips them before a row leaves lib/store. */
export const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'gsi4pk', 'gsi4sk'] as const;

export const keys = {
  video: (videoId: string) => ({ pk: `VIDEO#${videoId}`, sk: 'VIDEO' }),
  batch: (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'BATCH' }),
  openBatch: (tenant: string) => ({ pk: `TENANT#${tenant}`, sk: 'OPEN_BATCH' }),
  refusal: (tenant: string, at: string, unique: string) => ({ pk: partitions.refusals(tenant), sk: `${at}#${unique}` }),
};

/** The partition key values that queries name. */
export const partitions = {
  batchVideos: (batchId: string) => `BATCH#${batchId}`,
  tenantBatches: (tenant: string) => `TENANT#${tenant}#BATCHES`,
  tenantVideos: (tenant: string) => `TENANT#${tenant}#VIDEOS`,
  refusals: (tenant: string) => `TENANT#${tenant}#REFUSALS`,
  sourceVideos: (tenant: string, digest: string) => `SOURCE#${tenant}#${digest}`,
};

/** Index keys of a video row: its tenant's list, and its batch's list once it has one. */
export function videoIndexKeys(video: Pick<VideoRecord, 'videoId' | 'tenant' | 'receivedAt' | 'batchId'>) {
  return {
    ...(video.batchId ? { gsi1pk: partitions.batchVideos(video.batchId), gsi1sk: `VIDEO#${video.videoId}` } : {}),
    gsi3pk: partitions.tenantVideos(video.tenant),
    gsi3sk: `${video.receivedAt}#${video.videoId}`,
  };
}

/** An open or in-progress batch, in the closer's part of the active index, oldest first. */
export const activeBatchKeys = (createdAt: string, batchId: string) => ({ gsi2pk: ACTIVE_BATCHES, gsi2sk: `${createdAt}#${batchId}` });

/** A submitted batch moves to the jobs' part of the active index, where sync-status polls it. */
export const activeJobKeys = (submittedAt: string, batchId: string) => ({ gsi2pk: ACTIVE_JOBS, gsi2sk: `${submittedAt}#${batchId}` });

/** Fields that take a batch out of the active index (as `undefined`, they are removed). */
export const LEAVE_ACTIVE = { gsi2pk: undefined, gsi2sk: undefined } as const;

/** A batch's place in its tenant's list, newest first by creation. */
export const tenantBatchKeys = (batch: Pick<BatchRecord, 'batchId' | 'tenant' | 'createdAt'>) => ({
  gsi3pk: partitions.tenantBatches(batch.tenant),
  gsi3sk: `${batch.createdAt}#${batch.batchId}`,
});

/** Index keys of a new batch: its tenant's list, and the closer's part of the active index. */
export function batchIndexKeys(batch: Pick<BatchRecord, 'batchId' | 'tenant' | 'createdAt'>) {
  return { ...activeBatchKeys(batch.createdAt, batch.batchId), ...tenantBatchKeys(batch) };
}

/** The full key of a row in the tenant's batch list, as DynamoDB resumes a query after it. */
export function tenantBatchPosition(tenant: string, createdAt: string, batchId: string) {
  return { ...keys.batch(batchId), ...tenantBatchKeys({ tenant, createdAt, batchId }) };
}

/** Where a query of the tenant's batch list stopped, from its LastEvaluatedKey; undefined when it is not such a key. */
export function tenantBatchPositionOf(lastKey: Record<string, unknown>): { createdAt: string; batchId: string } | undefined {
  const sortKey = lastKey.gsi3sk;
  if (typeof sortKey !== 'string') return undefined;
  const hash = sortKey.lastIndexOf('#');
  const position = { createdAt: sortKey.slice(0, hash), batchId: sortKey.slice(hash + 1) };
  return hash > 0 && lastKey.pk === keys.batch(position.batchId).pk ? position : undefined;
}
