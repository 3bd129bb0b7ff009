/**
 * The intake's per-video flow against real local services (s3rver, dynalite, Swift All-In-One): what one clip costs
 * in requests, the two ways of putting it in Swift reading back alike, and the invariants of lib/store/intake-store.ts
 * under crashes between any two steps, duplicates, closed batches and concurrency.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { RetryableError } from '#lib/errors.js';
import { ingestObject, type IntakeDeps } from '#lib/intake/ingest.js';
import { MediaCheck } from '#lib/intake/media-check.js';
import { closeDueBatches, type BatchDeps } from '#lib/batch/close.js';
import { DynamoBatchStore } from '#lib/store/batch-store.js';
import { DynamoIntakeStore, type IntakeStore } from '#lib/store/intake-store.js';
import { createLogger } from '#lib/log.js';
import type { KeyWrapper } from '#lib/keys.js';
import { putSealed, readWhole, segmentsContainerOf, uploadSealed, SEALED_CONTENT_TYPE } from '#lib/seal/sealed-upload.js';
import { generateBatchKey } from '#lib/seal/cipher.js';
import { startIntakeHarness, decryptLikeTheOriginal, BUCKET, type IntakeHarness } from '#local/intake-harness.js';
import { countedDocumentClient, newRequestCounts, requestsBetween, snapshotCounts } from '#local/request-counter.js';
import { removeContainers } from '#local/swift-cleanup.js';
import type { JobManager } from '#lib/asperathos/index.js';
import { settledBatch } from '#test/support/settled-batch.js';

const VIDEOS = new URL('../../../shared/samples/videos/', import.meta.url);
const CLIPS = readdirSync(VIDEOS)
  .filter((name) => name.toUpperCase().endsWith('.MP4'))
  .sort();
const clip = (name: string) => readFileSync(new URL(name, VIDEOS));
const SMALL = clip('VH020213M4_001418_20160407T115216.MP4');

let h: IntakeHarness;
beforeAll(async () => {
  h = await startIntakeHarness();
});
afterAll(async () => h.close());

async function deliver(key: string, body: Buffer, deps: IntakeDeps = h.deps) {
  const eTag = await h.put(key, body);
  const summary = await ingestS3Event(h.event(key, body.length, eTag), deps);
  return { summary, event: h.event(key, body.length, eTag), videoId: h.deps.videoId({ bucket: BUCKET, key, eTag }) };
}

async function objectsIn(container: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of h.swift.listAllObjects(container)) names.push(entry.name);
  return names;
}

/** Closes the batch as the closer's first step does: open → closing, then the tenant's pointer cleared. */
async function closeBatch(batchId: string, tenant: string) {
  expect(
    await new DynamoBatchStore(h.dynamo.doc, 'radiomics').transition(batchId, 'open', 'closing', { closingAt: new Date().toISOString() }),
  ).toBe(true);
  await h.store.clearOpenBatch(tenant, batchId);
}

/** Delivers `<tenant>/echo.mp4` with an intake that dies right after registering it in a new open batch (`first`). */
async function crashAfterRegistering(tenant: string) {
  const key = `${tenant}/echo.mp4`;
  const eTag = await h.put(key, SMALL);
  const event = h.event(key, SMALL.length, eTag);
  await expect(
    ingestS3Event(event, { ...h.deps, store: crashingAfter(h.deps.store, 'joinBatch'), uploadRetryDelaysMs: [] }),
  ).rejects.toThrow('1 of 1 records failed and will be retried');
  const first = (await h.store.getOpenBatchId(tenant))!;
  return { key, eTag, event, first };
}

