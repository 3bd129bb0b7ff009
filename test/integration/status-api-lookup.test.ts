/**
 * status-api lookups by source object (`GET /videos?source=<key>`, `?sop=<SOPInstanceUID>`) over dynalite: the
 * lookup rows written as the intake writes them (recordSourceLookup), the real router served locally with HS256
 * tokens. Every response is checked against openapi/status-api.yaml.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { loadServices } from '#local/service-endpoints.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { keys, videoIndexKeys } from '#lib/store/keys.js';
import type { VideoRecord } from '#lib/store/records.js';
import { recordSourceLookup, type SourceLookupEntry } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { assertContract } from '#test/support/contract.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { hex32 } from '#test/support/status-rig.js';
import { startTokenKit, type TokenKit } from '#test/support/tokens.js';

let dynamo: LocalDynamo;
let kit: TokenKit;
let api: LocalHttpApi;
const table = () => ({ doc: dynamo.doc, tableName: 'radiomics' });

beforeAll(async () => {
  dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  kit = await startTokenKit();
  const services = loadServices();
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  api = await localStatusApi(new DynamoJobStatusStore(dynamo.doc, 'radiomics'), swift);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await kit?.close();
  await dynamo?.close();
});

async function get(path: string, tenant = 'hospital-a') {
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${await kit.hs({ tenant })}` } });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const bySource = (key: string, tenant?: string) => get(`/videos?source=${encodeURIComponent(key)}`, tenant);
const bySop = (uid: string, tenant?: string) => get(`/videos?sop=${encodeURIComponent(uid)}`, tenant);

/** A video row and its lookup, as the intake leaves them for an accepted upload. */
async function upload(tenant: string, sourceKey: string, lookup: Partial<SourceLookupEntry> = {}): Promise<string> {
  const videoId = hex32();
  const at = new Date().toISOString();
  const video: VideoRecord = {
    videoId,
    tenant,
    stage: 'sealing',
    kind: sourceKey.endsWith('.dcm') ? 'dicom' : 'mp4',
    receivedAt: at,
    updatedAt: at,
  };
  await dynamo.doc.send(new PutCommand({ TableName: 'radiomics', Item: { ...keys.video(videoId), ...video, ...videoIndexKeys(video) } }));
  expect(await recordSourceLookup(table(), { tenant, sourceKey, videoId, at, ...lookup })).toBe(true);
  return videoId;
}

