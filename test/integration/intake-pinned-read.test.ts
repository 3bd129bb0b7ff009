/**
 * The intake seals the object its event names, never whatever the key holds by then: A-then-B overwrites against
 * s3rver (which ignores If-Match, so the answer's ETag is compared) and a pinned read against Swift's s3api (a real
 * S3 endpoint that answers If-Match with 412). Also: the intake's logs carry no unkeyed hash of an object name.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { createS3Client, S3IntakeObjects, SourceSuperseded } from '#lib/s3/bucket.js';
import { startIntakeHarness, decryptLikeTheOriginal, BUCKET, type IntakeHarness } from '#local/intake-harness.js';
import { loadServices } from '#local/service-endpoints.js';
import { settledBatch } from '#test/support/settled-batch.js';

const VIDEOS = new URL('../../../shared/samples/videos/', import.meta.url);
const CLIP_A = readFileSync(new URL('VH020213M4_001418_20160407T115216.MP4', VIDEOS));
const CLIP_B = readFileSync(new URL('VH020213M4_001390_20160406T111514.MP4', VIDEOS));
const unkeyedTag = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 12);

describe('intake: pinned reads', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntakeHarness();
  });
  afterAll(async () => h.close());

  it("an overwritten key: A's event records A superseded and seals nothing; B's event seals B's bytes", async () => {
    const key = 'demo/x.mp4';
    const eTagA = await h.put(key, CLIP_A);
    const eTagB = await h.put(key, CLIP_B);
    expect(eTagA).not.toBe(eTagB);

    const first = await ingestS3Event(h.event(key, CLIP_A.length, eTagA), h.deps);
    const videoA = h.deps.videoId({ bucket: BUCKET, key, eTag: eTagA });
    expect(first).toMatchObject({
      records: 1,
      sealed: 0,
      rejected: 0,
      superseded: 1,
      outcomes: [{ status: 'superseded', videoId: videoA }],
    });
    expect(await h.store.getVideo(videoA)).toMatchObject({ stage: 'superseded', reason: 'superseded', tenant: 'demo' });
    expect(await h.tags(key)).toEqual({});

    const second = await ingestS3Event(h.event(key, CLIP_B.length, eTagB), h.deps);
    expect(second).toMatchObject({ records: 1, sealed: 1, superseded: 0 });
    const outcome = second.outcomes[0];
    if (outcome.status !== 'sealed') throw new Error(`not sealed: ${JSON.stringify(outcome)}`);
    const batch = await settledBatch(h, outcome.batchId);
    expect(batch).toEqual(expect.objectContaining({ claims: 1, sealedItems: 1, inflight: {} }));
    expect(await h.swift.headObject(batch!.container, `${videoA}.mp4`)).toBeNull();
    const sealed = await h.swift.getObjectBytes(batch!.container, `${outcome.videoId}.mp4`);
    expect(decryptLikeTheOriginal(await h.batchKey(outcome.batchId), sealed).equals(CLIP_B)).toBe(true);

    const again = await ingestS3Event(h.event(key, CLIP_A.length, eTagA), h.deps);
    expect(again.outcomes).toEqual([{ status: 'duplicate', videoId: videoA, stage: 'superseded' }]);
  });

  it('a rejected event leaves a newer object under its key untagged, so the lifecycle rule never expires it', async () => {
    const key = 'demo/y.mp4';
    const eTagA = await h.put(key, CLIP_A);
    const eTagB = await h.put(key, CLIP_B);
    const tooLarge = await ingestS3Event(h.event(key, 100 * 1024 * 1024, eTagA), h.deps);
    expect(tooLarge.outcomes).toEqual([
      { status: 'rejected', videoId: h.deps.videoId({ bucket: BUCKET, key, eTag: eTagA }), reason: 'too_large' },
    ]);
    expect(await h.tags(key)).toEqual({});
    expect(await ingestS3Event(h.event(key, CLIP_B.length, eTagB), h.deps)).toMatchObject({ sealed: 1 });

    const badKey = 'Bad_Tenant/y.mp4';
    const eTag = await h.put(badKey, CLIP_A);
    await ingestS3Event(h.event(badKey, CLIP_A.length, eTag), h.deps);
    expect(await h.tags(badKey)).toEqual({ 'radiomics-status': 'rejected', 'radiomics-reason': 'invalid_tenant' });
  });

  it('names no object by an unkeyed hash in the logs, for a sealed object and a malformed record alike', async () => {
    const key = 'demo/patient-doe-1958.mp4';
    const eTag = await h.put(key, CLIP_A);
    const good = h.event(key, CLIP_A.length, eTag).Records[0] as { s3: Record<string, unknown> };
    const malformed = { ...good, s3: { ...good.s3, bucket: {} } };
    const lineCount = h.logLines.length;
    const summary = await ingestS3Event({ Records: [good, malformed] }, h.deps);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['sealed', 'malformed']);
    const logged = h.logLines.slice(lineCount).join('\n');
    expect(logged).toContain(h.deps.videoId({ bucket: BUCKET, key, eTag }));
    expect(logged).not.toContain(unkeyedTag(`${BUCKET}/${key}`));
    expect(logged).not.toContain(unkeyedTag(JSON.stringify(malformed)));
    expect(logged).not.toContain('patient-doe');
    expect(JSON.parse(h.logLines[h.logLines.length - 1])).toMatchObject({ level: 'warn', message: 'malformed event record', record: 1 });
  });
});

describe("intake: pinned reads against Swift's s3api (a real S3 endpoint)", () => {
  const bucket = `pin-${randomBytes(4).toString('hex')}`;
  let s3: S3Client;
  beforeAll(async () => {
    const swift = loadServices().swift;
    s3 = createS3Client({
      region: 'us-east-1',
      endpoint: swift.s3Endpoint,
      credentials: { accessKeyId: swift.s3AccessKey, secretAccessKey: swift.s3SecretKey },
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'demo/x.mp4' })).catch(() => undefined);
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    s3.destroy();
  });

  it("refuses the event's ETag once the key holds another object, and reads the current one by its own", async () => {
    const put = async (body: Buffer) =>
      (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'demo/x.mp4', Body: body }))).ETag!.replace(/"/g, '');
    const eTagA = await put(CLIP_A.subarray(0, 4096));
    const eTagB = await put(CLIP_B.subarray(0, 4096));
    const objects = new S3IntakeObjects(s3);
    await expect(objects.open({ bucket, key: 'demo/x.mp4', eTag: eTagA })).rejects.toBeInstanceOf(SourceSuperseded);
    const current = await objects.open({ bucket, key: 'demo/x.mp4', eTag: eTagB });
    const chunks: Buffer[] = [];
    for await (const chunk of current.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(CLIP_B.subarray(0, 4096))).toBe(true);
  });
});
