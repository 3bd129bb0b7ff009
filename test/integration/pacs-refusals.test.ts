/**
 * A hospital sees why the PACS hook refused an instance: the hook records each refusal in the table (dynalite),
 * and the status API's GET /pacs/refusals lists the tenant's own, newest first, with the tenant's token.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { SignJWT } from 'jose';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { startLocalS3, type LocalS3 } from '#local/s3-local.js';
import { startPacsHookServer, type PacsHookServer } from '#containers/pacs-hook/server.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { credentialAuthenticator, hashCredential } from '#lib/pacs/auth.js';
import { S3DicomObjects, S3UploadPresigner } from '#lib/pacs/objects.js';
import { DynamoRefusalLog } from '#lib/store/refusals.js';
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { routeRequest, type ApiDeps } from '#lib/status/api/router.js';
import { createLogger } from '#lib/log.js';
import { buildUncompressedLoop, patchAscii } from '#local/dicom-fixtures.js';
import { orthancBoundary, orthancStowBody, stowContentType } from '#test/support/stow.js';
import { assertContract } from '#test/support/contract.js';

const SECRET = Buffer.from('status-api-test-secret-of-32-bytes-or-more', 'utf8');
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let dynamo: LocalDynamo;
let s3Server: LocalS3;
let s3: ReturnType<typeof createS3Client>;
let hook: PacsHookServer;
let api: ApiDeps;

beforeAll(async () => {
  dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  s3Server = await startLocalS3({ buckets: ['radiomics-intake'] });
  s3 = createS3Client({ region: 'eu-west-1', endpoint: s3Server.endpoint, credentials: s3Server.credentials });
  const credentials = {
    basic: [
      { tenant: 'hosp-a', user: 'usera', hash: await hashCredential('basic', 'passa') },
      { tenant: 'hosp-b', user: 'userb', hash: await hashCredential('basic', 'passb') },
    ],
    bearer: [],
  };
  const refusals = new DynamoRefusalLog(dynamo.doc, 'radiomics', { keepDays: 30 });
  const log = createLogger({ function: 'test' }, { level: 'error', sink: () => undefined });
  hook = await startPacsHookServer({
    auth: credentialAuthenticator({ load: async () => credentials }),
    objects: new S3DicomObjects(s3, 'radiomics-intake'),
    presigner: new S3UploadPresigner(s3, 'radiomics-intake', {
      expiresInSecs: 300,
      multipartAboveBytes: 1024 ** 3,
      multipartPartBytes: 64 * 1024 * 1024,
    }),
    limits: { maxInstanceBytes: 8 * 1024 * 1024, maxRequestBytes: 64 * 1024 * 1024, maxUploadBytes: 1024 ** 3 },
    retrieveBase: 'https://hook.test/dicomweb',
    log,
    refusals,
  });
  api = {
    verifier: createJwtVerifier({
      keys: { kind: 'secret', secret: SECRET },
      issuer: 'https://login.test/',
      audience: 'radiomics-status',
      tenantClaim: 'tenant',
    }),
    store: undefined as never, // not read by this route
    swift: undefined as never,
    results: { tempUrlKey: 'unused', ttlSecs: 60, maxLinks: 1 },
    pageRefreshSecs: 30,
    log,
    refusals,
  };
}, 60_000);

afterAll(async () => {
  await hook?.close();
  s3?.destroy();
  await s3Server?.close();
  await dynamo?.close();
});

const token = (tenant: string) =>
  new SignJWT({ tenant, scope: 'status:read' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://login.test/')
    .setAudience('radiomics-status')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(SECRET);

async function listRefusals(tenant: string, query?: Record<string, string>) {
  const event = {
    rawPath: '/pacs/refusals',
    requestContext: { http: { method: 'GET', path: '/pacs/refusals' } },
    headers: { authorization: `Bearer ${await token(tenant)}` },
    queryStringParameters: query,
  } as unknown as APIGatewayProxyEventV2;
  const answer = await routeRequest(event, api);
  return { status: answer.statusCode, body: JSON.parse(answer.body as string) };
}

describe('GET /pacs/refusals', () => {
  it("lists the tenant's refusals newest first (time, route, SOPInstanceUID, reason code and text), never another tenant's", async () => {
    const rle = patchAscii(
      buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.8001' }),
      '1.2.840.10008.1.2.1\0',
      '1.2.840.10008.1.2.5\0',
    );
    const peer = await fetch(`${hook.url}/instances`, {
      method: 'POST',
      headers: { authorization: basic('usera', 'passa') },
      body: rle as unknown as BodyInit,
    });
    expect(peer.status).toBe(400);
    const boundary = orthancBoundary();
    const other = buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.8002' });
    const stow = await fetch(`${hook.url}/dicomweb/studies/9.9.9`, {
      method: 'POST',
      headers: { authorization: basic('usera', 'passa'), 'content-type': stowContentType(boundary) },
      body: orthancStowBody(boundary, [other]) as unknown as BodyInit,
    });
    expect(stow.status).toBe(409);
    const b = await fetch(`${hook.url}/instances`, {
      method: 'POST',
      headers: { authorization: basic('userb', 'passb') },
      body: Buffer.from('not dicom'.repeat(20)) as unknown as BodyInit,
    });
    expect(b.status).toBe(400);

    const { status, body } = await listRefusals('hosp-a');
    expect(status).toBe(200);
    assertContract('/pacs/refusals', 200, body);
    expect(
      body.refusals.map(({ at, ...rest }: { at: string }) => {
        expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        return rest;
      }),
    ).toEqual([
      {
        route: 'stow',
        sop_instance_uid: '1.2.826.0.1.3680043.8.498.8002',
        reason: 'study_mismatch',
        text: 'the instance belongs to another study than the STOW-RS path names',
        status: 409,
      },
      {
        route: 'instances',
        sop_instance_uid: '1.2.826.0.1.3680043.8.498.8001',
        reason: 'dicom_unsupported_transfer_syntax',
        text: 'only JPEG Baseline and uncompressed little endian are accepted',
        status: 400,
      },
    ]);
    expect(
      (await listRefusals('hosp-b')).body.refusals.map((r: { reason: string; sop_instance_uid: string | null }) => [
        r.reason,
        r.sop_instance_uid,
      ]),
    ).toEqual([['not_dicom', null]]);
    expect((await listRefusals('hosp-c')).body).toEqual({ refusals: [] });
    expect((await listRefusals('hosp-a', { limit: '1' })).body.refusals).toHaveLength(1);
  });

  it('without a token: 401, and nothing listed', async () => {
    const event = {
      rawPath: '/pacs/refusals',
      requestContext: { http: { method: 'GET', path: '/pacs/refusals' } },
      headers: {},
    } as unknown as APIGatewayProxyEventV2;
    expect((await routeRequest(event, api)).statusCode).toBe(401);
  });
});
