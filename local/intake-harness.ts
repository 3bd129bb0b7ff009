/**
 * An intake wired to real local services: dynalite (table), s3rver (intake bucket) and the real Swift
 * All-In-One (optionally behind the fault-injecting proxy). Each harness uses its own container prefix.
 * The intake's own clients (`deps`) are counted in `requests`; `s3`, `swift` and `store` are the test's, uncounted.
 */
import { randomBytes } from 'node:crypto';
import { createDecipheriv } from 'node:crypto';
import { PutObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startLocalDynamo, type LocalDynamo } from './dynamodb-local.js';
import { startLocalS3, encodeS3EventKey, type LocalS3 } from './s3-local.js';
import { createS3Client, S3IntakeObjects } from '#lib/s3/bucket.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import type { SourceNameSealer } from '#lib/source-names.js';
import { JweKeyWrapper } from '#lib/keys.js';
import { videoIdDeriver } from '#lib/intake/video-id.js';
import { createLogger } from '#lib/log.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import type { IntakeDeps } from '#lib/intake/ingest.js';
import { loadServices } from './service-endpoints.js';
import { countedDocumentClient, countedSwift, countS3Requests, newRequestCounts, type RequestCounts } from './request-counter.js';

export const BUCKET = 'radiomics-intake';

export interface IntakeHarness {
  deps: IntakeDeps;
  s3: S3Client;
  swift: SwiftClient;
  store: DynamoIntakeStore;
  dynamo: LocalDynamo;
  localS3: LocalS3;
  masterKey: Buffer;
  logLines: string[];
  /** What the intake's own clients sent so far. */
  requests: RequestCounts;
  put(key: string, body: Buffer): Promise<string>;
  event(key: string, size: number, eTag?: string): { Records: unknown[] };
  tags(key: string): Promise<Record<string, string>>;
  exists(key: string): Promise<boolean>;
  batchKey(batchId: string, tenant?: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** The original worker's rule: iv = b[0:12], tag = b[12:28], ct = b[28:]. */
export function decryptLikeTheOriginal(key: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-128-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

/**
 * `singlePutMaxBytes`: objects up to it are sealed in memory and PUT once (0: every object streams as an SLO).
 * `sourceNames`: the intake's store seals each source name onto its video row (SOURCE_NAME_KEY), as wired in the cloud.
 */
export async function startIntakeHarness(
  options: {
    swiftUrl?: string;
    maxVideoBytes?: number;
    batchMaxItems?: number;
    singlePutMaxBytes?: number;
    sourceNames?: SourceNameSealer;
  } = {},
): Promise<IntakeHarness> {
  const services = loadServices();
  const dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  const localS3 = await startLocalS3({ buckets: [BUCKET] });
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: localS3.endpoint, credentials: localS3.credentials });
  const swiftBase = options.swiftUrl ?? services.swift.proxyUrl;
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: `${swiftBase}/auth/v1.0`, user: services.swift.user, key: services.swift.key }),
    retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
  });
  const store = new DynamoIntakeStore(dynamo.doc, 'radiomics');
  const requests = newRequestCounts();
  const intakeS3 = createS3Client({ region: 'eu-west-1', endpoint: localS3.endpoint, credentials: localS3.credentials });
  countS3Requests(intakeS3, requests);
  const masterKey = randomBytes(32);
  const keys = new JweKeyWrapper(masterKey);
  const logLines: string[] = [];
  const deps: IntakeDeps = {
    objects: new S3IntakeObjects(intakeS3),
    store: new DynamoIntakeStore(countedDocumentClient(dynamo.doc, requests), 'radiomics', { sourceNames: options.sourceNames }),
    swift: countedSwift(swift, requests),
    keys,
    videoId: videoIdDeriver(masterKey),
    limits: {
      maxVideoBytes: options.maxVideoBytes ?? 64 * 1024 * 1024,
      batchMaxItems: options.batchMaxItems ?? 50,
      batchMaxBytes: 1 << 30,
      ...(options.singlePutMaxBytes === undefined ? {} : { singlePutMaxBytes: options.singlePutMaxBytes }),
    },
    containerPrefix: `t${randomBytes(4).toString('hex')}-`,
    acceptedKinds: ['mp4'],
    log: createLogger({ function: 'intake' }, { level: 'debug', sink: (line) => logLines.push(line) }),
    uploadRetryDelaysMs: [50, 100],
  };
  return {
    deps,
    s3,
    swift,
    store,
    dynamo,
    localS3,
    masterKey,
    logLines,
    requests,
    async put(key, body) {
      const answer = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      return (answer.ETag ?? '').replace(/"/g, '');
    },
    event(key, size, eTag) {
      return {
        Records: [
          {
            eventVersion: '2.1',
            eventSource: 'aws:s3',
            awsRegion: 'eu-west-1',
            eventTime: new Date().toISOString(),
            eventName: 'ObjectCreated:Put',
            s3: {
              s3SchemaVersion: '1.0',
              bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
              object: { key: encodeS3EventKey(key), size, eTag },
            },
          },
        ],
      };
    },
    async tags(key) {
      const answer = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
      return Object.fromEntries((answer.TagSet ?? []).map((tag) => [tag.Key, tag.Value]));
    },
    async exists(key) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        return true;
      } catch {
        return false;
      }
    },
    async batchKey(batchId, tenant = 'demo') {
      const batch = await store.getBatch(batchId);
      if (!batch) throw new Error(`no batch ${batchId}`);
      return keys.unwrap(batch.wrappedKey, { tenant, batchId });
    },
    async close() {
      s3.destroy();
      intakeS3.destroy();
      await localS3.close();
      await dynamo.close();
    },
  };
}
