import { describe, it, expect } from '@jest/globals';
import {
  ACTIVE_BATCHES,
  batchIndexKeys,
  keys,
  partitions,
  tenantBatchKeys,
  tenantBatchPositionOf,
  videoIndexKeys,
} from '#lib/store/keys.js';
import { sourceDigest, sourceIndexKeys } from '#lib/store/source-lookup.js';

const BATCH = '0123456789abcdef0123456789abcdef';
const VIDEO = 'fedcba9876543210fedcba9876543210';
const AT = '2026-01-01T00:00:03.000Z';

describe('table keys', () => {
  it('keep each kind of row in its own partition', () => {
    const pks = [keys.video(VIDEO).pk, keys.batch(VIDEO).pk, keys.openBatch('hospital-a').pk, keys.refusal('hospital-a', AT, 'x').pk];
    expect(new Set(pks).size).toBe(pks.length);
  });

  it("index a video under its source object's digest, ordered by the padded S3 sequencer, then time", () => {
    const digest = sourceDigest('hospital-a/scan.mp4');
    expect(digest).toBe('9d8d334d47b89796c5ac4c0b377d2952ce6b261c1bdd80e97fcdb96b447b764b');
    expect(sourceIndexKeys({ tenant: 'hospital-a', sourceKey: 'hospital-a/scan.mp4', sequencer: '55b1d6', at: AT })).toEqual({
      gsi4pk: `SOURCE#hospital-a#${digest}`,
      gsi4sk: `${'0'.repeat(58)}55B1D6#${AT}`,
    });
    expect(sourceIndexKeys({ tenant: 'hospital-a', sourceKey: 'hospital-a/scan.mp4', sequencer: 'not hex', at: AT }).gsi4sk).toBe(
      `${'0'.repeat(64)}#${AT}`,
    );
    expect(partitions.sourceVideos('hospital-a', digest)).not.toContain('scan');
  });

  it('give a video its batch list entry only once it has a batch', () => {
    expect(Object.keys(videoIndexKeys({ videoId: VIDEO, tenant: 'hospital-a', receivedAt: AT })).sort()).toEqual(['gsi3pk', 'gsi3sk']);
    expect(Object.keys(videoIndexKeys({ videoId: VIDEO, tenant: 'hospital-a', receivedAt: AT, batchId: BATCH })).sort()).toEqual([
      'gsi1pk',
      'gsi1sk',
      'gsi3pk',
      'gsi3sk',
    ]);
  });

  it('put a new batch among the active batches and in its tenant list', () => {
    const batch = { batchId: BATCH, tenant: 'hospital-a', createdAt: AT };
    expect(batchIndexKeys(batch)).toEqual({ gsi2pk: ACTIVE_BATCHES, gsi2sk: `${AT}#${BATCH}`, ...tenantBatchKeys(batch) });
  });

  it('read back where a tenant list query stopped, and nothing else', () => {
    const stop = { ...keys.batch(BATCH), ...tenantBatchKeys({ batchId: BATCH, tenant: 'hospital-a', createdAt: AT }) };
    expect(tenantBatchPositionOf(stop)).toEqual({ createdAt: AT, batchId: BATCH });
    expect(tenantBatchPositionOf({ ...stop, pk: keys.video(BATCH).pk })).toBeUndefined();
    expect(tenantBatchPositionOf({ ...stop, gsi3sk: BATCH })).toBeUndefined();
    expect(tenantBatchPositionOf(keys.batch(BATCH))).toBeUndefined();
  });
});
