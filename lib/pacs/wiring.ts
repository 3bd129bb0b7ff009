/** Builds the hook's dependencies once per container (Lambda) or process (streaming server). */
import { documentClient, ssmParameters } from '#lib/aws/clients.js';
import { DynamoRefusalLog } from '#lib/store/refusals.js';
import { jwtVerifierFromConfig } from '#lib/auth/from-config.js';
import { createLogger, type Logger } from '#lib/log.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { createSecretSource } from '#lib/secrets.js';
import { credentialAuthenticator, parseHospitalCredentials } from './auth.js';
import { loginThrottle } from './login-throttle.js';
import type { PacsHookConfig } from './config.js';
import type { PacsHookDeps } from './hook.js';
import { S3DicomObjects, S3UploadPresigner } from './objects.js';

export async function buildPacsHookDeps(
  config: PacsHookConfig,
  options: { log?: Logger; s3Credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
): Promise<PacsHookDeps> {
  const log = options.log ?? createLogger({ function: 'pacs-hook' }, { level: config.logLevel });
  const ssm = ssmParameters(config.aws);
  const s3 = createS3Client({ region: config.aws.region, endpoint: config.aws.s3Endpoint, credentials: options.s3Credentials });
  const verifier = config.jwt && (await jwtVerifierFromConfig(config.jwt, createSecretSource(ssm)));
  return {
    // a fresh secret source per load: the shared one caches for the container's life, which would defeat rotation
    auth: credentialAuthenticator({
      load: async () => parseHospitalCredentials(await createSecretSource(ssm).read(config.credentials, 'PACS_CREDENTIALS')),
      jwt: verifier,
      refreshMs: config.credentialsRefreshMs,
    }),
    objects: new S3DicomObjects(s3, config.intakeBucket),
    presigner: new S3UploadPresigner(s3, config.intakeBucket, config.uploads),
    limits: config.limits,
    retrieveBase: config.retrieveBase,
    log,
    loginThrottle: loginThrottle(config.failedLogins),
    refusals:
      config.refusals &&
      new DynamoRefusalLog(documentClient(config.aws), config.refusals.tableName, { keepDays: config.refusals.keepDays }),
  };
}
