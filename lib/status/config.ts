/**
 * Configuration of sync-status and status-api, parsed once from the environment (lib/config.ts helpers).
 * Secrets only by reference: TEMPURL_KEY_FILE|_SSM, AUTH_HS256_SECRET_FILE|_SSM, SOURCE_NAME_KEY_FILE|_SSM, Swift
 * credentials.
 */
import { z } from 'zod';
import {
  fromProcessEnv,
  jwtSettings,
  jwtShape,
  logLevelShape,
  parse,
  parseAwsSettings,
  positiveInt,
  secret,
  url,
  type AwsSettings,
  type Env,
  type JwtSettings,
  type SecretRef,
} from '#lib/config.js';
import type { LogLevel } from '#lib/log.js';
import { parseSwiftSettings, type SwiftSettings } from '#lib/swift/settings.js';
import type { SyncSettings } from './sync.js';

const bool = z
  .enum(['true', 'false'])
  .default('false')
  .transform((v) => v === 'true');

/** How a tick polls; the defaults are the sync's defaults (DEFAULT_SYNC_SETTINGS), here only. */
const syncSettingsSchema = z.object({
  SYNC_CONCURRENCY: positiveInt.max(256).default(32),
  SYNC_NOT_FOUND_LIMIT: positiveInt.default(3),
  SYNC_BACKOFF_BASE_SECS: positiveInt.default(60),
  SYNC_BACKOFF_MAX_SECS: positiveInt.default(900),
  SYNC_BREAKER_THRESHOLD: positiveInt.default(20),
  SYNC_HEARTBEAT_SECS: positiveInt.default(600),
  SHRED_KEYS_ON_TERMINAL: bool,
  /** Active jobs read per page of the index. */
  SYNC_PAGE_SIZE: positiveInt.max(1000).default(500),
  /** Ticks a finished job is retried when neither /errors nor the results container can be read. */
  SYNC_SETTLE_RETRY_LIMIT: positiveInt.default(3),
});

export function parseSyncSettings(env: Env): SyncSettings {
  const c = parse(syncSettingsSchema, env);
  return Object.freeze({
    concurrency: c.SYNC_CONCURRENCY,
    notFoundLimit: c.SYNC_NOT_FOUND_LIMIT,
    backoffBaseMs: c.SYNC_BACKOFF_BASE_SECS * 1000,
    backoffMaxMs: c.SYNC_BACKOFF_MAX_SECS * 1000,
    breakerThreshold: c.SYNC_BREAKER_THRESHOLD,
    heartbeatMs: c.SYNC_HEARTBEAT_SECS * 1000,
    shredKeysOnTerminal: c.SHRED_KEYS_ON_TERMINAL,
    pageSize: c.SYNC_PAGE_SIZE,
    settleRetryLimit: c.SYNC_SETTLE_RETRY_LIMIT,
  });
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = parseSyncSettings({});

const syncSchema = z.object({
  TABLE_NAME: z.string().min(1),
  ASPERATHOS_URL: url,
  ASPERATHOS_TIMEOUT_MS: positiveInt.default(5000),
  ...syncSettingsSchema.shape,
  PROGRESS_FROM_RESULTS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  ...logLevelShape,
});

export interface SyncConfig {
  tableName: string;
  asperathosUrl: string;
  asperathosTimeoutMs: number;
  settings: SyncSettings;
  /**
   * Swift, for progress (the real manager reports none) and for a finished job's failed items when `/errors` can
   * no longer be trusted; absent only with PROGRESS_FROM_RESULTS=false.
   */
  swift?: SwiftSettings;
  logLevel: LogLevel;
  aws: AwsSettings;
}

export function parseSyncConfig(env: Env): SyncConfig {
  const c = parse(syncSchema, env);
  return Object.freeze({
    tableName: c.TABLE_NAME,
    asperathosUrl: c.ASPERATHOS_URL,
    asperathosTimeoutMs: c.ASPERATHOS_TIMEOUT_MS,
    settings: parseSyncSettings(env),
    swift: c.PROGRESS_FROM_RESULTS ? parseSwiftSettings(env) : undefined,
    logLevel: c.LOG_LEVEL,
    aws: parseAwsSettings(env),
  });
}

const apiSchema = z.object({
  TABLE_NAME: z.string().min(1),
  AUTH_ISSUER: z.string().min(1),
  AUTH_AUDIENCE: z.string().min(1),
  ...jwtShape,
  RESULTS_TEMPURL_TTL_SECS: positiveInt.max(7 * 24 * 3600).default(900),
  RESULTS_MAX_LINKS: positiveInt.max(10_000).default(1000),
  PAGE_REFRESH_SECS: positiveInt.default(10),
  ...logLevelShape,
});

export interface ApiConfig {
  tableName: string;
  auth: JwtSettings;
  results: { tempUrlKey: SecretRef; ttlSecs: number; maxLinks: number };
  /** SOURCE_NAME_KEY, the intake's: a video's answer gives its tenant the source name; absent: `source` is null. */
  sourceNameKey?: SecretRef;
  pageRefreshSecs: number;
  swift: SwiftSettings;
  logLevel: LogLevel;
  aws: AwsSettings;
}

export function parseApiConfig(env: Env): ApiConfig {
  const c = parse(apiSchema, env);
  return Object.freeze({
    tableName: c.TABLE_NAME,
    auth: jwtSettings(env, c, { issuer: c.AUTH_ISSUER, audience: c.AUTH_AUDIENCE }),
    results: { tempUrlKey: secret(env, 'TEMPURL_KEY')!, ttlSecs: c.RESULTS_TEMPURL_TTL_SECS, maxLinks: c.RESULTS_MAX_LINKS },
    sourceNameKey: secret(env, 'SOURCE_NAME_KEY', false),
    pageRefreshSecs: c.PAGE_REFRESH_SECS,
    swift: parseSwiftSettings(env),
    logLevel: c.LOG_LEVEL,
    aws: parseAwsSettings(env),
  });
}

export const syncConfig = fromProcessEnv(parseSyncConfig);
export const apiConfig = fromProcessEnv(parseApiConfig);
