/**
 * One measured run for bench/intake.ts, in its own process so that its peak RSS is its own:
 *   plain:  S3 GET → Swift PUT of the same bytes, unencrypted (the baseline)
 *   sealed: the intake's full path for one S3 record (check, seal, SLO upload, table writes)
 * Prints one JSON line {seconds, peak_rss_mb}.
 */
import { randomBytes } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, S3IntakeObjects } from '#lib/s3/bucket.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { JweKeyWrapper } from '#lib/keys.js';
import { videoIdDeriver } from '#lib/intake/video-id.js';
import { createLogger } from '#lib/log.js';
import { ingestObject } from '#lib/intake/ingest.js';
import type { LocalServices } from '#local/service-endpoints.js';

interface Args {
  mode: 'plain' | 'sealed';
  services: LocalServices;
  s3Endpoint: string;
  dynamoEndpoint: string;
  bucket: string;
  key: string;
  bytes: number;
  container: string;
  masterKeyB64: string;
}

const args = JSON.parse(process.argv[2]) as Args;
const s3 = createS3Client({ region: 'eu-west-1', endpoint: args.s3Endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
const swift = new SwiftClient({ auth: new TempAuth({ authUrl: args.services.swift.authUrl, user: args.services.swift.user, key: args.services.swift.key }) });
await swift.storageUrl();

// Each sealed run ingests its own copy (untimed), so that its video id is new and the intake's pinned read holds.
const runKey = `${args.key}.${randomBytes(4).toString('hex')}`;
const runETag =
  args.mode === 'plain'
    ? ''
    : ((await s3.send(new CopyObjectCommand({ Bucket: args.bucket, Key: runKey, CopySource: `${args.bucket}/${args.key}` }))).CopyObjectResult?.ETag ?? '').replace(/"/g, '');
const started = process.hrtime.bigint();
if (args.mode === 'plain') {
  await swift.createContainer(args.container);
  const object = await s3.send(new GetObjectCommand({ Bucket: args.bucket, Key: args.key }));
  await swift.putObject(args.container, `plain-${randomBytes(4).toString('hex')}`, object.Body as NodeJS.ReadableStream as never, { contentLength: args.bytes });
} else {
  const masterKey = Buffer.from(args.masterKeyB64, 'base64');
  const outcome = await ingestObject(
    { bucket: args.bucket, key: runKey, size: args.bytes, eventName: 'ObjectCreated:Put', eTag: runETag },
    {
      objects: new S3IntakeObjects(s3),
      store: new DynamoIntakeStore(
        DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: args.dynamoEndpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), { marshallOptions: { removeUndefinedValues: true } }),
        'radiomics',
      ),
      swift,
      keys: new JweKeyWrapper(masterKey),
      videoId: videoIdDeriver(masterKey),
      limits: { maxVideoBytes: 5 * 1024 ** 3, batchMaxItems: 1000, batchMaxBytes: 100 * 1024 ** 3 },
      containerPrefix: `${args.container}-`,
      acceptedKinds: ['mp4'],
      log: createLogger({}, { level: 'error' }),
    },
  );
  if (outcome.status !== 'sealed') throw new Error(`bench object was not sealed: ${JSON.stringify(outcome)}`);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(JSON.stringify({ seconds, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
