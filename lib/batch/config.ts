/** The batch function's configuration (fragments: lib/config.ts), parsed once per container. */
import { z } from 'zod';
import {
  batchWindowShape,
  fromProcessEnv,
  logLevelShape,
  parse,
  parseAwsSettings,
  positiveInt,
  secret,
  url,
  type AwsSettings,
  type Env,
  type SecretRef,
} from '#lib/config.js';
import { ConfigError } from '#lib/errors.js';
import type { LogLevel } from '#lib/log.js';
import { parseSwiftSettings, type SwiftSettings } from '#lib/swift/settings.js';

const batchSchema = z.object({
  ...batchWindowShape,
  BATCH_QUIET_SECS: z.coerce.number().int().min(0).default(0),
  BATCH_STALE_SEAL_SECS: positiveInt.default(1200),
  BATCH_STALE_SUBMIT_SECS: positiveInt.default(300),
  WORKLOAD_LINKS: z.enum(['tempurl', 'public']).default('tempurl'),
  TEMPURL_TTL_SECS: positiveInt.default(7 * 24 * 3600),
  ASPERATHOS_URL: url,
  SGX_MODE: z.enum(['HW', 'SIM']),
  CAS_ADDRESS: z
    .string()
    .regex(/^[^:\s]+:\d{1,5}:\d{1,5}$/, 'expected host:restPort:attestationPort')
    .optional(),
  SESSION_FORMAT: z.enum(['tutorial', '0.3']).default('0.3'),
  /** The job's cmd; it replaces the image's ENTRYPOINT (lib/enclave-image/layout.ts). */
  WORKER_CMD: z.string().min(1).default('/entrypoint.sh'),
  /** HW: the session's command, the program SCONE attests. */
  SESSION_COMMAND: z.string().min(1).default('node /app/worker.mjs'),
  /** HW, 0.3 format: the session-language version to declare (0.3 or an exact 0.3.N). */
  SESSION_VERSION: z
    .string()
    .regex(/^0\.3(\.\d{1,3})?$/, 'expected 0.3 or 0.3.N')
    .default('0.3'),
  /** HW: comma lists for security.attestation; empty (nothing tolerated) unless the operator decides otherwise. */
  CAS_TOLERATE: z
    .string()
    .regex(/^[a-z0-9,-]*$/, 'expected a comma list such as debug-mode,hyperthreading')
    .default(''),
  CAS_IGNORE_ADVISORIES: z
    .string()
    .regex(/^(\*|[A-Z0-9,-]*)$/, 'expected a comma list such as INTEL-SA-00076, or *')
    .default(''),
  /** HW: the name the CAS certificate carries when it is not CAS_ADDRESS's host (commonly `cas`). */
  CAS_SERVER_NAME: z
    .string()
    .optional()
    .transform((name) => name || undefined),
  WORKER_ENV: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        const value = JSON.parse(text) as unknown;
        if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')) {
          return value as Record<string, string>;
        }
      } catch {
        /* reported below */
      }
      ctx.addIssue({ code: 'custom', message: 'expected a JSON object of strings' });
      return z.NEVER;
    }),
  JOB_INIT_SIZE: positiveInt.default(1),
  EXPECTED_TIME_SECS: positiveInt.default(200),
  JOB_RESOURCES_LIFETIME_SECS: positiveInt.default(300),
  ENABLE_VISUALIZER: z.enum(['true', 'false']).default('false'),
  GRAFANA_USER: z.string().min(1).default('admin'),
  ITEM_LEASE_SECS: positiveInt.default(15),
  SCONE_VERBOSITY: z.coerce.number().int().min(0).max(7).default(3),
  ...logLevelShape,
});

