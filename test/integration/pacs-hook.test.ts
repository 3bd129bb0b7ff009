/**
 * The PACS hook's streaming server against real local services: s3rver as the intake bucket, then the
 * intake (dynalite, real Swift) seals what the hook stored. Covers STOW-RS statuses, raw instances, presigned
 * uploads, credentials and bad input (nothing lost, nothing half-written).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { createS3Client } from '#lib/s3/bucket.js';
import { loadServices } from '#local/service-endpoints.js';
import { SignJWT } from 'jose';
import { startIntakeHarness, decryptLikeTheOriginal, BUCKET, type IntakeHarness } from '#local/intake-harness.js';
import { buildUncompressedLoop, dcmtkAvailable, makeUsLoopWithDcmtk, patchAscii } from '#local/dicom-fixtures.js';
import { orthancBoundary, orthancStowBody, partHead, stowContentType } from '#test/support/stow.js';
import { startPacsHookServer, type PacsHookServer } from '#containers/pacs-hook/server.js';
import { credentialAuthenticator, hashCredential, type HospitalCredentials } from '#lib/pacs/auth.js';
import { S3DicomObjects, S3UploadPresigner } from '#lib/pacs/objects.js';
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { createLogger } from '#lib/log.js';
import { dicomConversion } from '#lib/intake/dicom-step.js';
import { ingestS3Event } from '#lib/intake/event-loop.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const JWT_SECRET = Buffer.from('pacs-hook-test-hs256-secret-of-32-bytes-or-more', 'utf8');

let h: IntakeHarness;
let hook: PacsHookServer;
let hookLog: string[];
let loop: Buffer; // dcmtk-made JPEG Baseline US multi-frame (or an uncompressed one without dcmtk)
const small = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2001' });
const SMALL_UID = '1.2.826.0.1.3680043.8.498.2001';
let credentials: HospitalCredentials;

beforeAll(async () => {
  loop = dcmtkAvailable()
    ? makeUsLoopWithDcmtk({ frames: 6 })
    : buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2999' }, { width: 64, height: 48, frames: 6 });
  h = await startIntakeHarness();
  h.deps.convertDicom = dicomConversion({ ffmpegPath: '/usr/bin/ffmpeg', masterKey: h.masterKey, maxDicomBytes: 64 * 1024 * 1024 });
  credentials = {
    basic: [
      { tenant: 'hosp-a', user: 'stowuser', hash: await hashCredential('basic', 'old-password') },
      { tenant: 'hosp-a', user: 'stowuser', hash: await hashCredential('basic', 'stowpass') },
      { tenant: 'hosp-c', user: 'peeruser', hash: await hashCredential('basic', 'peerpass') },
    ],
    bearer: [{ tenant: 'hosp-b', hash: await hashCredential('bearer', 'test-token-123') }],
  };
  hookLog = [];
  hook = await startPacsHookServer({
    auth: credentialAuthenticator({
      load: async () => credentials,
      jwt: createJwtVerifier({
        keys: { kind: 'secret', secret: JWT_SECRET },
        issuer: 'https://login.test/',
        audience: 'pacs-hook',
        tenantClaim: 'tenant',
      }),
      refreshMs: 0,
    }),
    objects: new S3DicomObjects(h.s3, BUCKET),
    presigner: new S3UploadPresigner(h.s3, BUCKET, {
      expiresInSecs: 300,
      multipartAboveBytes: 1024 * 1024,
      multipartPartBytes: 5 * 1024 * 1024,
    }),
    limits: { maxInstanceBytes: 8 * 1024 * 1024, maxRequestBytes: 64 * 1024 * 1024, maxUploadBytes: 1024 ** 3 },
    retrieveBase: 'https://hook.test/dicomweb',
    log: createLogger({ function: 'pacs-hook' }, { level: 'debug', sink: (line) => hookLog.push(line) }),
  });
}, 60_000);

afterAll(async () => {
  await hook?.close();
  await h?.close();
});

async function stow(body: Buffer | AsyncIterable<Buffer>, auth = basic('stowuser', 'stowpass'), contentType?: string, boundary?: string) {
  const headers: Record<string, string> = { 'content-type': contentType ?? stowContentType(boundary!), accept: 'application/dicom+json' };
  if (auth) headers.authorization = auth;
  const response = await fetch(`${hook.url}/dicomweb/studies`, {
    method: 'POST',
    headers,
    body: body as BodyInit,
    duplex: 'half',
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), json: text ? JSON.parse(text) : undefined };
}

async function object(key: string): Promise<Buffer | undefined> {
  try {
    const answer = await h.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await answer.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

async function eTagOf(key: string): Promise<string> {
  return ((await h.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '').replace(/"/g, '');
}

const sopOf = (file: Buffer) => {
  const at = file.indexOf(Buffer.from([0x02, 0x00, 0x03, 0x00]), 132);
  const length = file.readUInt16LE(at + 6);
  return file.toString('latin1', at + 8, at + 8 + length).replace(/\0$/, '');
};

describe('STOW-RS POST /dicomweb/studies', () => {
  it("stores each instance of Orthanc's exact multipart under <tenant>/dicom/<SOPInstanceUID>.dcm and answers 200 with one ReferencedSOPSequence item each", async () => {
    const boundary = orthancBoundary();
    const { status, type, json } = await stow(orthancStowBody(boundary, [loop, small]), undefined, undefined, boundary);
    expect(status).toBe(200);
    expect(type).toBe('application/dicom+json');
    const items = json['00081199'].Value;
    expect(items).toHaveLength(2);
    expect(items[1]).toEqual({
      '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.3.1'] },
      '00081155': { vr: 'UI', Value: [SMALL_UID] },
      '00081190': {
        vr: 'UR',
        Value: [`https://hook.test/dicomweb/studies/1.2.826.0.1.3680043.8.498.1/series/1.2.826.0.1.3680043.8.498.2/instances/${SMALL_UID}`],
      },
    });
    expect(items[0]['00081155'].Value).toEqual([sopOf(loop)]);
    expect(json['00081198']).toBeUndefined();
    expect((await object(`hosp-a/dicom/${sopOf(loop)}.dcm`))?.equals(loop)).toBe(true);
    expect((await object(`hosp-a/dicom/${SMALL_UID}.dcm`))?.equals(small)).toBe(true);
  });

  it('the intake then de-identifies, converts and seals what the hook stored; a re-send changes nothing', async () => {
    const key = `hosp-a/dicom/${sopOf(loop)}.dcm`;
    const eTag = await eTagOf(key);
    const summary = await ingestS3Event(h.event(key, loop.length, eTag), h.deps);
    expect(summary).toMatchObject({ records: 1, sealed: 1, rejected: 0 });
    const outcome = summary.outcomes[0] as { videoId: string; batchId: string };
    const video = await h.store.getVideo(outcome.videoId);
    expect(video).toMatchObject({ stage: 'sealed', tenant: 'hosp-a', objectName: `${outcome.videoId}.mp4` });
    const mp4 = decryptLikeTheOriginal(
      await h.batchKey(outcome.batchId, 'hosp-a'),
      await h.swift.getObjectBytes(video!.container!, video!.objectName!),
    );
    expect(mp4.toString('latin1', 4, 8)).toBe('ftyp');
    expect(mp4.includes('TEST^ECHO')).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'sealed-mp4-'));
    try {
      writeFileSync(join(dir, 'v.mp4'), mp4);
      const probe = execFileSync('ffprobe', [
        '-v',
        'error',
        '-count_frames',
        '-show_entries',
        'stream=codec_name,nb_read_frames',
        '-of',
        'csv=p=0',
        join(dir, 'v.mp4'),
      ])
        .toString()
        .trim();
      expect(probe).toBe('h264,6');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Orthanc re-sends whole studies: same key, same bytes, same ETag → the intake sees a duplicate
    const boundary = orthancBoundary();
    expect((await stow(orthancStowBody(boundary, [loop]), undefined, undefined, boundary)).status).toBe(200);
    expect(await eTagOf(key)).toBe(eTag);
    expect(await ingestS3Event(h.event(key, loop.length, eTag), h.deps)).toMatchObject({ sealed: 0, duplicates: 1 });
    expect(h.logLines.join('\n')).not.toMatch(/TEST\^ECHO|ECHO001|1\.2\.276\.0\.7230010/);
  });

  it.each([
    [
      'an unsupported transfer syntax',
      'dicom_unsupported_transfer_syntax',
      () =>
        patchAscii(
          buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2101' }),
          '1.2.840.10008.1.2.1\0',
          '1.2.840.10008.1.2.5\0',
        ),
    ],
    [
      'DICOM without pixel data',
      'dicom_no_pixel_data',
      () => buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2102' }, { pixels: false }),
    ],
    ['DICM at 128 and garbage after', 'bad_dicom', () => Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(400, 0xff)])],
    [
      'an uncompressed loop cut at 80 %',
      'truncated_dicom',
      () => {
        const whole = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2103' }, { width: 64, height: 48, frames: 10 });
        return whole.subarray(0, Math.floor(whole.length * 0.8));
      },
    ],
  ])(
    'DICOM that reaches the bucket without the hook (a presigned upload) is rejected by the intake: %s → %s, kept and tagged',
    async (_label, reason, body) => {
      const key = `hosp-a/dicom/direct-${reason}.dcm`;
      const file = body();
      const eTag = await h.put(key, file);
      const summary = await ingestS3Event(h.event(key, file.length, eTag), h.deps);
      expect(summary.outcomes[0]).toMatchObject({ status: 'rejected', reason });
      expect(await h.tags(key)).toEqual({ 'radiomics-status': 'rejected', 'radiomics-reason': reason });
    },
  );

  it('streams a chunked body with parts that carry no Content-Length', async () => {
    const boundary = orthancBoundary();
    const instance = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2002' });
    const body = Buffer.concat([partHead(boundary, undefined, true), instance, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const chunks = async function* () {
      for (let i = 0; i < body.length; i += 100) yield body.subarray(i, i + 100);
    };
    const { status } = await stow(chunks(), undefined, undefined, boundary);
    expect(status).toBe(200);
    expect((await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.2002.dcm'))?.equals(instance)).toBe(true);
  });

  it('202 when some parts fail: FailedSOPSequence names them with a FailureReason, the rest are stored', async () => {
    const boundary = orthancBoundary();
    const good = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2003' });
    const bigEndian = buildUncompressedLoop(
      { SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2004' },
      { transferSyntax: '1.2.840.10008.1.2.1' },
    );
    const unsupported = patchAscii(bigEndian, '1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.5\0');
    const { status, json } = await stow(orthancStowBody(boundary, [good, unsupported]), undefined, undefined, boundary);
    expect(status).toBe(202);
    expect(json['00081198'].Value).toEqual([
      {
        '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.3.1'] },
        '00081155': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.2004'] },
        '00081197': { vr: 'US', Value: [0xc122] },
      },
    ]);
    expect(json['00081199'].Value).toHaveLength(1);
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.2004.dcm')).toBeUndefined();
  });

  it('409 when no part is stored (not DICOM; DICOM without pixel data), and nothing is written', async () => {
    const boundary = orthancBoundary();
    const noPixels = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2005' }, { pixels: false });
    const { status, json } = await stow(
      orthancStowBody(boundary, [Buffer.from('%PDF-1.7\n'.repeat(30)), noPixels]),
      undefined,
      undefined,
      boundary,
    );
    expect(status).toBe(409);
    expect(json['00081198'].Value.map((item: Record<string, { Value: number[] }>) => item['00081197'].Value[0])).toEqual([0xc000, 0xa900]);
    expect(json['00081199']).toEqual({ vr: 'SQ' });
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.2005.dcm')).toBeUndefined();
  });

  it('400 for zero parts (the body Orthanc sends on a resubmit)', async () => {
    const boundary = orthancBoundary();
    const { status, json } = await stow(Buffer.from(`--${boundary}--`), undefined, undefined, boundary);
    expect(status).toBe(400);
    expect(json).toEqual({ HttpStatus: 400, Reason: 'zero_parts', Message: 'the multipart body holds no instance' });
  });

  it('415 for a wrong media type', async () => {
    const { status, json } = await stow(small, undefined, 'application/dicom');
    expect(status).toBe(415);
    expect(json.Reason).toBe('unsupported_media_type');
  });

  it('413 for a request declaring more than the cap, before its body is read', async () => {
    const boundary = orthancBoundary();
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(`${hook.url}/dicomweb/studies`, {
          method: 'POST',
          headers: {
            'content-type': stowContentType(boundary),
            'content-length': String(2 * 1024 ** 3),
            authorization: basic('stowuser', 'stowpass'),
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.write(partHead(boundary, 2 * 1024 ** 3 - 200, true));
      });
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).Reason).toBe('too_large');
  });

  it('413 for a chunked request whose part declares 2 GB, with nothing written', async () => {
    const boundary = orthancBoundary();
    const head = partHead(boundary, 2 * 1024 ** 3, true);
    const body = async function* () {
      yield head;
      yield small;
    };
    const { status, json } = await stow(body(), undefined, undefined, boundary);
    expect(status).toBe(413);
    expect(json['00081198'].Value[0]['00081197'].Value).toEqual([0xa700]);
  });

  it('a body truncated inside an instance is 400 and that instance is not half-written', async () => {
    const boundary = orthancBoundary();
    const instance = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.2006' }, { width: 64, height: 64, frames: 4 });
    const full = orthancStowBody(boundary, [instance]);
    const { status, json } = await stow(full.subarray(0, full.length - 5000), undefined, undefined, boundary);
    expect(status).toBe(400);
    expect(json.Reason).toBe('truncated_body');
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.2006.dcm')).toBeUndefined();
  });
});

describe('POST /instances (Orthanc peers and Lua HttpPost)', () => {
  const post = async (body: Buffer, auth?: string, path = '/orthanc-peer/instances') => {
    const response = await fetch(`${hook.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(auth ? { authorization: auth } : {}),
        'x-hook-token': 'peer-header-token',
      },
      body: body as unknown as BodyInit,
    });
    return { status: response.status, json: await response.json() };
  };

  it('stores a raw DICOM body whatever its Content-Type, answering like Orthanc', async () => {
    const instance = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3001' });
    const { status, json } = await post(instance, basic('peeruser', 'peerpass'));
    expect(status).toBe(200);
    expect(Object.keys(json).sort()).toEqual(['ID', 'ParentPatient', 'ParentSeries', 'ParentStudy', 'Path', 'Status']);
    expect(json.Status).toBe('Success');
    expect(json.ID).toMatch(/^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/);
    expect(json.Path).toBe(`/instances/${json.ID}`);
    expect((await object('hosp-c/dicom/1.2.826.0.1.3680043.8.498.3001.dcm'))?.equals(instance)).toBe(true);
  });

  it.each([
    ['not DICOM', () => Buffer.from('<html>not dicom</html>'.repeat(10)), 400, 'not_dicom', undefined],
    [
      'DICOM without pixel data',
      () => buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3002' }, { pixels: false }),
      400,
      'dicom_no_pixel_data',
      '1.2.826.0.1.3680043.8.498.3002',
    ],
    [
      'an unsupported transfer syntax',
      () =>
        patchAscii(
          buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3003' }),
          '1.2.840.10008.1.2.1\0',
          '1.2.840.10008.1.2.2\0',
        ),
      400,
      'dicom_unsupported_transfer_syntax',
      '1.2.826.0.1.3680043.8.498.3003',
    ],
    [
      'an oversize instance',
      () => buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3004' }, { width: 1024, height: 1024, frames: 9 }),
      413,
      'too_large',
      '1.2.826.0.1.3680043.8.498.3004',
    ],
  ])('%s → %i %s, nothing written', async (_label, body, status, reason, uid) => {
    const answer = await post(body(), basic('peeruser', 'peerpass'));
    expect([answer.status, answer.json.Reason]).toEqual([status, reason]);
    if (uid) expect(await object(`hosp-c/dicom/${uid}.dcm`)).toBeUndefined();
  });

  it('a failed re-send of a stored instance (truncated, or without pixel data) leaves the stored one intact', async () => {
    const instance = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3005' });
    expect((await post(instance, basic('peeruser', 'peerpass'))).status).toBe(200);
    const cut = instance.subarray(0, instance.length - 100); // ends inside PixelData
    const cutAnswer = await post(cut, basic('peeruser', 'peerpass'));
    expect([cutAnswer.status, cutAnswer.json.Reason]).toEqual([400, 'truncated_dicom']);
    const noPixels = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3005' }, { pixels: false });
    expect((await post(noPixels, basic('peeruser', 'peerpass'))).json.Reason).toBe('dicom_no_pixel_data');
    expect((await object('hosp-c/dicom/1.2.826.0.1.3680043.8.498.3005.dcm'))?.equals(instance)).toBe(true);
  });

  it('a big instance that fails at its very end (multipart path) leaves nothing behind', async () => {
    const big = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.3006' }, { width: 1024, height: 1024, frames: 7 });
    const cut = big.subarray(0, big.length - 10);
    const answer = await post(cut, basic('peeruser', 'peerpass'));
    expect([answer.status, answer.json.Reason]).toEqual([400, 'truncated_dicom']);
    expect(await object('hosp-c/dicom/1.2.826.0.1.3680043.8.498.3006.dcm')).toBeUndefined();
    expect((await post(big, basic('peeruser', 'peerpass'))).status).toBe(200);
    expect((await object('hosp-c/dicom/1.2.826.0.1.3680043.8.498.3006.dcm'))?.equals(big)).toBe(true);
  });
});

describe('credentials: the tenant comes from the credential', () => {
  const raw = (auth?: string) =>
    fetch(`${hook.url}/instances`, {
      method: 'POST',
      headers: auth ? { authorization: auth } : {},
      body: small as unknown as BodyInit,
    }).then(async (r) => ({ status: r.status, auth: r.headers.get('www-authenticate'), json: await r.json() }));

  it.each([
    ['missing', undefined, 'missing_credentials'],
    ['a wrong password', basic('stowuser', 'nope'), 'bad_credentials'],
    ['an unknown user', basic('mallory', 'stowpass'), 'bad_credentials'],
    ['an unknown static token', 'Bearer test-token-999', 'bad_credentials'],
    ['a JWT signed with another secret', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJob3NwLXoifQ.c2lnbmF0dXJl', 'bad_credentials'],
    ['another scheme', 'Digest username="x"', 'unsupported_scheme'],
  ])('%s credentials → 401 %s, nothing read', async (_label, auth, code) => {
    const answer = await raw(auth);
    expect([answer.status, answer.json.Reason]).toEqual([401, code]);
    expect(answer.auth).toBe('Basic realm="pacs-hook", Bearer');
  });

  it('both the old and the new password of a rotation are accepted, for the same tenant; removing one revokes it', async () => {
    expect((await raw(basic('stowuser', 'old-password'))).status).toBe(200);
    expect((await raw(basic('stowuser', 'stowpass'))).status).toBe(200);
    const before = credentials;
    credentials = { ...before, basic: before.basic.slice(1) };
    try {
      expect((await raw(basic('stowuser', 'old-password'))).status).toBe(401);
    } finally {
      credentials = before;
    }
  });

  it('a static bearer token and a JWT each store under their own tenant', async () => {
    const jwt = await new SignJWT({ tenant: 'hosp-jwt' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://login.test/')
      .setAudience('pacs-hook')
      .setExpirationTime('5m')
      .sign(JWT_SECRET);
    expect((await raw(`Bearer ${jwt}`)).status).toBe(200);
    expect((await raw('Bearer test-token-123')).status).toBe(200);
    expect((await object(`hosp-jwt/dicom/${SMALL_UID}.dcm`))?.equals(small)).toBe(true);
    expect((await object(`hosp-b/dicom/${SMALL_UID}.dcm`))?.equals(small)).toBe(true);
  });

  it('no secret or token reaches the log', () => {
    expect(hookLog.join('\n')).not.toMatch(/stowpass|old-password|test-token-123|peerpass|eyJ/);
  });
});

describe('POST /uploads (presigned, for files above the Lambda payload limit)', () => {
  const ask = (body: unknown, auth = basic('stowuser', 'stowpass')) =>
    fetch(`${hook.url}/uploads`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it("answers a presigned PUT under the credential's tenant; the file PUT there lands keyed by SOPInstanceUID", async () => {
    const file = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.4001' });
    const { status, json } = await ask({
      studyUid: '1.2.826.0.1.3680043.8.498.1',
      sopUid: '1.2.826.0.1.3680043.8.498.4001',
      size: file.length,
      sha256: sha256(file),
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ method: 'PUT', key: 'hosp-a/dicom/1.2.826.0.1.3680043.8.498.4001.dcm', expiresInSecs: 300 });
    const put = await fetch(json.url, { method: 'PUT', headers: json.headers, body: file as unknown as BodyInit });
    expect(put.status).toBe(200);
    expect((await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.4001.dcm'))?.equals(file)).toBe(true);
    // the ticket's check (what the Lua recipe reads back, since Orthanc's HttpPut cannot report an HTTP error)
    const check = await fetch(json.check.url, { headers: json.check.headers });
    expect([json.check.method, check.status, await check.text()]).toEqual(['GET', 206, 'DICM']);
  });

  it("another tenant's prefix: a body naming a tenant or a key is refused (the key comes from the credential)", async () => {
    const file = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.4002' });
    const request = {
      studyUid: '1.2.826.0.1.3680043.8.498.1',
      sopUid: '1.2.826.0.1.3680043.8.498.4002',
      size: file.length,
      sha256: sha256(file),
    };
    for (const extra of [{ tenant: 'hosp-b' }, { key: 'hosp-b/dicom/x.dcm' }]) {
      const { status, json } = await ask({ ...request, ...extra });
      expect([status, json.Reason]).toEqual([400, 'unexpected_field']);
    }
  });

  it("a presigned URL edited to another tenant's prefix is refused by a signature-checking S3 (Swift s3api)", async () => {
    // s3rver does not check presigned signatures; Swift's s3api middleware does, like AWS
    const services = loadServices();
    const s3 = createS3Client({
      region: 'us-east-1',
      endpoint: services.swift.s3Endpoint,
      credentials: { accessKeyId: services.swift.s3AccessKey, secretAccessKey: services.swift.s3SecretKey },
    });
    const bucket = `pacs-presign-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const presigner = new S3UploadPresigner(s3, bucket, {
        expiresInSecs: 300,
        multipartAboveBytes: 1024 * 1024,
        multipartPartBytes: 5 * 1024 * 1024,
      });
      const file = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.4002' });
      const ticket = await presigner.presign('hosp-a', {
        studyUid: '1.2.3',
        sopUid: '1.2.826.0.1.3680043.8.498.4002',
        size: file.length,
        sha256: createHash('sha256').update(file).digest('hex'),
      });
      if (ticket.method !== 'PUT') throw new Error('expected a PUT ticket');
      const forged = ticket.url.replace('/hosp-a/', '/hosp-b/');
      expect((await fetch(forged, { method: 'PUT', headers: ticket.headers, body: file as unknown as BodyInit })).status).toBe(403);
      expect((await fetch(ticket.url, { method: 'PUT', headers: ticket.headers, body: file as unknown as BodyInit })).status).toBe(200);
      // with md5 (the Orthanc Lua recipe's digest), a changed byte is refused too (Content-MD5 is checked)
      const md5Ticket = await presigner.presign('hosp-a', {
        studyUid: '1.2.3',
        sopUid: '1.2.826.0.1.3680043.8.498.4002',
        size: file.length,
        md5: createHash('md5').update(file).digest('hex'),
      });
      if (md5Ticket.method !== 'PUT') throw new Error('expected a PUT ticket');
      const tampered = Buffer.from(file);
      tampered[tampered.length - 1] ^= 1;
      expect(
        (await fetch(md5Ticket.url, { method: 'PUT', headers: md5Ticket.headers, body: tampered as unknown as BodyInit })).status,
      ).toBe(400);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['hosp-a/dicom/1.2.826.0.1.3680043.8.498.4002.dcm']);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'hosp-a/dicom/1.2.826.0.1.3680043.8.498.4002.dcm' }));
    } finally {
      await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      s3.destroy();
    }
  });

  it('bad requests are 400 and sizes over the cap 413', async () => {
    expect((await ask({ studyUid: 'x', sopUid: '1.2', size: 1, sha256: '0'.repeat(64) })).status).toBe(400);
    expect((await ask({ studyUid: '1.2', sopUid: '1.2', size: 1 })).json.Reason).toBe('bad_upload_request');
    expect((await ask({ studyUid: '1.2', sopUid: '1.2', size: 1, sha256: '0'.repeat(64), md5: '0'.repeat(32) })).json.Reason).toBe(
      'bad_upload_request',
    );
    expect((await ask({ studyUid: '1.2', sopUid: '1.2', size: '131730.0', md5: '0'.repeat(32) })).status).toBe(200); // Orthanc Lua's DumpJson
    expect((await ask({ studyUid: '1.2', sopUid: '1.2', size: 2 * 1024 ** 3, sha256: '0'.repeat(64) })).status).toBe(413);
  });

  it('above the multipart threshold: presigned parts, complete, and the object lands whole', async () => {
    const file = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.4003' }, { width: 1024, height: 1024, frames: 11 });
    const { status, json } = await ask({
      studyUid: '1.2.826.0.1.3680043.8.498.1',
      sopUid: '1.2.826.0.1.3680043.8.498.4003',
      size: file.length,
      sha256: sha256(file),
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ method: 'MULTIPART', key: 'hosp-a/dicom/1.2.826.0.1.3680043.8.498.4003.dcm', partBytes: 5 * 1024 * 1024 });
    expect(json.parts).toHaveLength(Math.ceil(file.length / (5 * 1024 * 1024)));
    const etags: string[] = [];
    for (const part of json.parts as { partNumber: number; url: string }[]) {
      const slice = file.subarray((part.partNumber - 1) * json.partBytes, part.partNumber * json.partBytes);
      const put = await fetch(part.url, { method: 'PUT', body: slice as unknown as BodyInit });
      expect(put.status).toBe(200);
      etags.push(put.headers.get('etag')!);
    }
    const xml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const complete = await fetch(json.complete.url, { method: 'POST', body: xml });
    expect(complete.status).toBe(200);
    expect((await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.4003.dcm'))?.equals(file)).toBe(true);
  });
});
