/**
 * The intake against real local services: s3rver → ingest → Swift All-In-One, with dynalite as the table.
 * Swift faults come from a real proxy in front of the real Swift, never from a mock.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { ingestS3Event, type IntakeSummary } from '#lib/intake/event-loop.js';
import { RetryableError } from '#lib/errors.js';
import { segmentsContainerOf } from '#lib/seal/sealed-upload.js';
import { startIntakeHarness, decryptLikeTheOriginal, type IntakeHarness } from '#local/intake-harness.js';
import { startFaultyProxy, type FaultyProxy } from '#test/support/faulty-proxy.js';
import { loadServices } from '#local/service-endpoints.js';
import { settledBatch } from '#test/support/settled-batch.js';

const VIDEOS = new URL('../../../shared/samples/videos/', import.meta.url);
const clips = readdirSync(VIDEOS)
  .filter((name) => name.toUpperCase().endsWith('.MP4'))
  .sort();
const clip = (name: string) => readFileSync(new URL(name, VIDEOS));
const SMALL = clip('VH020213M4_001418_20160407T115216.MP4');

const idOf = (summary: IntakeSummary) => (summary.outcomes[0] as { videoId: string }).videoId;

async function objectsIn(h: IntakeHarness, container: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of h.swift.listAllObjects(container)) names.push(entry.name);
  return names;
}

async function dropAndIngest(h: IntakeHarness, key: string, body: Buffer) {
  const eTag = await h.put(key, body);
  return ingestS3Event(h.event(key, body.length, eTag), h.deps);
}

describe('intake with real Swift', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntakeHarness();
  });
  afterAll(async () => h.close());

  it('seals every sample clip so that the original rule decrypts it to the same bytes', async () => {
    expect(clips).toHaveLength(21);
    for (const name of clips) {
      const original = clip(name);
      const summary = await dropAndIngest(h, `demo/${name}`, original);
      expect(summary).toMatchObject({ records: 1, sealed: 1, rejected: 0 });
      const outcome = summary.outcomes[0];
      if (outcome.status !== 'sealed') throw new Error(`not sealed: ${JSON.stringify(outcome)}`);
      const video = await h.store.getVideo(outcome.videoId);
      expect(video).toMatchObject({
        stage: 'sealed',
        tenant: 'demo',
        objectName: `${outcome.videoId}.mp4`,
        sealedBytes: original.length + 28,
      });
      const sealed = await h.swift.getObjectBytes(video!.container!, video!.objectName!);
      expect(sealed.length).toBe(original.length + 28);
      expect(decryptLikeTheOriginal(await h.batchKey(outcome.batchId), sealed).equals(original)).toBe(true);
    }
  });

  it('all clips of one tenant share one open batch, counted exactly', async () => {
    const video = await h.store.getVideo(idOf(await dropAndIngest(h, `demo/${clips[0]}`, clip(clips[0]))));
    const batch = await settledBatch(h, video!.batchId!);
    expect(batch).toEqual(expect.objectContaining({ state: 'open', claims: 21, sealedItems: 21, inflight: {} }));
    const names = await objectsIn(h, batch!.container);
    expect(names).toHaveLength(21);
    expect(names.every((name) => /^[0-9a-f]{32}\.mp4$/.test(name))).toBe(true);
  });

  it('names in Swift and in the logs carry no part of the original object name', async () => {
    const logged = h.logLines.join('\n');
    for (const name of clips) expect(logged).not.toContain(name.slice(0, 18));
    for (const line of h.logLines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('a duplicate event yields one sealed object and one video record', async () => {
    const key = 'dup/echo.mp4';
    const eTag = await h.put(key, SMALL);
    const first = await ingestS3Event(h.event(key, SMALL.length, eTag), h.deps);
    const second = await ingestS3Event(h.event(key, SMALL.length, eTag), h.deps);
    expect(first.sealed).toBe(1);
    expect(second).toMatchObject({ sealed: 0, duplicates: 1 });
    expect(idOf(second)).toBe(idOf(first));
    const video = await h.store.getVideo(idOf(first));
    const batch = await settledBatch(h, video!.batchId!);
    expect(batch).toEqual(expect.objectContaining({ claims: 1, sealedItems: 1, inflight: {} }));
    expect(await objectsIn(h, batch!.container)).toEqual([`${video!.videoId}.mp4`]);
  });

  it('an accepted source object is tagged with the id its results carry', async () => {
    const key = 'tagged/echo.mp4';
    const eTag = await h.put(key, SMALL);
    const outcome = await ingestS3Event(h.event(key, SMALL.length, eTag), h.deps);
    expect(outcome.sealed).toBe(1);
    expect(await h.tags(key)).toEqual({ 'radiomics-status': 'accepted', 'radiomics-video-id': idOf(outcome) });
    expect(idOf(outcome)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('concurrent duplicate deliveries still yield one sealed object, counted once', async () => {
    const key = 'race/echo.mp4';
    const eTag = await h.put(key, SMALL);
    const event = h.event(key, SMALL.length, eTag);
    const results = await Promise.allSettled([1, 2, 3].map(() => ingestS3Event(event, h.deps)));
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    expect(fulfilled.length).toBeGreaterThanOrEqual(1);
    // a delivery that lost the race either saw the winner or asks to be retried; retry those as Lambda would
    for (const result of results) {
      if (result.status === 'rejected') {
        expect(result.reason).toBeInstanceOf(RetryableError);
        expect((await ingestS3Event(event, h.deps)).duplicates).toBe(1);
      }
    }
    const videoId = h.deps.videoId({ bucket: 'radiomics-intake', key, eTag });
    const video = await h.store.getVideo(videoId);
    expect(video?.stage).toBe('sealed');
    const batch = await settledBatch(h, video!.batchId!);
    expect(batch).toEqual(expect.objectContaining({ claims: 1, sealedItems: 1, inflight: {} }));
    expect(await objectsIn(h, batch!.container)).toEqual([`${videoId}.mp4`]);
    const sealed = await h.swift.getObjectBytes(batch!.container, `${videoId}.mp4`);
    expect(decryptLikeTheOriginal(await h.batchKey(batch!.batchId, 'race'), sealed).equals(SMALL)).toBe(true);
  });

  it('keys with spaces, +, #, ? and unicode are decoded, sealed, and kept out of Swift names', async () => {
    for (const key of ['demo/echo study #1 + follow-up?.mp4', 'demo/écho cœur/心臓 100%.mp4']) {
      const summary = await dropAndIngest(h, key, SMALL);
      expect(summary.sealed + summary.duplicates).toBe(1);
      const video = await h.store.getVideo(idOf(summary));
      expect(video?.stage).toBe('sealed');
      expect(video?.objectName).toMatch(/^[0-9a-f]{32}\.mp4$/);
    }
  });
});

describe('intake rejections: recorded with a reason, source kept and tagged', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntakeHarness({ maxVideoBytes: 200_000 });
  });
  afterAll(async () => h.close());

  const cases: Array<[string, string, () => Buffer]> = [
    ['zero bytes', 'empty_object', () => Buffer.alloc(0)],
    ['not a video', 'not_a_video', () => Buffer.from('%PDF-1.7\n'.repeat(50))],
    ['a truncated MP4', 'truncated_mp4', () => SMALL.subarray(0, 50_000)],
    ['an oversize object', 'too_large', () => clip('VH020213M4_001390_20160406T111514.MP4')],
    [
      'DICOM when the intake has no DICOM converter',
      'dicom_not_accepted',
      () => Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(500)]),
    ],
  ];

  it.each(cases)('%s → %s', async (_label, reason, body) => {
    const key = `demo/bad-${reason}.bin`;
    const summary = await dropAndIngest(h, key, body());
    expect(summary).toMatchObject({ records: 1, sealed: 0, rejected: 1 });
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason });
    expect(await h.store.getVideo(idOf(summary))).toMatchObject({ stage: 'rejected', reason, tenant: 'demo' });
    expect(await h.exists(key)).toBe(true);
    expect(await h.tags(key)).toEqual({ 'radiomics-status': 'rejected', 'radiomics-reason': reason });
  });

  it('an object that grows past the cap after the event is caught while streaming', async () => {
    const key = 'demo/grew.mp4';
    await h.put(key, clip('VH020213M4_001390_20160406T111514.MP4'));
    const summary = await ingestS3Event(h.event(key, 1000), h.deps);
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'too_large' });
    const video = await h.store.getVideo(idOf(summary));
    expect(video?.stage).toBe('rejected');
  });

  it('a key without a tenant prefix is rejected as missing_tenant', async () => {
    const summary = await dropAndIngest(h, 'no-tenant.mp4', SMALL);
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'missing_tenant' });
    expect(await h.tags('no-tenant.mp4')).toEqual({ 'radiomics-status': 'rejected', 'radiomics-reason': 'missing_tenant' });
  });

  it('an invalid tenant is rejected as invalid_tenant', async () => {
    const summary = await dropAndIngest(h, 'Bad_Tenant/x.mp4', SMALL);
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'invalid_tenant' });
  });

  it('a malformed record is reported without sinking the good record beside it', async () => {
    const eTag = await h.put('demo/good.mp4', SMALL);
    const good = h.event('demo/good.mp4', SMALL.length, eTag).Records[0];
    const summary = await ingestS3Event({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: {} } }, good, 'garbage'] }, h.deps);
    expect(summary).toMatchObject({ records: 3, sealed: 1, malformed: 2 });
    expect(summary.outcomes.map((o) => o.status)).toEqual(['malformed', 'sealed', 'malformed']);
  });

  it('a source deleted before the intake ran is rejected as source_missing', async () => {
    const summary = await ingestS3Event(h.event('demo/never-uploaded.mp4', 10), h.deps);
    expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'source_missing' });
  });
});

describe.each([
  ['one PUT (in memory)', undefined],
  ['a streamed SLO', 0],
])('intake when Swift fails, sealing as %s', (_path, singlePutMaxBytes) => {
  let h: IntakeHarness;
  let proxy: FaultyProxy;
  beforeAll(async () => {
    proxy = await startFaultyProxy(loadServices().swift.proxyUrl);
    h = await startIntakeHarness({ swiftUrl: proxy.url, singlePutMaxBytes });
  });
  afterAll(async () => {
    await h.close();
    await proxy.close();
  });

  const streamed = singlePutMaxBytes === 0;
  /** The request that carries the ciphertext: the object PUT, or the SLO's ciphertext segment. */
  const isCiphertextPut = (r: { method: string; path: string }) =>
    r.method === 'PUT' && (streamed ? r.path.includes('/ciphertext') : /\/[0-9a-f]{32}\.mp4$/.test(r.path));

  it('Swift answering 503 then recovering: the retry succeeds and nothing is duplicated', async () => {
    proxy.reset();
    proxy.failNext(1, { status: 503, match: isCiphertextPut });
    const summary = await dropAndIngest(h, `flaky${streamed ? '-slo' : ''}/echo.mp4`, SMALL);
    expect(summary.sealed).toBe(1);
    expect(proxy.requests.filter(isCiphertextPut).map((r) => r.status)).toEqual([503, 201]);
    const video = await h.store.getVideo(idOf(summary));
    const batch = await settledBatch(h, video!.batchId!);
    expect(batch).toEqual(expect.objectContaining({ claims: 1, sealedItems: 1, inflight: {} }));
    expect(await objectsIn(h, batch!.container)).toEqual([`${video!.videoId}.mp4`]);
    // a streamed seal's failed attempt is cleaned up: only the winning attempt's two segments remain
    expect(await objectsIn(h, segmentsContainerOf(batch!.container))).toHaveLength(streamed ? 2 : 0);
    const sealed = await h.swift.getObjectBytes(batch!.container, `${video!.videoId}.mp4`);
    expect(decryptLikeTheOriginal(await h.batchKey(batch!.batchId, video!.tenant), sealed).equals(SMALL)).toBe(true);
  });

  it('Swift down during upload: the handler fails for Lambda to retry, with no visible object and no success recorded', async () => {
    proxy.reset();
    proxy.failNext(100, { kind: 'reset', match: isCiphertextPut });
    const tenant = `down${streamed ? '-slo' : ''}`;
    const key = `${tenant}/echo.mp4`;
    const eTag = await h.put(key, SMALL);
    const event = h.event(key, SMALL.length, eTag);
    await expect(ingestS3Event(event, h.deps)).rejects.toBeInstanceOf(RetryableError);
    const videoId = h.deps.videoId({ bucket: 'radiomics-intake', key, eTag });
    // no video row until the seal is recorded; its registration stays in flight, so the batch waits for the retry
    expect(await h.store.getVideo(videoId)).toBeUndefined();
    const batchId = await h.store.getOpenBatchId(tenant);
    const batch = await h.store.getBatch(batchId!);
    expect(Object.keys(batch!.inflight)).toEqual([videoId]);
    expect(batch).toMatchObject({ claims: 1, sealedItems: 0 });
    expect(await h.swift.headObject(batch!.container, `${videoId}.mp4`)).toBeNull();

    proxy.reset();
    const retried = await ingestS3Event(event, h.deps);
    expect(retried.sealed).toBe(1);
    expect(await settledBatch(h, batchId!)).toEqual(expect.objectContaining({ claims: 1, inflight: {}, sealedItems: 1 }));
    const sealed = await h.swift.getObjectBytes(batch!.container, `${videoId}.mp4`);
    expect(decryptLikeTheOriginal(await h.batchKey(batch!.batchId, tenant), sealed).equals(SMALL)).toBe(true);
  });
});
