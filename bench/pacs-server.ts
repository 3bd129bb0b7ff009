/**
 * The PACS hook's streaming server as its own process, for `npm run bench -- pacs` (so its RSS is measured alone).
 * Writes to the S3 endpoint in PACS_BENCH_S3 (JSON {endpoint, bucket, accessKeyId, secretAccessKey}); accepts the
 * bearer token in PACS_BENCH_TOKEN for tenant `bench`. Prints {"port": N} once listening.
 */
import { startPacsHookServer } from '#containers/pacs-hook/server.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { credentialAuthenticator, hashCredential } from '#lib/pacs/auth.js';
import { S3DicomObjects, S3UploadPresigner } from '#lib/pacs/objects.js';
import { createLogger } from '#lib/log.js';

const target = JSON.parse(process.env.PACS_BENCH_S3!) as { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
const s3 = createS3Client({
  region: 'eu-west-1',
  endpoint: target.endpoint,
  credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
});
const credentials = { basic: [], bearer: [{ tenant: 'bench', hash: await hashCredential('bearer', process.env.PACS_BENCH_TOKEN!) }] };
const hook = await startPacsHookServer({
  auth: credentialAuthenticator({ load: async () => credentials }),
  objects: new S3DicomObjects(s3, target.bucket),
  presigner: new S3UploadPresigner(s3, target.bucket, {
    expiresInSecs: 300,
    multipartAboveBytes: 100 * 1024 * 1024,
    multipartPartBytes: 64 * 1024 * 1024,
  }),
  limits: { maxInstanceBytes: 2 * 1024 ** 3, maxRequestBytes: 64 * 1024 ** 3, maxUploadBytes: 5 * 1024 ** 3 },
  retrieveBase: 'http://127.0.0.1/dicomweb',
  log: createLogger({ function: 'pacs-hook' }, { level: 'warn', sink: (line) => process.stderr.write(`${line}\n`) }),
});
process.stdout.write(`${JSON.stringify({ port: Number(new URL(hook.url).port) })}\n`);
