import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
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
    expect(stored).toMatchObject({ claims: 2, claimedBytes: 200, sealedItems: 1, sealedBytes: 128, lastActivityMs: 7 });
    expect(Object.keys(stored!.inflight)).toEqual(['v2']);
    // the registration's start time, with a sub-millisecond part that tells two registrations apart
    expect(Math.floor(stored!.inflight.v2)).toBe(3);
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

  it('joins a batch once per video, answering the registration it found to a second delivery', async () => {
    await store.createBatch(batch('b5'));
    const limits = { maxItems: 2, maxBytes: 1000 };
    const first = await store.joinBatch('b5', 'v1', 100, limits, 1_000);
    expect(first).toMatchObject({ outcome: 'registered', nowFull: false });
    const second = await store.joinBatch('b5', 'v1', 100, limits, 2_000);
    expect(second).toEqual({ outcome: 'already_registered', startedAtMs: (first as { startedAtMs: number }).startedAtMs });
    expect(await store.joinBatch('b5', 'v2', 100, limits, 3_000)).toMatchObject({ outcome: 'registered', nowFull: true });
    expect(Math.floor((first as { startedAtMs: number }).startedAtMs)).toBe(1_000);
  });

  it('finishes or releases a registration only by its own value, each exactly once', async () => {
    await store.createBatch(batch('b6'));
    const limits = { maxItems: 10, maxBytes: 1000 };
    const kept = await store.joinBatch('b6', 'v1', 100, limits, 1);
    const extra = await store.joinBatch('b6', 'v2', 50, limits, 1);
    if (kept.outcome !== 'registered' || extra.outcome !== 'registered') throw new Error('not registered');
    expect(await store.finishSeal('b6', 'v1', { bytes: 128 }, kept.startedAtMs + 1)).toBe(false);
    expect(await store.releaseSeal('b6', 'v1', 100, extra.startedAtMs)).toBe(false);
    expect(await store.finishSeal('b6', 'v1', { bytes: 128 }, kept.startedAtMs)).toBe(true);
    expect(await store.releaseSeal('b6', 'v2', 50, extra.startedAtMs)).toBe(true);
    expect(await store.releaseSeal('b6', 'v2', 50, extra.startedAtMs)).toBe(false);
    expect(await store.getBatch('b6')).toMatchObject({ claims: 1, claimedBytes: 100, sealedItems: 1, sealedBytes: 128, inflight: {} });
  });

  it('records a sealed video once; a later delivery cannot move it to another batch', async () => {
    const sealed = (batchId: string) => ({
      ...video('vid1', batchId),
      stage: 'sealed' as const,
      batchId,
      container: batchId,
      objectName: 'vid1.mp4',
      sealedBytes: 128,
      sealStartedAtMs: 5.5,
    });
    expect(await store.recordSealed(sealed('bA'))).toBe(true);
    expect(await store.recordSealed(sealed('bB'))).toBe(false);
    expect(await store.getVideo('vid1')).toMatchObject({
      stage: 'sealed',
      batchId: 'bA',
      objectName: 'vid1.mp4',
      sealedBytes: 128,
      sealStartedAtMs: 5.5,
    });
  });

  it("an older intake's sealing row is taken over by the seal", async () => {
    await dynamo.doc.send(new PutCommand({ TableName: 'radiomics', Item: { pk: 'VIDEO#vid4', sk: 'VIDEO', ...video('vid4', 'bOld') } }));
    expect(
      await store.recordSealed({ ...video('vid4', 'bNew'), stage: 'sealed', batchId: 'bNew', sealedBytes: 1, sealStartedAtMs: 1 }),
    ).toBe(true);
    expect((await store.getVideo('vid4'))?.batchId).toBe('bNew');
  });

  it('a rejection never overwrites a sealed video', async () => {
    await store.recordSealed({ ...video('vid2', 'bA'), stage: 'sealed', batchId: 'bA', sealedBytes: 1, sealStartedAtMs: 1 });
    expect(await store.rejectVideo({ ...video('vid2', 'bA'), stage: 'rejected', reason: 'not_a_video' })).toBe(false);
    expect((await store.getVideo('vid2'))?.stage).toBe('sealed');
    expect(
      await store.rejectVideo({
        videoId: 'vid3',
        tenant: '-',
        stage: 'rejected',
        reason: 'missing_tenant',
        receivedAt: 'x',
        updatedAt: 'x',
      }),
    ).toBe(true);
    expect(await store.getVideo('vid3')).toEqual({
      videoId: 'vid3',
      tenant: '-',
      stage: 'rejected',
      reason: 'missing_tenant',
      receivedAt: 'x',
      updatedAt: 'x',
    });
  });
});
