/**
 * The hook's JWTs, configured only through its environment (lib/pacs/config.ts → lib/pacs/wiring.ts) and served by
 * the streaming server over s3rver: writing needs the hook's own audience and scope, so a status (read) token is
 * refused on every route and writes nothing; a JWKS outage answers 503 with Retry-After and is logged.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SignJWT } from 'jose';
import { createS3Client } from '#lib/s3/bucket.js';
import { createLogger } from '#lib/log.js';
import { parsePacsHookConfig } from '#lib/pacs/config.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';
import { startLocalS3, type LocalS3 } from '#local/s3-local.js';
import { startPacsHookServer, type PacsHookServer } from '#containers/pacs-hook/server.js';
import { lambdaContext } from '#local/lambda-local.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildUncompressedLoop } from '#local/dicom-fixtures.js';
import { startFailingJwks, type FailingJwks } from '#test/support/jwks-outage.js';

const ISSUER = 'https://login.radiomics.test/';
const SECRET = 'pacs-scope-test-hs256-secret-of-at-least-32-bytes';
const UID = '1.2.826.0.1.3680043.8.498.7001';
const instance = buildUncompressedLoop({ SOPInstanceUID: UID });

let s3: LocalS3;
let secrets: string;
let jwksDown: FailingJwks;
const servers: PacsHookServer[] = [];

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['intake'] });
  jwksDown = await startFailingJwks();
  secrets = mkdtempSync(join(tmpdir(), 'pacs-scopes-'));
  writeFileSync(join(secrets, 'pacs-credentials.json'), JSON.stringify({ basic: [], bearer: [] }));
  writeFileSync(join(secrets, 'hs256'), SECRET);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await jwksDown.close();
  await s3.close();
  rmSync(secrets, { recursive: true, force: true });
});

async function hookFromEnv(auth: Record<string, string>) {
  const lines: string[] = [];
  const config = parsePacsHookConfig({
    INTAKE_BUCKET: 'intake',
    PACS_RETRIEVE_BASE: 'https://hook.test/dicomweb',
    PACS_CREDENTIALS_FILE: join(secrets, 'pacs-credentials.json'),
    AWS_REGION: 'eu-west-1',
    S3_ENDPOINT: s3.endpoint,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: 'radiomics-status',
    ...auth,
  });
  const deps = await buildPacsHookDeps(config, {
    s3Credentials: s3.credentials,
    log: createLogger({ function: 'pacs-hook' }, { sink: (line) => lines.push(line) }),
  });
  const server = await startPacsHookServer(deps);
  servers.push(server);
  return { server, lines };
}

const token = (claims: Record<string, unknown>, audience: string) =>
  new SignJWT({ tenant: 'hosp-a', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(Buffer.from(SECRET));

async function everyRoute(base: string, authorization: string) {
  const post = async (path: string, body: Buffer | string, contentType: string) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': contentType },
      body: body as BodyInit,
    });
    return [path, res.status, res.headers.get('retry-after'), await res.text()] as const;
  };
  const boundary = 'scope-test-boundary';
  const stowBody = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    instance,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return [
    await post('/dicomweb/studies', stowBody, `multipart/related; type="application/dicom"; boundary=${boundary}`),
    await post('/instances', instance, 'application/dicom'),
    await post(
      '/uploads',
      JSON.stringify({ studyUid: '1.2.3', sopUid: '1.2.3.4', size: 1000, sha256: 'a'.repeat(64) }),
      'application/json',
    ),
  ];
}

async function storedKeys(): Promise<string[]> {
  const client = createS3Client({ region: 'eu-west-1', endpoint: s3.endpoint, credentials: s3.credentials });
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'intake' }));
  client.destroy();
  return (listed.Contents ?? []).map((object) => object.Key!);
}

describe('pacs-hook: JWT scopes', () => {
  it('a status read token (aud radiomics-status, scope status:read) gets 401 on every hook route and writes nothing', async () => {
    const { server } = await hookFromEnv({ AUTH_HS256_SECRET_FILE: join(secrets, 'hs256') });
    const readToken = await token({ scope: 'status:read' }, 'radiomics-status');
    const readTokenForHookAudience = await token({ scope: 'status:read' }, 'radiomics-pacs');
    for (const bearer of [readToken, readTokenForHookAudience]) {
      const answers = await everyRoute(server.url, `Bearer ${bearer}`);
      expect(answers.map(([path, status]) => [path, status])).toEqual([
        ['/dicomweb/studies', 401],
        ['/instances', 401],
        ['/uploads', 401],
      ]);
    }
    expect(await storedKeys()).toEqual([]);
  });

  it('a write token (aud radiomics-pacs, scope pacs:write) stores under its tenant', async () => {
    const { server } = await hookFromEnv({ AUTH_HS256_SECRET_FILE: join(secrets, 'hs256') });
    const res = await fetch(`${server.url}/instances`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token({ scope: 'pacs:write' }, 'radiomics-pacs')}` },
      body: instance as BodyInit,
    });
    expect(res.status).toBe(200);
    expect(await storedKeys()).toEqual([`hosp-a/dicom/${UID}.dcm`]);
  });

  it("refuses to start when the hook would accept the status API's audience", () => {
    expect(() =>
      parsePacsHookConfig({
        INTAKE_BUCKET: 'intake',
        PACS_RETRIEVE_BASE: 'https://hook.test/dicomweb',
        PACS_CREDENTIALS_FILE: '/x',
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: 'radiomics-status',
        PACS_AUTH_AUDIENCE: 'radiomics-status',
        AUTH_JWKS_URL: 'https://login.test/jwks',
      }),
    ).toThrow("invalid configuration: PACS_AUTH_AUDIENCE must differ from AUTH_AUDIENCE (the status API's read tokens)");
  });
});

describe('pacs-hook: JWKS outage', () => {
  it('answers 503 with Retry-After on every route, not 401, and logs it', async () => {
    jwksDown.fail('status-503');
    const { server, lines } = await hookFromEnv({ AUTH_JWKS_URL: jwksDown.url });
    const { generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('RS256');
    const bearer = await new SignJWT({ tenant: 'hosp-a', scope: 'pacs:write' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('radiomics-pacs')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const answers = await everyRoute(server.url, `Bearer ${bearer}`);
    const unavailable = JSON.stringify({ HttpStatus: 503, Reason: 'unavailable', Message: 'try again later' });
    expect(answers).toEqual([
      ['/dicomweb/studies', 503, '5', unavailable],
      ['/instances', 503, '5', unavailable],
      ['/uploads', 503, '5', unavailable],
    ]);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.map(({ level, message, error_name, error_message }) => ({ level, message, error_name, error_message }))).toEqual(
      Array(3).fill({
        level: 'error',
        message: 'pacs hook failed',
        error_name: 'RetryableError',
        error_message: 'the signing keys for JWTs are unavailable',
      }),
    );
    expect(lines.join('\n')).not.toContain(bearer);
  });
});

describe('functions/pacs-hook.handler (Lambda), configured from its environment', () => {
  it('answers 503 with Retry-After while the JWKS is down, not 401', async () => {
    jwksDown.fail('status-500');
    const savedEnv = { ...process.env };
    try {
      Object.assign(process.env, {
        INTAKE_BUCKET: 'intake',
        PACS_RETRIEVE_BASE: 'https://hook.test/dicomweb',
        PACS_CREDENTIALS_FILE: join(secrets, 'pacs-credentials.json'),
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        S3_ENDPOINT: s3.endpoint,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: 'radiomics-status',
        AUTH_JWKS_URL: jwksDown.url,
      });
      const { handler } = (await import('#functions/pacs-hook.js')) as unknown as {
        handler: (event: APIGatewayProxyEventV2, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;
      };
      const { generateKeyPair } = await import('jose');
      const { privateKey } = await generateKeyPair('RS256');
      const rs = (claims: Record<string, unknown>, audience: string) =>
        new SignJWT({ tenant: 'hosp-a', ...claims })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuer(ISSUER)
          .setAudience(audience)
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
      const invoke = async (bearer: string) =>
        handler(
          {
            rawPath: '/instances',
            body: instance.toString('base64'),
            isBase64Encoded: true,
            headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/dicom' },
            requestContext: { http: { method: 'POST', sourceIp: '203.0.113.7' } },
          } as unknown as APIGatewayProxyEventV2,
          lambdaContext('pacs-hook', 29_000),
        );
      const outage = await invoke(await rs({ scope: 'pacs:write' }, 'radiomics-pacs'));
      expect([outage.statusCode, outage.headers?.['retry-after'], outage.body]).toEqual([
        503,
        '5',
        JSON.stringify({ HttpStatus: 503, Reason: 'unavailable', Message: 'try again later' }),
      ]);
    } finally {
      process.env = savedEnv;
    }
  });
});