describe('GET /videos?source=<key>', () => {
  it('answers the video of the uploaded object, as GET /videos/{id} does, for any key the bucket allows', async () => {
    for (const key of [
      'hospital-a/scan.mp4',
      'hospital-a/ward 3/a,b+c (1).mp4',
      'hospital-a/Ünïcødé/€.mp4',
      `hospital-a/${'x'.repeat(1000)}`,
    ]) {
      const videoId = await upload('hospital-a', key);
      const res = await bySource(key);
      expect([key, res.status]).toEqual([key, 200]);
      assertContract('/videos', 200, res.body);
      expect(res.body).toEqual((await get(`/videos/${videoId}`)).body);
      expect(res.body).toMatchObject({ video_id: videoId, route: 's3', stage: 'received' });
    }
  });

  it('follows an overwritten key to the newest object, and an older event delivered late does not turn it back', async () => {
    const key = 'hospital-a/overwritten.mp4';
    await upload('hospital-a', key, { sequencer: '0055B1D6D3A3F5A91C' });
    const newer = await upload('hospital-a', key, { sequencer: '0055B1D6D3A3F5A91D' });
    expect((await bySource(key)).body.video_id).toBe(newer);
    const late = hex32();
    expect(
      await recordSourceLookup(table(), {
        tenant: 'hospital-a',
        sourceKey: key,
        videoId: late,
        sequencer: '55B1D6D3A3F5A91C',
        at: new Date().toISOString(),
      }),
    ).toBe(false);
    expect((await bySource(key)).body.video_id).toBe(newer);
    // a longer sequencer is compared after padding, not as text: 1D0 > 1D
    const longer = await upload('hospital-a', key, { sequencer: '0055B1D6D3A3F5A91D0' });
    expect((await bySource(key)).body.video_id).toBe(longer);
    // the same event delivered again succeeds and changes nothing
    expect(
      await recordSourceLookup(table(), {
        tenant: 'hospital-a',
        sourceKey: key,
        videoId: longer,
        sequencer: '0055b1d6d3a3f5a91d0',
        at: new Date().toISOString(),
      }),
    ).toBe(true);
  });

  it("answers 404 for an unknown key and for another tenant's, exactly as for an unknown id", async () => {
    const key = 'hospital-a/private.mp4';
    await upload('hospital-a', key);
    const unknownId = await get(`/videos/${hex32()}`, 'hospital-b');
    expect(unknownId).toMatchObject({ status: 404, body: { error: 'not_found', message: 'no such video' } });
    for (const [tenant, asked] of [
      ['hospital-b', key],
      ['hospital-b', 'hospital-b/private.mp4'],
      ['hospital-a', 'hospital-a/never-uploaded.mp4'],
      ['hospital-a', 'private.mp4'],
    ]) {
      const res = await bySource(asked, tenant);
      expect([tenant, asked, res.status, res.body]).toEqual([tenant, asked, 404, unknownId.body]);
      assertContract('/videos', 404, res.body);
    }
  });

  it("never answers another tenant's video, even through a lookup row that names it", async () => {
    const theirs = await upload('hospital-b', 'hospital-b/scan.mp4');
    await recordSourceLookup(table(), {
      tenant: 'hospital-a',
      sourceKey: 'hospital-a/crossed.mp4',
      videoId: theirs,
      at: new Date().toISOString(),
    });
    expect((await bySource('hospital-a/crossed.mp4')).status).toBe(404);
  });

  it('keeps only a hash of the key in the table', async () => {
    const key = 'hospital-a/Doe^John 1970-01-01.mp4';
    await upload('hospital-a', key);
    const { Items } = await dynamo.doc.send(new ScanCommand({ TableName: 'radiomics' }));
    const everything = JSON.stringify(Items);
    expect(everything).not.toContain('Doe^John');
    expect(everything).not.toContain('overwritten.mp4');
  });
});

describe('GET /videos?sop=<SOPInstanceUID>', () => {
  it("answers the video of an instance the PACS hook put, only for the hook's own tenant", async () => {
    const uid = '1.2.826.0.1.3680043.8.498.4242';
    const videoId = await upload('hospital-a', dicomKeyOf('hospital-a', uid));
    const res = await bySop(uid);
    expect(res.status).toBe(200);
    assertContract('/videos', 200, res.body);
    expect(res.body).toMatchObject({ video_id: videoId, route: 'pacs' });
    expect(await bySource(dicomKeyOf('hospital-a', uid))).toEqual(res);
    const foreign = await bySop(uid, 'hospital-b');
    expect(foreign).toMatchObject({ status: 404, body: { error: 'not_found', message: 'no such video' } });
    expect(await bySop('1.2.3.4.5', 'hospital-a')).toEqual(foreign);
  });
});

describe('GET /videos: bad queries', () => {
  it('answers 400 unless exactly one well-formed source or sop is given once', async () => {
    const queries = [
      '',
      'source=hospital-a%2Fa.mp4&sop=1.2.3',
      'source=a&source=b',
      'sop=1.2.3&sop=1.2.3',
      'source=',
      `source=${'x'.repeat(1025)}`,
      `source=${'%C3%A9'.repeat(513)}`,
      'sop=1.02.3',
      'sop=1..2',
      'sop=abc',
      `sop=1.${'2'.repeat(63)}`,
      'id=0123456789abcdef0123456789abcdef',
      'limit=1',
    ];
    for (const query of queries) {
      const res = await get(`/videos${query ? `?${query}` : ''}`);
      expect([query, res.status, res.body.error]).toEqual([query, 400, 'bad_request']);
      assertContract('/videos', 400, res.body);
    }
  });

  it('answers 401 without a token', async () => {
    const res = await fetch(`${api.url}/videos?source=hospital-a%2Fscan.mp4`);
    expect(res.status).toBe(401);
    assertContract('/videos', 401, await res.json());
  });
});
