/** The deployed entry point, functions/pacs-hook.handler, on API Gateway v2 fixtures, configured only through its environment. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startLocalS3, type LocalS3 } from '#local/s3-local.js';
import { lambdaContext } from '#local/lambda-local.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { hashCredential } from '#lib/pacs/auth.js';
import { buildUncompressedLoop } from '#local/dicom-fixtures.js';

let s3: LocalS3;
let secrets: string;
let handler: (event: APIGatewayProxyEventV2, context: ReturnType<typeof lambdaContext>) => Promise<APIGatewayProxyStructuredResultV2>;
const fixture = (name: string): APIGatewayProxyEventV2 =>
  JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'));

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['intake'] });
  secrets = mkdtempSync(join(tmpdir(), 'pacs-secrets-'));
  writeFileSync(
    join(secrets, 'pacs-credentials.json'),
    JSON.stringify({
      basic: [
        { tenant: 'hosp-a', user: 'stowuser', hash: await hashCredential('basic', 'stowpass') },
        { tenant: 'hosp-c', user: 'peeruser', hash: await hashCredential('basic', 'peerpass') },
      ],
      bearer: [{ tenant: 'hosp-lua', hash: await hashCredential('bearer', 'lua-token-456') }],
    }),
  );
  Object.assign(process.env, {
    INTAKE_BUCKET: 'intake',
    PACS_RETRIEVE_BASE: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dicomweb',
    PACS_CREDENTIALS_FILE: join(secrets, 'pacs-credentials.json'),
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_ENDPOINT: s3.endpoint,
    LOG_LEVEL: 'warn',
  });
  ({ handler } = (await import('#functions/pacs-hook.js')) as unknown as { handler: typeof handler });
});

afterAll(async () => {
  await s3.close();
  rmSync(secrets, { recursive: true, force: true });
});

const invoke = (event: APIGatewayProxyEventV2) => handler(event, lambdaContext('pacs-hook', 29_000));

describe('functions/pacs-hook.handler', () => {
  it("STOW-RS from Orthanc (base64 body) → 200 application/dicom+json, the instance in the tenant's prefix", async () => {
    const result = await invoke(fixture('http.stow-orthanc.json'));
    expect(result.statusCode).toBe(200);
    expect(result.headers).toEqual({ 'content-type': 'application/dicom+json' });
    const body = JSON.parse(result.body!);
    expect(body['00081199'].Value[0]['00081155']).toEqual({ vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.5001'] });
    expect(body['00081199'].Value[0]['00081190'].Value[0]).toBe(
      'https://abc123.execute-api.eu-west-1.amazonaws.com/dicomweb/studies/1.2.826.0.1.3680043.8.498.1/series/1.2.826.0.1.3680043.8.498.2/instances/1.2.826.0.1.3680043.8.498.5001',
    );
    const client = createS3Client({ region: 'eu-west-1', endpoint: s3.endpoint, credentials: s3.credentials });
    const stored = await client.send(new GetObjectCommand({ Bucket: 'intake', Key: 'hosp-a/dicom/1.2.826.0.1.3680043.8.498.5001.dcm' }));
    expect(
      Buffer.from(await stored.Body!.transformToByteArray()).equals(
        buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.5001' }),
      ),
    ).toBe(true);
    client.destroy();
  });

  it('an empty STOW-RS resubmit (closing delimiter only) → 400', async () => {
    const result = await invoke(fixture('http.stow-zero-parts.json'));
    expect([result.statusCode, JSON.parse(result.body!).Reason]).toEqual([400, 'zero_parts']);
  });

  it('an Orthanc peer store → 200 {"ID", "Status": "Success", "Path"} despite its form-urlencoded Content-Type', async () => {
    const result = await invoke(fixture('http.instances-peer.json'));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!)).toMatchObject({ Status: 'Success', Path: expect.stringMatching(/^\/instances\/[0-9a-f-]{44}$/) });
  });

  it("POST /uploads → a presigned PUT under the token's tenant", async () => {
    const result = await invoke(fixture('http.uploads.json'));
    expect(result.statusCode).toBe(200);
    const ticket = JSON.parse(result.body!);
    expect(ticket).toMatchObject({
      method: 'PUT',
      key: 'hosp-lua/dicom/1.2.826.0.1.3680043.8.498.5002.dcm',
      headers: { 'Content-Length': '104857600' },
    });
    expect(new URL(ticket.url).pathname).toBe('/intake/hosp-lua/dicom/1.2.826.0.1.3680043.8.498.5002.dcm');
  });

  it('no credentials → 401, with the challenge', async () => {
    const event = fixture('http.stow-orthanc.json');
    delete event.headers.authorization;
    const result = await invoke(event);
    expect(result.statusCode).toBe(401);
    expect(result.headers?.['www-authenticate']).toBe('Basic realm="pacs-hook", Bearer');
  });

  it('failed logins are counted per API Gateway source address: past PACS_AUTH_MAX_FAILURES (10) that source gets 429, others do not', async () => {
    const from = (sourceIp: string, authorization: string) => {
      const event = fixture('http.instances-peer.json');
      event.requestContext.http.sourceIp = sourceIp;
      event.headers.authorization = authorization;
      return invoke(event);
    };
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    for (let i = 0; i < 10; i++) expect((await from('198.51.100.9', basic(`guess-${i}`, 'x'))).statusCode).toBe(401);
    const blocked = await from('198.51.100.9', basic('peeruser', 'peerpass'));
    expect([blocked.statusCode, JSON.parse(blocked.body as string).Reason]).toEqual([429, 'too_many_failures']);
    const retryAfter = Number(blocked.headers?.['retry-after']); // the rest of the 900 s window (the clock is real here)
    expect(retryAfter > 0 && retryAfter <= 900).toBe(true);
    expect((await from('198.51.100.10', basic('peeruser', 'peerpass'))).statusCode).toBe(200);
  });
});