export interface BatchConfig {
  tableName: string;
  maxItems: number;
  maxBytes: number;
  maxAgeSecs: number;
  quietSecs: number;
  staleSealSecs: number;
  staleSubmitSecs: number;
  links: { kind: 'tempurl'; key: SecretRef; ttlSecs: number } | { kind: 'public' };
  asperathosUrl: string;
  mode: 'HW' | 'SIM';
  cas?: { address: string; clientCert: SecretRef; clientKey: SecretRef; ca: SecretRef; serverName?: string };
  sessionCommand: string;
  sessionVersion: string;
  tolerate: string[];
  ignoreAdvisories: string[];
  sessionFormat: 'tutorial' | '0.3';
  /** The enclave image facts (config.json of the image build: mrenclave, image-name, fspf-tag, fspf-key, fspf-path). */
  enclaveConfig: SecretRef;
  workerCmd: string[];
  workerEnv: Record<string, string>;
  /** JSON object of the worker's credentials (e.g. ST_KEY or OS_PASSWORD). */
  workerSecretEnv?: SecretRef;
  initSize: number;
  expectedTimeSecs: number;
  resourcesLifetimeSecs: number;
  /** The manager's Grafana dashboard (ENABLE_VISUALIZER=true): its user and, by reference, its password. */
  visualizer?: { username: string; password: SecretRef };
  itemLeaseSecs: number;
  verbosity: number;
  logLevel: LogLevel;
  aws: AwsSettings;
  swift: SwiftSettings;
  masterKey: SecretRef;
}

export function parseBatchConfig(env: Env): BatchConfig {
  const batch = parse(batchSchema, env);
  if (batch.SGX_MODE === 'HW' && !batch.CAS_ADDRESS)
    throw new ConfigError('invalid configuration: CAS_ADDRESS is missing (required when SGX_MODE=HW)');
  const grafanaPassword = batch.ENABLE_VISUALIZER === 'true' ? secret(env, 'GRAFANA_PASSWORD', false) : undefined;
  if (batch.ENABLE_VISUALIZER === 'true' && !grafanaPassword) {
    throw new ConfigError(
      'invalid configuration: GRAFANA_PASSWORD_FILE or GRAFANA_PASSWORD_SSM is missing (required when ENABLE_VISUALIZER=true)',
    );
  }
  return Object.freeze({
    tableName: batch.TABLE_NAME,
    maxItems: batch.BATCH_MAX_ITEMS,
    maxBytes: batch.BATCH_MAX_BYTES,
    maxAgeSecs: batch.BATCH_MAX_AGE_SECS,
    quietSecs: batch.BATCH_QUIET_SECS,
    staleSealSecs: batch.BATCH_STALE_SEAL_SECS,
    staleSubmitSecs: batch.BATCH_STALE_SUBMIT_SECS,
    links:
      batch.WORKLOAD_LINKS === 'public'
        ? { kind: 'public' as const }
        : { kind: 'tempurl' as const, key: secret(env, 'TEMPURL_KEY')!, ttlSecs: batch.TEMPURL_TTL_SECS },
    asperathosUrl: batch.ASPERATHOS_URL,
    mode: batch.SGX_MODE,
    cas:
      batch.SGX_MODE === 'HW'
        ? {
            address: batch.CAS_ADDRESS!,
            clientCert: secret(env, 'CAS_CLIENT_CERT')!,
            clientKey: secret(env, 'CAS_CLIENT_KEY')!,
            ca: secret(env, 'CAS_CA')!,
            serverName: batch.CAS_SERVER_NAME,
          }
        : undefined,
    sessionCommand: batch.SESSION_COMMAND,
    sessionVersion: batch.SESSION_VERSION,
    tolerate: batch.CAS_TOLERATE.split(',').filter(Boolean),
    ignoreAdvisories: batch.CAS_IGNORE_ADVISORIES.split(',').filter(Boolean),
    sessionFormat: batch.SESSION_FORMAT,
    enclaveConfig: secret(env, 'ENCLAVE_CONFIG')!,
    workerCmd: batch.WORKER_CMD.split(/\s+/).filter(Boolean),
    workerEnv: batch.WORKER_ENV,
    workerSecretEnv: secret(env, 'WORKER_SECRET_ENV', false),
    initSize: batch.JOB_INIT_SIZE,
    expectedTimeSecs: batch.EXPECTED_TIME_SECS,
    resourcesLifetimeSecs: batch.JOB_RESOURCES_LIFETIME_SECS,
    visualizer: grafanaPassword ? { username: batch.GRAFANA_USER, password: grafanaPassword } : undefined,
    itemLeaseSecs: batch.ITEM_LEASE_SECS,
    verbosity: batch.SCONE_VERBOSITY,
    logLevel: batch.LOG_LEVEL,
    aws: parseAwsSettings(env),
    swift: parseSwiftSettings(env),
    masterKey: secret(env, 'MASTER_KEY')!,
  });
}

/** The batch function's configuration, parsed once per container from the process environment. */
export const batchConfig = fromProcessEnv(parseBatchConfig);
