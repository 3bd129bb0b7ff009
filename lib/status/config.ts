/**
 * Configuration of sync-status and status-api, parsed once from the environment (lib/config.ts helpers).
 * Secrets only by reference: TEMPURL_KEY_FILE|_SSM, AUTH_HS256_SECRET_FILE|_SSM, Swift credentials.
 */
import { z } from 'zod';
import { parse, parseAwsSettings, parseSwiftSettings, positiveInt, secret, url, type Env, type IntakeConfig, type SecretRef, type SwiftSettings } from '#lib/config.js';
import { ConfigError } from '#lib/errors.js';

const bool = z.enum(['true', 'false']).default('false').transform((v) => v === 'true');
const logLevel = z.enum(['debug', 'info', 'warn', 'error']).default('info');

const syncSchema = z.object({
  TABLE_NAME: z.string().min(1),
  ASPERATHOS_URL: url,
  ASPERATHOS_TIMEOUT_MS: positiveInt.default(5000),
  SYNC_CONCURRENCY: positiveInt.max(256).default(32),
  SYNC_NOT_FOUND_LIMIT: positiveInt.default(3),
  SYNC_BACKOFF_BASE_SECS: positiveInt.default(60),
  SYNC_BACKOFF_MAX_SECS: positiveInt.default(900),
  SYNC_BREAKER_THRESHOLD: positiveInt.default(20),
  SYNC_HEARTBEAT_SECS: positiveInt.default(600),
  SHRED_KEYS_ON_TERMINAL: bool,
  PROGRESS_FROM_RESULTS: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  LOG_LEVEL: logLevel,
});

export interface SyncConfig {
  tableName: string;
  asperathosUrl: string;
  asperathosTimeoutMs: number;
  concurrency: number;
  notFoundLimit: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  breakerThreshold: number;
  heartbeatMs: number;
  shredKeysOnTerminal: boolean;
  /**
   * Swift, for progress (the real manager reports none) and for a finished job's failed items when `/errors` can
   * no longer be trusted; absent only with PROGRESS_FROM_RESULTS=false.
   */
  swift?: SwiftSettings;
  logLevel: z.infer<typeof logLevel>;
  aws: IntakeConfig['aws'];
}

export function parseSyncConfig(env: Env): SyncConfig {
  const c = parse(syncSchema, env);
  return Object.freeze({
    tableName: c.TABLE_NAME,
    asperathosUrl: c.ASPERATHOS_URL,
    asperathosTimeoutMs: c.ASPERATHOS_TIMEOUT_MS,
    concurrency: c.SYNC_CONCURRENCY,
    notFoundLimit: c.SYNC_NOT_FOUND_LIMIT,
    backoffBaseMs: c.SYNC_BACKOFF_BASE_SECS * 1000,
    backoffMaxMs: c.SYNC_BACKOFF_MAX_SECS * 1000,
    breakerThreshold: c.SYNC_BREAKER_THRESHOLD,
    heartbeatMs: c.SYNC_HEARTBEAT_SECS * 1000,
    shredKeysOnTerminal: c.SHRED_KEYS_ON_TERMINAL,
    swift: c.PROGRESS_FROM_RESULTS ? parseSwiftSettings(env) : undefined,
    logLevel: c.LOG_LEVEL,
    aws: parseAwsSettings(env),
  });
}

const apiSchema = z.object({
  TABLE_NAME: z.string().min(1),
  AUTH_ISSUER: z.string().min(1),
  AUTH_AUDIENCE: z.string().min(1),
  AUTH_JWKS_URL: url.optional(),
  AUTH_ALGORITHMS: z.string().default('RS256,PS256,ES256'),
  AUTH_TENANT_CLAIM: z.string().min(1).default('tenant'),
  AUTH_CLOCK_SKEW_SECS: z.coerce.number().int().min(0).max(300).default(30),
  AUTH_MAX_TOKEN_LIFETIME_SECS: positiveInt.max(7 * 24 * 3600).default(12 * 3600),
  RESULTS_TEMPURL_TTL_SECS: positiveInt.max(7 * 24 * 3600).default(900),
  RESULTS_MAX_LINKS: positiveInt.max(10_000).default(1000),
  PAGE_REFRESH_SECS: positiveInt.default(10),
  LOG_LEVEL: logLevel,
});

export interface ApiConfig {
  tableName: string;
  auth: { issuer: string; audience: string; tenantClaim: string; clockSkewSecs: number; maxLifetimeSecs: number } & (
    | { kind: 'jwks'; jwksUrl: string; algorithms: string[] }
    | { kind: 'secret'; secret: SecretRef }
  );
  results: { tempUrlKey: SecretRef; ttlSecs: number; maxLinks: number };
  pageRefreshSecs: number;
  swift: SwiftSettings;
  logLevel: z.infer<typeof logLevel>;
  aws: IntakeConfig['aws'];
}

export function parseApiConfig(env: Env): ApiConfig {
  const c = parse(apiSchema, env);
  const hsSecret = secret(env, 'AUTH_HS256_SECRET', false);
  if (Boolean(c.AUTH_JWKS_URL) === Boolean(hsSecret)) {
    throw new ConfigError('invalid configuration: set exactly one of AUTH_JWKS_URL or AUTH_HS256_SECRET_FILE|_SSM');
  }
  const common = {
    issuer: c.AUTH_ISSUER,
    audience: c.AUTH_AUDIENCE,
    tenantClaim: c.AUTH_TENANT_CLAIM,
    clockSkewSecs: c.AUTH_CLOCK_SKEW_SECS,
    maxLifetimeSecs: c.AUTH_MAX_TOKEN_LIFETIME_SECS,
  };
  return Object.freeze({
    tableName: c.TABLE_NAME,
    auth: c.AUTH_JWKS_URL
      ? { ...common, kind: 'jwks' as const, jwksUrl: c.AUTH_JWKS_URL, algorithms: c.AUTH_ALGORITHMS.split(',').map((a) => a.trim()).filter(Boolean) }
      : { ...common, kind: 'secret' as const, secret: hsSecret! },
    results: { tempUrlKey: secret(env, 'TEMPURL_KEY')!, ttlSecs: c.RESULTS_TEMPURL_TTL_SECS, maxLinks: c.RESULTS_MAX_LINKS },
    pageRefreshSecs: c.PAGE_REFRESH_SECS,
    swift: parseSwiftSettings(env),
    logLevel: c.LOG_LEVEL,
    aws: parseAwsSettings(env),
  });
}

let cachedSync: SyncConfig | undefined;
let cachedApi: ApiConfig | undefined;
export const syncConfig = (): SyncConfig => (cachedSync ??= parseSyncConfig(process.env));
export const apiConfig = (): ApiConfig => (cachedApi ??= parseApiConfig(process.env));
