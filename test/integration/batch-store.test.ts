import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { DynamoBatchStore, type RecordedSeal } from '#lib/store/batch-store.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { keys, videoIndexKeys } from '#lib/store/keys.js';
import { closeDueBatches, settleInflight, type BatchDeps } from '#lib/batch/close.js';
import { countedDocumentClient, newRequestCounts } from '#local/request-counter.js';
import { createLogger } from '#lib/log.js';
import type { BatchRecord, VideoRecord } from '#lib/store/records.js';

let dynamo: LocalDynamo;
let batches: DynamoBatchStore;
let intake: DynamoIntakeStore;
const LIMITS = { maxItems: 100, maxBytes: 1 << 30 };
const NOW = Date.parse('2026-12-03T10:00:00.000Z');

beforeAll(async () => {
  dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  batches = new DynamoBatchStore(dynamo.doc, 'radiomics');
  intake = new DynamoIntakeStore(dynamo.doc, 'radiomics');
});
afterAll(async () => dynamo.close());

/** The n-th video of a batch: distinct across batches, since the tests share one table. */
const idOf = (n: number, batchId = 'settle') => createHash('sha256').update(`${batchId}:${n}`).digest('hex').slice(0, 32);

async function openBatch(batchId: string): Promise<void> {
  const batch: BatchRecord = {
    batchId,
    tenant: 'demo',
    state: 'open',
    container: batchId,
    wrappedKey: 'jwe',
    createdAt: new Date(NOW).toISOString(),
    claims: 0,
    claimedBytes: 0,
    sealedItems: 0,
    sealedBytes: 0,
    inflight: {},
  };
  await intake.createBatch(batch);
}

/** Registers `count` videos; returns their registrations. */
async function register(batchId: string, count: number): Promise<RecordedSeal[]> {
  const seals: RecordedSeal[] = [];
  for (let n = 1; n <= count; n++) {
    const joined = await intake.joinBatch(batchId, idOf(n, batchId), 100, LIMITS, NOW);
    if (joined.outcome !== 'registered') throw new Error(joined.outcome);
    seals.push({ videoId: idOf(n, batchId), startedAtMs: joined.startedAtMs, bytes: 128 });
  }
  return seals;
}

async function recordSealed(batchId: string, seal: RecordedSeal): Promise<void> {
  const video: VideoRecord & { sealStartedAtMs: number } = {
    videoId: seal.videoId,
    tenant: 'demo',
    stage: 'sealed',
    batchId,
    container: batchId,
    objectName: `${seal.videoId}.mp4`,
    bytes: 100,
    sealedBytes: seal.bytes,
    receivedAt: new Date(NOW).toISOString(),
    updatedAt: new Date(NOW).toISOString(),
    sealStartedAtMs: seal.startedAtMs,
  };
  await dynamo.doc.send(
    new PutCommand({ TableName: 'radiomics', Item: { ...keys.video(seal.videoId), ...video, ...videoIndexKeys(video) } }),
  );
}

describe('the closer counts recorded seals', () => {
  it('60 registrations in 3 writes of at most 25, each counted once', async () => {
    await openBatch('count-many');
    const seals = await register('count-many', 60);
    const counts = newRequestCounts();
    const counted = new DynamoBatchStore(countedDocumentClient(dynamo.doc, counts), 'radiomics');
    expect(await counted.countSeals('count-many', seals)).toBe(60);
    expect(counts.tableCalls).toEqual({ UpdateCommand: 3 });
    expect(await intake.getBatch('count-many')).toEqual(
      expect.objectContaining({ claims: 60, sealedItems: 60, sealedBytes: 60 * 128, inflight: {} }),
    );
    expect(await batches.countSeals('count-many', seals)).toBe(0);
    expect(await intake.getBatch('count-many')).toEqual(expect.objectContaining({ sealedItems: 60, sealedBytes: 60 * 128 }));
  });

  it('a write whose condition fails counts its seals one by one: only those still in flight as seen', async () => {
    await openBatch('count-some');
    const seals = await register('count-some', 4);
    expect(await intake.releaseSeal('count-some', seals[1].videoId, 100, seals[1].startedAtMs)).toBe(true);
    const moved = { ...seals[2], startedAtMs: seals[2].startedAtMs + 1 };
    expect(await batches.countSeals('count-some', [seals[0], seals[1], moved, seals[3]])).toBe(2);
    const batch = (await intake.getBatch('count-some'))!;
    expect(batch).toEqual(expect.objectContaining({ claims: 3, sealedItems: 2, sealedBytes: 256 }));
    expect(batch.inflight).toEqual({ [seals[2].videoId]: seals[2].startedAtMs });
  });

  it('settling counts recorded seals from the index, leaves unrecorded ones in flight, and drops abandoned ones', async () => {
    await openBatch('settle');
    const seals = await register('settle', 30);
    for (const seal of seals.slice(0, 27)) await recordSealed('settle', seal);
    const deps = { batches, intake, log: createLogger({}, { sink: () => undefined }), settings: { staleSealSecs: 60 } };
    const batch = (await intake.getBatch('settle'))!;
    expect(await settleInflight(batch, deps, new Date(NOW + 1000))).toBe(3);
    const settled = (await intake.getBatch('settle'))!;
    expect(settled).toEqual(expect.objectContaining({ claims: 30, sealedItems: 27, sealedBytes: 27 * 128 }));
    expect(Object.keys(settled.inflight).sort()).toEqual([idOf(28), idOf(29), idOf(30)]);
    expect(await settleInflight(settled, deps, new Date(NOW + 61_000))).toBe(0);
    expect(await intake.getBatch('settle')).toEqual(expect.objectContaining({ claims: 30, sealedItems: 27, inflight: {} }));
    for (const n of [28, 29, 30]) expect((await intake.getVideo(idOf(n)))?.stage).toBe('abandoned');
  });
});

