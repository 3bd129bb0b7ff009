/** Builds the intake's dependencies once per container: clients, secrets, key wrapper. */
import { documentClient, schedulerClient, ssmParameters } from '#lib/aws/clients.js';
import type { IntakeConfig } from './config.js';
import { decodeMasterKey, JweKeyWrapper } from '#lib/keys.js';
import { createLogger, type Logger } from '#lib/log.js';
import { createS3Client, S3IntakeObjects } from '#lib/s3/bucket.js';
import { createSecretSource } from '#lib/secrets.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { swiftClientFromConfig } from '#lib/swift/from-config.js';
import { videoIdDeriver } from './video-id.js';
import type { IntakeDeps } from './ingest.js';
import { EventBridgeDueTimer } from '#lib/due-timer.js';
import { dicomConversion } from './dicom-step.js';

export async function buildIntakeDeps(config: IntakeConfig, options: { log?: Logger } = {}): Promise<IntakeDeps> {
  const log = options.log ?? createLogger({ function: 'intake' }, { level: config.logLevel });
  const secrets = createSecretSource(ssmParameters(config.aws));
  const masterKey = decodeMasterKey(await secrets.read(config.masterKey, 'MASTER_KEY'));
  const sourceNames = config.sourceNameKey && sourceNameSealer(await secrets.read(config.sourceNameKey, 'SOURCE_NAME_KEY'));
  return {
    objects: new S3IntakeObjects(createS3Client({ region: config.aws.region, endpoint: config.aws.s3Endpoint })),
    store: new DynamoIntakeStore(documentClient(config.aws), config.tableName, { sourceNames }),
    swift: await swiftClientFromConfig(config.swift, secrets, log),
    keys: new JweKeyWrapper(masterKey),
    videoId: videoIdDeriver(masterKey),
    limits: {
      maxVideoBytes: config.maxVideoBytes,
      batchMaxItems: config.batchMaxItems,
      batchMaxBytes: config.batchMaxBytes,
      singlePutMaxBytes: config.singlePutMaxBytes,
    },
    containerPrefix: config.containerPrefix,
    acceptedKinds: ['mp4'],
    convertDicom: config.dicom && dicomConversion({ ...config.dicom, masterKey }),
    dueTimer: config.dueTimer
      ? {
          timer: new EventBridgeDueTimer(schedulerClient(config.aws), {
            batchFunctionArn: config.dueTimer.batchFunctionArn,
            roleArn: config.dueTimer.schedulerRoleArn,
          }),
          maxAgeSecs: config.batchMaxAgeSecs,
        }
      : undefined,
    log,
  };
}
