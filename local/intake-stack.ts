/**
 * The intake side of the local stack: the real local services (Swift, memcached, redis), a local DynamoDB
 * (dynalite), a local S3 (s3rver) whose ObjectCreated events are delivered to the real `intake` handler the
 * way Lambda's asynchronous invoker does (with two retries), and the secrets as files under `.local/secrets/`.
 * The handler is configured only through its environment, exactly as in the cloud.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { startServices, REPO_ROOT } from './services.js';
import { startLocalDynamo, type LocalDynamo } from './dynamodb-local.js';
import { startLocalS3, type LocalS3 } from './s3-local.js';
import { invokeAsync } from './lambda-local.js';
import type { LocalServices } from './service-endpoints.js';
import type { IntakeSummary } from '#lib/intake/event-loop.js';

export const LOCAL_TABLE = 'radiomics';
export const LOCAL_INTAKE_BUCKET = 'radiomics-intake';

export interface IntakeDelivery {
  ok: boolean;
  attempts: number;
  summary?: IntakeSummary;
  error?: string;
}

export interface IntakeStack {
  services: LocalServices;
  dynamo: LocalDynamo;
  s3: LocalS3;
  env: Record<string, string>;
  /** Settles when every delivery so far has finished (including retries). */
  idle(): Promise<void>;
  deliveries: IntakeDelivery[];
  close(): Promise<void>;
}

function secretFile(name: string, make: () => string): string {
  const dir = join(REPO_ROOT, '.local', 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600 });
  return path;
}

export async function startIntakeStack(options: { log?: (line: string) => void; swiftUrl?: string } = {}): Promise<IntakeStack> {
  const { services } = await startServices();
  const dynamo = await startLocalDynamo({ tableName: LOCAL_TABLE });
  const pending = new Set<Promise<unknown>>();
  const deliveries: IntakeDelivery[] = [];
  let handler: ((event: S3Event) => Promise<IntakeSummary>) | undefined;

  const s3 = await startLocalS3({
    buckets: [LOCAL_INTAKE_BUCKET],
    onObjectCreated: (event) => {
      const delivery = (async () => {
        const result = await invokeAsync('intake', handler! as never, event as S3Event, {
          maximumRetryAttempts: 2,
          retryDelayMs: 1000,
        });
        deliveries.push(
          result.ok
            ? { ok: true, attempts: result.attempts, summary: result.result as IntakeSummary }
            : { ok: false, attempts: result.attempts, error: (result.error as Error).message },
        );
      })();
      pending.add(delivery);
      void delivery.finally(() => pending.delete(delivery));
    },
  });

  const env = {
    TABLE_NAME: LOCAL_TABLE,
    INTAKE_BUCKET: LOCAL_INTAKE_BUCKET,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_ENDPOINT: s3.endpoint,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    SWIFT_AUTH: 'tempauth',
    SWIFT_AUTH_URL: options.swiftUrl ? `${options.swiftUrl}/auth/v1.0` : services.swift.authUrl,
    SWIFT_USER: services.swift.user,
    SWIFT_KEY_FILE: secretFile('swift-key', () => services.swift.key),
    MASTER_KEY_FILE: secretFile('master-key', () => randomBytes(32).toString('base64')),
    // the intake seals each upload's name with it, and the status API (local/stack.ts) opens it for features.csv
    SOURCE_NAME_KEY_FILE: secretFile('source-name-key', () => randomBytes(32).toString('base64')),
    LOG_LEVEL: 'warn',
    // CloudWatch picks EMF records out of Lambda's stdout; locally they would only bury the progress display
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  Object.assign(process.env, env);
  handler = (await import('#functions/intake.js')).handler as unknown as (event: S3Event) => Promise<IntakeSummary>;
  options.log?.(`[stack] local S3 ${s3.endpoint}, DynamoDB ${dynamo.endpoint}, Swift ${services.swift.proxyUrl}`);

  return {
    services,
    dynamo,
    s3,
    env,
    deliveries,
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      await Promise.allSettled([...pending]);
      await s3.close();
      await dynamo.close();
    },
  };
}
