/**
 * Source names end to end over real local services: uploads go through the real intake (s3rver → ingest → Swift,
 * dynalite) with a SOURCE_NAME_KEY sealer, and the real status-api router over the same table finds them by
 * `?source=` / `?sop=` and names them, as `source`, to their own tenant only. The table holds no plaintext name.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ingestS3Event, type IntakeSummary } from '#lib/intake/event-loop.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { keys, videoIndexKeys } from '#lib/store/keys.js';
import type { VideoRecord } from '#lib/store/records.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { startIntakeHarness, type IntakeHarness } from '#local/intake-harness.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { SHARED_DIR } from '#local/service-endpoints.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertContract } from '#test/support/contract.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { hex32 } from '#test/support/status-rig.js';
import { startTokenKit, type TokenKit } from '#test/support/tokens.js';

const CLIP = readFileSync(join(SHARED_DIR, 'samples', 'videos', 'VH020213M4_001418_20160407T115216.MP4'));
const sourceNames = sourceNameSealer(randomBytes(32).toString('base64'));

let h: IntakeHarness;
let kit: TokenKit;
let api: LocalHttpApi;

beforeAll(async () => {
  h = await startIntakeHarness({ sourceNames });
  kit = await startTokenKit();
  api = await localStatusApi(new DynamoJobStatusStore(h.dynamo.doc, 'radiomics', { sourceNames }), h.swift, { sourceNames });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await kit?.close();
  await h?.close();
});

async function get(path: string, tenant = 'demo') {
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${await kit.hs({ tenant })}` } });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const bySource = (key: string, tenant?: string) => get(`/videos?source=${encodeURIComponent(key)}`, tenant);

async function upload(key: string, body: Buffer): Promise<IntakeSummary> {
  return ingestS3Event(h.event(key, body.length, await h.put(key, body)), h.deps);
}

const videoIdOf = (summary: IntakeSummary) => (summary.outcomes[0] as { videoId: string }).videoId;

async function rawVideoRow(videoId: string) {
  return (await h.dynamo.doc.send(new GetCommand({ TableName: 'radiomics', Key: keys.video(videoId) }))).Item!;
}

describe('source names through the real intake', () => {
  const KEY = 'demo/ward 3/Doe^Jane 1970-01-01, echo #2.mp4';
  let videoId: string;

  beforeAll(async () => {
    const summary = await upload(KEY, CLIP);
    expect(summary).toMatchObject({ records: 1, sealed: 1 });
    videoId = videoIdOf(summary);
  }, 60_000);

  it('finds the upload by ?source= and names it, as GET /videos/{id} does, to its own tenant', async () => {
    const found = await bySource(KEY);
    expect(found.status).toBe(200);
    assertContract('/videos', 200, found.body);
    expect(found.body).toMatchObject({ video_id: videoId, source: KEY, route: 's3', stage: 'sealed' });
    const byId = await get(`/videos/${videoId}`);
    assertContract('/videos/{id}', 200, byId.body);
    expect(byId.body).toEqual(found.body);
  });

  it('answers another tenant 404, exactly as an unknown id, and never the name', async () => {
    const unknown = await get(`/videos/${hex32()}`, 'hospital-b');
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found', message: 'no such video' } });
    for (const answer of [await bySource(KEY, 'hospital-b'), await get(`/videos/${videoId}`, 'hospital-b')]) {
      expect(answer).toEqual(unknown);
      expect(answer.text).not.toContain('Doe^Jane');
    }
  });

  it('keeps no plaintext name in the table: the row holds it sealed and the index a keyed digest', async () => {
    const row = await rawVideoRow(videoId);
    const { Items } = await h.dynamo.doc.send(new ScanCommand({ TableName: 'radiomics' }));
    const everything = JSON.stringify(Items);
    for (const part of [KEY, 'Doe^Jane', 'ward 3', encodeURIComponent(KEY)]) expect(everything).not.toContain(part);
    expect(everything).not.toContain(createHash('sha256').update(KEY).digest('hex'));
    expect(row.gsi4pk).toBe(`SOURCE#demo#${sourceNames.indexDigest(KEY)}`);
    expect(sourceNames.open(row.sourceName, { tenant: 'demo', videoId })).toBe(KEY);
  });

  it('names a refused upload too, and a PACS instance by its SOPInstanceUID', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.16016';
    const summary = await upload(dicomKeyOf('demo', uid), Buffer.from('not a DICOM file, not a video either'));
    expect(summary).toMatchObject({ records: 1, rejected: 1 });
    const found = await get(`/videos?sop=${uid}`);
    expect(found.status).toBe(200);
    assertContract('/videos', 200, found.body);
    expect(found.body).toMatchObject({ video_id: videoIdOf(summary), source: uid, stage: 'failed' });
    expect(await bySource(dicomKeyOf('demo', uid))).toEqual(found);
    expect(JSON.stringify(await rawVideoRow(videoIdOf(summary)))).not.toContain(uid);
  });

  it("gives no name for a sealed name copied onto another video's row", async () => {
    const other = await upload('demo/other.mp4', CLIP);
    const { sourceName } = await rawVideoRow(videoId);
    await h.dynamo.doc.send(
      new UpdateCommand({
        TableName: 'radiomics',
        Key: keys.video(videoIdOf(other)),
        UpdateExpression: 'SET sourceName = :copied',
        ExpressionAttributeValues: { ':copied': sourceName },
      }),
    );
    const answer = await get(`/videos/${videoIdOf(other)}`);
    expect(answer.status).toBe(200);
    expect(answer.body.source).toBeNull();
  });

  it('still finds a video the intake indexed before it had the key, without a name', async () => {
    const before = hex32();
    const at = new Date().toISOString();
    const video: VideoRecord = {
      videoId: before,
      tenant: 'demo',
      stage: 'rejected',
      reason: 'unsupported_media',
      receivedAt: at,
      updatedAt: at,
    };
    await h.dynamo.doc.send(
      new PutCommand({ TableName: 'radiomics', Item: { ...keys.video(before), ...video, ...videoIndexKeys(video) } }),
    );
    expect(
      await recordSourceLookup(
        { doc: h.dynamo.doc, tableName: 'radiomics' },
        { tenant: 'demo', sourceKey: 'demo/before.mp4', videoId: before, at },
      ),
    ).toBe(true);
    const found = await bySource('demo/before.mp4');
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ video_id: before, source: null, stage: 'failed' });
  });
});
