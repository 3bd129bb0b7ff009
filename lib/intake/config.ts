/** The intake function's configuration (fragments: lib/config.ts), parsed once per container. */
import { z } from 'zod';
import {
  batchWindowShape,
  fromProcessEnv,
  logLevelShape,
  parse,
  parseAwsSettings,
  positiveInt,
  secret,
  type AwsSettings,
  type Env,
  type SecretRef,
} from '#lib/config.js';
import { parseDicomIntakeSettings, type DicomIntakeSettings } from '#lib/dicom/config.js';
import { DEFAULT_SINGLE_PUT_MAX_BYTES } from '#lib/seal/sealed-upload.js';
import { ConfigError } from '#lib/errors.js';
import type { LogLevel } from '#lib/log.js';
import { parseSwiftSettings, type SwiftSettings } from '#lib/swift/settings.js';

const intakeSchema = z.object({
  ...batchWindowShape,
  INTAKE_BUCKET: z.string().min(1),
  MAX_VIDEO_BYTES: positiveInt.default(2 * 1024 ** 3),
  INTAKE_SINGLE_PUT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(256 * 1024 ** 2)
    .default(DEFAULT_SINGLE_PUT_MAX_BYTES),
  SWIFT_CONTAINER_PREFIX: z
    .string()
    .regex(/^[a-z0-9-]*$/)
    .default(''),
  BATCH_FUNCTION_ARN: z.string().startsWith('arn:').optional(),
  SCHEDULER_ROLE_ARN: z.string().startsWith('arn:').optional(),
  ...logLevelShape,
});

export interface IntakeConfig {
  tableName: string;
  intakeBucket: string;
  maxVideoBytes: number;
  /** Objects up to this size are sealed in memory and PUT once; larger ones stream to Swift as an SLO (0: all stream). */
  singlePutMaxBytes: number;
  batchMaxItems: number;
  batchMaxBytes: number;
  containerPrefix: string;
  batchMaxAgeSecs: number;
  /** The one-time close timer per batch (EventBridge Scheduler); absent: the minute schedule closes batches. */
  dueTimer?: { batchFunctionArn: string; schedulerRoleArn: string };
  /** DICOM cine loops are converted to MP4 before sealing; absent: DICOM_INTAKE=off, they are refused. */
  dicom?: DicomIntakeSettings;
  logLevel: LogLevel;
  aws: AwsSettings;
  swift: SwiftSettings;
  masterKey: SecretRef;
  /** SOURCE_NAME_KEY: each video row keeps its source name sealed under it (lib/source-names.ts); absent: no name. */
  sourceNameKey?: SecretRef;
}

function dueTimerSettings(batchFunctionArn?: string, schedulerRoleArn?: string): IntakeConfig['dueTimer'] {
  if (!batchFunctionArn && !schedulerRoleArn) return undefined;
  if (!batchFunctionArn || !schedulerRoleArn) {
    throw new ConfigError('invalid configuration: set both BATCH_FUNCTION_ARN and SCHEDULER_ROLE_ARN, or neither');
  }
  return { batchFunctionArn, schedulerRoleArn };
}

export function parseIntakeConfig(env: Env): IntakeConfig {
  const intake = parse(intakeSchema, env);
  return Object.freeze({
    tableName: intake.TABLE_NAME,
    intakeBucket: intake.INTAKE_BUCKET,
    maxVideoBytes: intake.MAX_VIDEO_BYTES,
    singlePutMaxBytes: intake.INTAKE_SINGLE_PUT_MAX_BYTES,
    batchMaxItems: intake.BATCH_MAX_ITEMS,
    batchMaxBytes: intake.BATCH_MAX_BYTES,
    containerPrefix: intake.SWIFT_CONTAINER_PREFIX,
    batchMaxAgeSecs: intake.BATCH_MAX_AGE_SECS,
    dueTimer: dueTimerSettings(intake.BATCH_FUNCTION_ARN, intake.SCHEDULER_ROLE_ARN),
    dicom: parseDicomIntakeSettings(env),
    logLevel: intake.LOG_LEVEL,
    aws: parseAwsSettings(env),
    swift: parseSwiftSettings(env),
    masterKey: secret(env, 'MASTER_KEY')!,
    sourceNameKey: secret(env, 'SOURCE_NAME_KEY', false),
  });
}

/** The intake function's configuration, parsed once per container from the process environment. */
export const intakeConfig = fromProcessEnv(parseIntakeConfig);