/** A store whose `method` dies (as the process would) right after its `nth` call completes. */
function crashingAfter<T extends object>(target: T, method: string, nth = 1): T {
  let calls = 0;
  return new Proxy(target, {
    get(inner, property, receiver) {
      const value = Reflect.get(inner, property, receiver);
      if (property !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(inner) : value;
      return async (...args: unknown[]) => {
        const result = await value.apply(inner, args);
        if (++calls === nth) throw new Error(`crash after ${method}`);
        return result;
      };
    },
  });
}

describe('what a clip costs', () => {
  it('one Swift PUT, two table writes, the S3 read and one tag (no HEAD), once the tenant has an open batch', async () => {
    await deliver(`cost/${CLIPS[0]}`, clip(CLIPS[0]));
    const before = snapshotCounts(h.requests);
    for (const name of CLIPS.slice(1, 6)) expect((await deliver(`cost/${name}`, clip(name))).summary.sealed).toBe(1);
    expect(requestsBetween(before, h.requests)).toEqual({ swift: 5, table: 10, s3: 10 });
    expect(h.requests.swiftCalls.putObject - (before.swiftCalls.putObject ?? 0)).toBe(5);
    expect(h.requests.tableCalls.UpdateCommand - before.tableCalls.UpdateCommand).toBe(5);
    expect(h.requests.tableCalls.PutCommand - before.tableCalls.PutCommand).toBe(5);
  });

  it('a warm container unwraps each batch key at most once, and not at all for a batch it made', async () => {
    let unwraps = 0;
    const keys: KeyWrapper = {
      wrap: (key, context) => h.deps.keys.wrap(key, context),
      unwrap: (jwe, context) => {
        unwraps++;
        return h.deps.keys.unwrap(jwe, context);
      },
    };
    const container = { ...h.deps, keys, store: new DynamoIntakeStore(h.dynamo.doc, 'radiomics') };
    for (const name of CLIPS.slice(0, 3)) await deliver(`keys/${name}`, clip(name), container);
    expect(unwraps).toBe(0);
    const another = { ...container, store: new DynamoIntakeStore(h.dynamo.doc, 'radiomics') };
    for (const name of CLIPS.slice(3, 6)) await deliver(`keys/${name}`, clip(name), another);
    expect(unwraps).toBe(1);
  });
});

describe('in memory or streamed, a sealed object reads back the same', () => {
  const container = `t${randomBytes(4).toString('hex')}-paths`;
  beforeAll(async () => {
    await h.swift.createContainer(container);
    await h.swift.createContainer(segmentsContainerOf(container));
  });
  afterAll(async () => removeContainers(h.swift, [container, segmentsContainerOf(container)]));

  it('byte for byte, with the same Content-Type, for the same key and IV', async () => {
    const key = generateBatchKey();
    const iv = randomBytes(12);
    const check = () => new MediaCheck(1 << 30, ['mp4']);
    const whole = await readWhole(Readable.from([SMALL.subarray(0, 1000), SMALL.subarray(1000)]), check(), SMALL.length);
    await putSealed(h.swift, { container, objectName: 'whole.mp4' }, key, whole, undefined, { iv });
    await uploadSealed(h.swift, { container, objectName: 'streamed.mp4' }, key, Readable.from([SMALL]), check(), SMALL.length, undefined, {
      iv,
    });
    const [one, slo] = await Promise.all([h.swift.getObject(container, 'whole.mp4'), h.swift.getObject(container, 'streamed.mp4')]);
    const [oneBytes, sloBytes] = await Promise.all([new Response(one.body).arrayBuffer(), new Response(slo.body).arrayBuffer()]);
    expect(Buffer.from(oneBytes).equals(Buffer.from(sloBytes))).toBe(true);
    expect(decryptLikeTheOriginal(key, Buffer.from(oneBytes)).equals(SMALL)).toBe(true);
    expect([one.contentType, slo.contentType]).toEqual([SEALED_CONTENT_TYPE, SEALED_CONTENT_TYPE]);
    expect([one.contentLength, slo.contentLength]).toEqual([SMALL.length + 28, SMALL.length + 28]);
  });

  it('the in-memory read refuses a source that sends more than it announced', async () => {
    await expect(readWhole(Readable.from([SMALL]), new MediaCheck(1 << 30, ['mp4']), SMALL.length - 1)).rejects.toThrow('more than the');
  });
});

describe('a crash between any two steps loses nothing and counts the clip once', () => {
  const steps: Array<[string, (deps: IntakeDeps) => IntakeDeps]> = [
    ['registering in the batch', (deps) => ({ ...deps, store: crashingAfter(deps.store, 'joinBatch') })],
    ['putting the sealed object', (deps) => ({ ...deps, swift: crashingAfter(deps.swift, 'putObject') })],
    ['recording the video', (deps) => ({ ...deps, store: crashingAfter(deps.store, 'recordSealed') })],
    ['tagging the source, alongside the PUT', (deps) => ({ ...deps, objects: crashingAfter(deps.objects, 'markAccepted') })],
  ];

  it.each(steps)('after %s', async (step, crashing) => {
    const tenant = `crash-${step.split(' ')[0]}`;
    const warm = await deliver(`${tenant}/warm.mp4`, clip(CLIPS[1]));
    const key = `${tenant}/echo.mp4`;
    const eTag = await h.put(key, SMALL);
    const event = h.event(key, SMALL.length, eTag);
    await expect(ingestS3Event(event, { ...crashing(h.deps), uploadRetryDelaysMs: [] })).rejects.toThrow();

    const retried = await ingestS3Event(event, h.deps);
    expect(retried.sealed + retried.duplicates).toBe(1);
    const videoId = h.deps.videoId({ bucket: BUCKET, key, eTag });
    const video = await h.store.getVideo(videoId);
    expect(video).toMatchObject({ stage: 'sealed', tenant, sealedBytes: SMALL.length + 28 });
    const batch = await settledBatch(h, video!.batchId!);
    expect(batch).toEqual(expect.objectContaining({ state: 'open', claims: 2, sealedItems: 2, inflight: {} }));
    expect((await objectsIn(batch!.container)).sort()).toEqual([`${videoId}.mp4`, `${warm.videoId}.mp4`].sort());
    expect(
      decryptLikeTheOriginal(
        await h.batchKey(batch!.batchId, tenant),
        await h.swift.getObjectBytes(batch!.container, `${videoId}.mp4`),
      ).equals(SMALL),
    ).toBe(true);
    expect(await h.tags(key)).toEqual({ 'radiomics-status': 'accepted', 'radiomics-video-id': videoId });
  });

  it('after registering, with the batch closed before the retry: the closer waits, the retry seals into the next batch, the first closes empty', async () => {
    const tenant = 'crash-close';
    const { key, eTag, event, first } = await crashAfterRegistering(tenant);
    const closer = closerDeps(h.store);
    expect((await closeDueBatches(closer, { batchId: first })).steps[first]).toBe('waiting_for_seals');

    expect((await ingestS3Event(event, h.deps)).sealed).toBe(1);
    const video = await h.store.getVideo(h.deps.videoId({ bucket: BUCKET, key, eTag }));
    expect(video?.batchId).not.toBe(first);
    expect((await closeDueBatches(closer, { batchId: first })).steps[first]).toBe('empty');
    expect(await settledBatch(h, video!.batchId!)).toEqual(
      expect.objectContaining({ state: 'open', claims: 1, sealedItems: 1, inflight: {} }),
    );
  });
});

describe('a registration the closer gives up as stale while its delivery is still sealing', () => {
  it('refuses that delivery its record; the retry seals into a new batch, and the given-up batch closes without it', async () => {
    const tenant = 'stale-race';
    const { key, eTag, event, first } = await crashAfterRegistering(tenant);
    const muchLater = { ...closerDeps(h.store), now: () => new Date(Date.now() + 1_300_000) };
    let closed: string | undefined;
    const closerFirst = new Proxy(h.deps.store, {
      get: (store, property, receiver) =>
        property === 'recordSealed'
          ? async (...args: Parameters<IntakeStore['recordSealed']>) => {
              closed = (await closeDueBatches(muchLater, { batchId: first })).steps[first];
              return store.recordSealed(...args);
            }
          : Reflect.get(store, property, receiver),
    });
    await expect(ingestS3Event(event, { ...h.deps, store: closerFirst, uploadRetryDelaysMs: [] })).rejects.toBeInstanceOf(RetryableError);
    expect(closed).toBe('empty');
    const videoId = h.deps.videoId({ bucket: BUCKET, key, eTag });
    expect(await h.store.getVideo(videoId)).toEqual(expect.objectContaining({ stage: 'abandoned', batchId: first }));

    expect((await ingestS3Event(event, h.deps)).sealed).toBe(1);
    const video = (await h.store.getVideo(videoId))!;
    expect(video).toEqual(expect.objectContaining({ stage: 'sealed', tenant }));
    expect(video.batchId).not.toBe(first);
    expect(await h.store.getBatch(first)).toEqual(expect.objectContaining({ state: 'empty', sealedItems: 0, inflight: {} }));
    expect(await settledBatch(h, video.batchId!)).toEqual(
      expect.objectContaining({ state: 'open', claims: 1, sealedItems: 1, inflight: {} }),
    );
    const batch = (await h.store.getBatch(video.batchId!))!;
    expect(
      decryptLikeTheOriginal(await h.batchKey(batch.batchId, tenant), await h.swift.getObjectBytes(batch.container, `${videoId}.mp4`)),
    ).toEqual(SMALL);
  });
});

/** The closer as far as it goes without a job: close, wait for seals, and find an empty batch. */
function closerDeps(intake: IntakeStore): BatchDeps {
  const jobs = { submit: () => Promise.reject(new Error('no job expected')) } as unknown as JobManager;
  return {
    batches: new DynamoBatchStore(h.dynamo.doc, 'radiomics'),
    intake,
    swift: h.swift,
    keys: h.deps.keys,
    jobs,
    settings: {
      maxItems: 50,
      maxBytes: 1 << 30,
      maxAgeSecs: 600,
      quietSecs: 0,
      staleSealSecs: 1200,
      staleSubmitSecs: 300,
      links: { kind: 'public' },
      submission: {} as BatchDeps['settings']['submission'],
    },
    log: createLogger({}, { level: 'error' }),
  };
}

describe('the open batch a container remembers is only a guess', () => {
  it('a batch closed elsewhere refuses the registration, and the clip goes to the next batch', async () => {
    const first = await deliver('closed-elsewhere/a.mp4', SMALL);
    const firstBatch = (await h.store.getVideo(first.videoId))!.batchId!;
    await closeBatch(firstBatch, 'closed-elsewhere');
    const second = await deliver('closed-elsewhere/b.mp4', SMALL);
    expect(second.summary.sealed).toBe(1);
    const secondBatch = (await h.store.getVideo(second.videoId))!.batchId!;
    expect(secondBatch).not.toBe(firstBatch);
    expect(await settledBatch(h, firstBatch)).toEqual(
      expect.objectContaining({ state: 'closing', claims: 1, sealedItems: 1, inflight: {} }),
    );
    expect(await objectsIn((await h.store.getBatch(firstBatch))!.container)).toEqual([`${first.videoId}.mp4`]);
  });

  it('a duplicate delivered after its batch closed, before the closer counted the seal: settled by the record, uploads nothing', async () => {
    const first = await deliver('closing-dup/echo.mp4', SMALL);
    const video = (await h.store.getVideo(first.videoId))!;
    const sealedBefore = await h.swift.getObjectBytes(video.container!, video.objectName!);
    await closeBatch(video.batchId!, 'closing-dup');
    const puts = h.requests.swiftCalls.putObject ?? 0;
    const again = await ingestS3Event(first.event, h.deps);
    expect(again.outcomes).toEqual([{ status: 'duplicate', videoId: first.videoId, stage: 'sealed' }]);
    expect(h.requests.swiftCalls.putObject ?? 0).toBe(puts);
    expect(await h.store.getOpenBatchId('closing-dup')).toBeUndefined();
    expect(await h.store.getBatch(video.batchId!)).toEqual(
      expect.objectContaining({ state: 'closing', claims: 1, sealedItems: 1, sealedBytes: SMALL.length + 28, inflight: {} }),
    );
    expect((await h.swift.getObjectBytes(video.container!, video.objectName!)).equals(sealedBefore)).toBe(true);
    expect(await h.store.getVideo(first.videoId)).toEqual(video);
  });

  it('a duplicate delivered after its counted batch closed seals nothing new: its copy is removed and its registration given back', async () => {
    const first = await deliver('late-dup/echo.mp4', SMALL);
    const video = (await h.store.getVideo(first.videoId))!;
    await settledBatch(h, video.batchId!);
    await closeBatch(video.batchId!, 'late-dup');
    const again = await ingestS3Event(first.event, h.deps);
    expect(again.outcomes).toEqual([{ status: 'duplicate', videoId: first.videoId, stage: 'sealed' }]);
    const next = (await h.store.getOpenBatchId('late-dup'))!;
    expect(next).not.toBe(video.batchId);
    const nextBatch = (await h.store.getBatch(next))!;
    expect(nextBatch).toEqual(expect.objectContaining({ claims: 0, claimedBytes: 0, sealedItems: 0, inflight: {} }));
    expect(await objectsIn(nextBatch.container)).toEqual([]);
    expect(await h.store.getBatch(video.batchId!)).toEqual(
      expect.objectContaining({ state: 'closing', claims: 1, sealedItems: 1, inflight: {} }),
    );
    expect(await h.store.getVideo(first.videoId)).toEqual(video);
  });

  it('a duplicate in the same open batch leaves the counts as they were', async () => {
    const first = await deliver('same-dup/echo.mp4', SMALL);
    const before = await settledBatch(h, (await h.store.getVideo(first.videoId))!.batchId!);
    expect(before).toEqual(expect.objectContaining({ claims: 1, claimedBytes: SMALL.length, sealedItems: 1, inflight: {} }));
    expect((await ingestS3Event(first.event, h.deps)).duplicates).toBe(1);
    const { lastActivityMs, ...after } = (await h.store.getBatch(before.batchId))!;
    expect(lastActivityMs).toBeGreaterThanOrEqual(before.lastActivityMs!);
    expect(after).toEqual({ ...before, lastActivityMs: undefined });
  });

  it('a source found missing before its registration completes is rejected, and the registration is given back', async () => {
    await deliver('slow-join/ok.mp4', SMALL);
    const slowJoin = new Proxy(h.deps.store, {
      get: (store, property, receiver) =>
        property === 'joinBatch'
          ? async (...args: Parameters<IntakeStore['joinBatch']>) => {
              await new Promise((resolve) => setTimeout(resolve, 100));
              return store.joinBatch(...args);
            }
          : Reflect.get(store, property, receiver),
    });
    const summary = await ingestS3Event(h.event('slow-join/never-uploaded.mp4', 10), { ...h.deps, store: slowJoin });
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'source_missing' });
    expect(await settledBatch(h, (await h.store.getOpenBatchId('slow-join'))!)).toEqual(
      expect.objectContaining({ claims: 1, sealedItems: 1, inflight: {} }),
    );
  });

  it('a rejected clip gives its registration back', async () => {
    await deliver('gives-back/ok.mp4', SMALL);
    const batchId = (await h.store.getOpenBatchId('gives-back'))!;
    const bad = await deliver('gives-back/bad.mp4', Buffer.from('%PDF-1.7\n'.repeat(50)));
    expect(bad.summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'not_a_video' });
    expect(await settledBatch(h, batchId)).toEqual(
      expect.objectContaining({ claims: 1, claimedBytes: SMALL.length, sealedItems: 1, inflight: {} }),
    );
  });

  it('caps hold under concurrent seals: 7 clips at once with room for 3 per batch', async () => {
    const capped = { ...h.deps, limits: { ...h.deps.limits, batchMaxItems: 3 } };
    const keys = CLIPS.slice(0, 7).map((name) => `capped/${name}`);
    const eTags = await Promise.all(keys.map((key, i) => h.put(key, clip(CLIPS[i]))));
    const outcomes = await Promise.all(
      keys.map((key, i) =>
        ingestObject({ bucket: BUCKET, key, size: clip(CLIPS[i]).length, eventName: 'ObjectCreated:Put', eTag: eTags[i] }, capped),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(Array(7).fill('sealed'));
    const perBatch = new Map<string, number>();
    for (const outcome of outcomes)
      if (outcome.status === 'sealed') perBatch.set(outcome.batchId, (perBatch.get(outcome.batchId) ?? 0) + 1);
    for (const [batchId, sealed] of perBatch) {
      const batch = await settledBatch(h, batchId);
      expect(sealed).toBeLessThanOrEqual(3);
      expect(batch).toEqual(expect.objectContaining({ claims: sealed, sealedItems: sealed, inflight: {} }));
    }
  });
});

describe('the request counter', () => {
  it('counts table requests by command', async () => {
    const counts = newRequestCounts();
    const store = new DynamoIntakeStore(countedDocumentClient(h.dynamo.doc, counts), 'radiomics');
    await store.getVideo('nothing');
    expect(counts).toMatchObject({ table: 1, tableCalls: { GetCommand: 1 } });
  });
});