describe('a stale registration given up', () => {
  it('leaves a tombstone naming it, unless the video was recorded first; a later tombstone replaces an older one', async () => {
    await openBatch('give-up');
    const [first, second] = await register('give-up', 2);
    const at = new Date(NOW).toISOString();
    expect(await batches.abandonSeal({ batchId: 'give-up', tenant: 'demo' }, first.videoId, first.startedAtMs, at)).toBe(true);
    expect(await intake.getVideo(first.videoId)).toEqual({
      videoId: first.videoId,
      tenant: 'demo',
      stage: 'abandoned',
      batchId: 'give-up',
      sealStartedAtMs: first.startedAtMs,
      receivedAt: at,
      updatedAt: at,
    });
    expect(await batches.abandonSeal({ batchId: 'give-up', tenant: 'demo' }, first.videoId, first.startedAtMs + 5, at)).toBe(true);
    expect((await intake.getVideo(first.videoId))?.sealStartedAtMs).toBe(first.startedAtMs + 5);
    await recordSealed('give-up', second);
    expect(await batches.abandonSeal({ batchId: 'give-up', tenant: 'demo' }, second.videoId, second.startedAtMs, at)).toBe(false);
    expect((await intake.getVideo(second.videoId))?.stage).toBe('sealed');
  });

  it('refuses the record of the registration it names, and no other', async () => {
    await openBatch('fenced');
    const [seal] = await register('fenced', 1);
    await batches.abandonSeal({ batchId: 'fenced', tenant: 'demo' }, seal.videoId, seal.startedAtMs, new Date(NOW).toISOString());
    const row = (startedAtMs: number) => ({
      videoId: seal.videoId,
      tenant: 'demo',
      stage: 'sealed' as const,
      batchId: 'fenced',
      objectName: `${seal.videoId}.mp4`,
      sealedBytes: 128,
      receivedAt: new Date(NOW).toISOString(),
      updatedAt: new Date(NOW).toISOString(),
      sealStartedAtMs: startedAtMs,
    });
    expect(await intake.recordSealed(row(seal.startedAtMs))).toBe(false);
    expect(await intake.recordSealed(row(seal.startedAtMs + 1))).toBe(true);
    expect(await intake.getVideo(seal.videoId)).toEqual(
      expect.objectContaining({ stage: 'sealed', sealStartedAtMs: seal.startedAtMs + 1 }),
    );
  });
});

describe('the workload', () => {
  it('waits while the index lists fewer sealed videos than the batch counted (a row reaches the index a moment late)', async () => {
    await openBatch('index-lag');
    const seals = await register('index-lag', 2);
    await recordSealed('index-lag', seals[0]);
    expect(await batches.countSeals('index-lag', seals)).toBe(2);
    expect(await batches.transition('index-lag', 'open', 'closing', { closingAt: new Date(NOW).toISOString() })).toBe(true);
    const untouched = new Proxy({} as BatchDeps['swift'], {
      get: (_, method) => () => Promise.reject(new Error(`no Swift request expected (${String(method)})`)),
    });
    const deps = {
      batches,
      intake,
      swift: untouched,
      log: createLogger({}, { sink: () => undefined }),
      settings: { staleSealSecs: 60, quietSecs: 0, maxItems: 100, maxBytes: 1 << 30, maxAgeSecs: 600 },
    } as unknown as BatchDeps;
    expect((await closeDueBatches(deps, { batchId: 'index-lag' })).steps).toEqual({ 'index-lag': 'waiting_for_seals' });
    expect(await intake.getBatch('index-lag')).toEqual(expect.objectContaining({ state: 'closing', sealedItems: 2, inflight: {} }));
  });
});
