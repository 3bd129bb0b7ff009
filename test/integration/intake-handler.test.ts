/** The deployed entry point, functions/intake.handler, configured only through its environment (as in Lambda). */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { startLocalS3, encodeS3EventKey, type LocalS3 } from '#local/s3-local.js';
import { invokeAsync } from '#local/lambda-local.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { loadServices } from '#local/service-endpoints.js';

const CLIP = readFileSync(new URL('../../../shared/samples/videos/VH020213M4_001559_20160429T120845.MP4', import.meta.url));
let dynamo: LocalDynamo;
let s3: LocalS3;
let secrets: string;

beforeAll(async () => {
  const services = loadServices();
  dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  s3 = await startLocalS3({ buckets: ['intake'] });
  secrets = mkdtempSync(join(tmpdir(), 'secrets-'));
  writeFileSync(join(secrets, 'master-key'), randomBytes(32).toString('base64'));
  writeFileSync(join(secrets, 'swift-key'), services.swift.key);
  writeFileSync(join(secrets, 'source-name-key'), randomBytes(32).toString('base64'));
  Object.assign(process.env, {
    TABLE_NAME: 'radiomics',
    INTAKE_BUCKET: 'intake',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_ENDPOINT: s3.endpoint,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    SWIFT_AUTH: 'tempauth',
    SWIFT_AUTH_URL: services.swift.authUrl,
    SWIFT_USER: services.swift.user,
    SWIFT_KEY_FILE: join(secrets, 'swift-key'),
    MASTER_KEY_FILE: join(secrets, 'master-key'),
    SOURCE_NAME_KEY_FILE: join(secrets, 'source-name-key'),
    SWIFT_CONTAINER_PREFIX: `h${randomBytes(3).toString('hex')}-`,
    LOG_LEVEL: 'warn',
  });
});

afterAll(async () => {
  await s3.close();
  await dynamo.close();
  rmSync(secrets, { recursive: true, force: true });
});

describe('functions/intake.handler', () => {
  it('seals an uploaded clip end to end from its environment alone, its name sealed under SOURCE_NAME_KEY', async () => {
    const client = createS3Client({ region: 'eu-west-1', endpoint: s3.endpoint, credentials: s3.credentials });
    const put = await client.send(new PutObjectCommand({ Bucket: 'intake', Key: 'demo/a b+c.mp4', Body: CLIP }));
    const { handler } = await import('#functions/intake.js');
    const event = JSON.parse(readFileSync(new URL('../../events/s3.object-created.json', import.meta.url), 'utf8'));
    event.Records[0].s3.bucket.name = 'intake';
    event.Records[0].s3.object.key = encodeS3EventKey('demo/a b+c.mp4');
    event.Records[0].s3.object.size = CLIP.length;
    event.Records[0].s3.object.eTag = put.ETag!.replace(/"/g, '');
    const result = await invokeAsync('intake', handler, event, { maximumRetryAttempts: 0 });
    if (!result.ok) throw result.error;
    expect(result.result).toMatchObject({ records: 1, sealed: 1, rejected: 0, malformed: 0 });
    const outcome = result.result.outcomes[0] as { videoId: string };
    const video = await new DynamoIntakeStore(dynamo.doc, 'radiomics').getVideo(outcome.videoId);
    expect(video).toMatchObject({ stage: 'sealed', tenant: 'demo', sealedBytes: CLIP.length + 28 });
    const sourceNames = sourceNameSealer(readFileSync(join(secrets, 'source-name-key'), 'utf8'));
    expect(sourceNames.open(video!.sourceName!, { tenant: 'demo', videoId: outcome.videoId })).toBe('demo/a b+c.mp4');
    client.destroy();
  });
});
