import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import type { BatchRecord, VideoRecord } from '#lib/store/records.js';

let dynamo: LocalDynamo;
let store: DynamoIntakeStore;

beforeAll(async () => {
  dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  store = new DynamoIntakeStore(dynamo.doc, 'radiomics');
});
afterAll(async () => dynamo.close());

const batch = (batchId: string, tenant = 'demo'): BatchRecord => ({
  batchId,
  tenant,
  state: 'open',
  container: batchId,
  wrappedKey: 'jwe',
  createdAt: '2026-11-25T10:00:00.000Z',
  claims: 0,
  claimedBytes: 0,
  sealedItems: 0,
  sealedBytes: 0,
  inflight: {},
});

const video = (videoId: string, batchId: string): VideoRecord => ({
  videoId,
  tenant: 'demo',
  stage: 'sealing',
  batchId,
  bytes: 100,
  receivedAt: '2026-11-25T10:00:00.000Z',
  updatedAt: '2026-11-25T10:00:00.000Z',
});

describe('DynamoIntakeStore on dynalite', () => {
  it('the first pointer wins and later callers get the winner', async () => {
    expect(await store.pointOpenBatch('t1', 'b-first')).toBe('b-first');
    expect(await store.pointOpenBatch('t1', 'b-second')).toBe('b-first');
    await store.clearOpenBatch('t1', 'b-other');
    expect(await store.getOpenBatchId('t1')).toBe('b-first');
    await store.clearOpenBatch('t1', 'b-first');
    expect(await store.getOpenBatchId('t1')).toBeUndefined();
  });

  it('creating an existing batch keeps the stored one', async () => {
    await store.createBatch({ ...batch('b1'), wrappedKey: 'original' });
    const again = await store.createBatch({ ...batch('b1'), wrappedKey: 'replacement' });
    expect(again.wrappedKey).toBe('original');
  });

  it('registers a seal once, enforces the item cap, and counts it once when finished', async () => {
    await store.createBatch(batch('b2'));
    const limits = { maxItems: 2, maxBytes: 1000 };
    expect(await store.registerSeal('b2', 'v1', 100, limits, 1)).toBe('registered');
    expect(await store.registerSeal('b2', 'v1', 100, limits, 2)).toBe('already_registered');
    expect(await store.registerSeal('b2', 'v2', 100, limits, 3)).toBe('registered');
    expect(await store.registerSeal('b2', 'v3', 100, limits, 4)).toBe('full');
    expect((await store.getBatch('b2'))?.lastActivityMs).toBe(3);
    expect(await store.finishSeal('b2', 'v1', { bytes: 128, atMs: 7 })).toBe(true);
    expect(await store.finishSeal('b2', 'v1', { bytes: 128, atMs: 8 })).toBe(false);
    const stored = await store.getBatch('b2');
    expect(stored).toMatchObject({ claims: 2, claimedBytes: 200, sealedItems: 1, sealedBytes: 128, inflight: { v2: 3 }, lastActivityMs: 7 });
  });

  it('enforces the byte cap, but always admits a first video', async () => {
    await store.createBatch(batch('b3'));
    const limits = { maxItems: 10, maxBytes: 1000 };
    expect(await store.registerSeal('b3', 'big', 5000, limits, 1)).toBe('registered');
    expect(await store.registerSeal('b3', 'small', 1, limits, 1)).toBe('full');
  });

  it('a closing batch admits no new seal', async () => {
    await store.createBatch({ ...batch('b4'), state: 'closing' });
    expect(await store.registerSeal('b4', 'v1', 1, { maxItems: 10, maxBytes: 1000 }, 1)).toBe('not_open');
  });

  it('claims a video once, moves it only from the batch it is sealing in, and seals it once', async () => {
    expect(await store.claimVideo(video('vid1', 'bA'))).toBe(true);
    expect(await store.claimVideo(video('vid1', 'bB'))).toBe(false);
    expect(await store.claimVideo(video('vid1', 'bB'), 'bX')).toBe(false);
    expect(await store.claimVideo(video('vid1', 'bB'), 'bA')).toBe(true);
    const sealed = { container: 'bB', objectName: 'vid1.mp4', sealedBytes: 128, at: '2026-11-25T10:01:00.000Z' };
    expect(await store.markSealed('vid1', 'bA', sealed)).toBe(false);
    expect(await store.markSealed('vid1', 'bB', sealed)).toBe(true);
    expect(await store.markSealed('vid1', 'bB', sealed)).toBe(false);
    expect(await store.getVideo('vid1')).toMatchObject({ stage: 'sealed', batchId: 'bB', objectName: 'vid1.mp4', sealedBytes: 128 });
  });

  it('a rejection never overwrites a sealed video', async () => {
    await store.claimVideo(video('vid2', 'bA'));
    await store.markSealed('vid2', 'bA', { container: 'bA', objectName: 'vid2.mp4', sealedBytes: 1, at: 'x' });
    await store.rejectVideo({ ...video('vid2', 'bA'), stage: 'rejected', reason: 'not_a_video' });
    expect((await store.getVideo('vid2'))?.stage).toBe('sealed');
    await store.rejectVideo({ videoId: 'vid3', tenant: '-', stage: 'rejected', reason: 'missing_tenant', receivedAt: 'x', updatedAt: 'x' });
    expect(await store.getVideo('vid3')).toEqual({ videoId: 'vid3', tenant: '-', stage: 'rejected', reason: 'missing_tenant', receivedAt: 'x', updatedAt: 'x' });
  });
});
