/**
 * The pacs-hook function's configuration, parsed once from the environment (lib/config.ts helpers).
 * Hospital credentials are a secret document (PACS_CREDENTIALS_FILE or _SSM; format in the README, "PACS export hooks"),
 * re-read every PACS_CREDENTIALS_REFRESH_SECS so rotation needs no deploy. JWTs are accepted when AUTH_ISSUER
 * is set, verified like the status API (AUTH_JWKS_URL or AUTH_HS256_SECRET_FILE|_SSM) but for their own audience
 * (PACS_AUTH_AUDIENCE, never the status API's AUTH_AUDIENCE) and scope (PACS_AUTH_SCOPE).
 */
import { z } from 'zod';
import { ConfigError } from '#lib/errors.js';
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

const schema = z.object({
  INTAKE_BUCKET: z.string().min(1),
  /** The single table; when set, refusals are recorded there for GET /pacs/refusals (kept PACS_REFUSAL_KEEP_DAYS). */
  TABLE_NAME: z.string().min(1).optional(),
  PACS_REFUSAL_KEEP_DAYS: positiveInt.default(30),
  PACS_RETRIEVE_BASE: url,
  /** Lambda: 6 MB payloads of base64 → about 4.4 MB of body. The streaming server raises it. */
  PACS_MAX_REQUEST_BYTES: positiveInt.default(4_400_000),
  PACS_MAX_INSTANCE_BYTES: positiveInt.default(2 * 1024 ** 3),
  PACS_MAX_UPLOAD_BYTES: positiveInt.default(5 * 1024 ** 3),
  /** Instances per STOW-RS request: 1,000 answer items stay far below Lambda's 6 MB response limit. */
  PACS_MAX_STOW_PARTS: positiveInt.default(1000),
  /** Failed logins allowed per source address and per user name in each window, then 429 until it ends. */
  PACS_AUTH_MAX_FAILURES: positiveInt.default(10),
  PACS_AUTH_FAILURE_WINDOW_SECS: positiveInt.default(900),
  /** The streaming server's timeouts: request headers, a whole request, an idle socket, an idle keep-alive connection. */
  PACS_HEADERS_TIMEOUT_SECS: positiveInt.default(20),
  PACS_REQUEST_TIMEOUT_SECS: positiveInt.default(3600),
  PACS_IDLE_TIMEOUT_SECS: positiveInt.default(60),
  PACS_KEEP_ALIVE_TIMEOUT_SECS: positiveInt.default(5),
  PACS_CREDENTIALS_REFRESH_SECS: positiveInt.default(300),
  UPLOAD_URL_TTL_SECS: positiveInt.max(7 * 24 * 3600).default(900),
  UPLOAD_MULTIPART_ABOVE_BYTES: positiveInt.default(100 * 1024 * 1024),
  UPLOAD_PART_BYTES: positiveInt.min(5 * 1024 * 1024).default(64 * 1024 * 1024),
  AUTH_ISSUER: z.string().min(1).optional(),
  /** The status API's audience: read tokens. Only compared, so the hook never shares it. */
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** Writing needs its own audience and scope: a status (read) token never writes. */
  PACS_AUTH_AUDIENCE: z.string().min(1).default('radiomics-pacs'),
  PACS_AUTH_SCOPE: z.string().regex(/^\S+$/).default('pacs:write'),
  ...jwtShape,
  /** The streaming server's address (containers/pacs-hook); the Lambda has none. */
  PORT: z.coerce.number().int().min(0).max(65535).default(8099),
  HOST: z.string().min(1).default('0.0.0.0'),
  ...logLevelShape,
});

export interface PacsServerTimeouts {
  headersMs: number;
  requestMs: number;
  idleMs: number;
  keepAliveMs: number;
}

export interface PacsHookConfig {
  intakeBucket: string;
  retrieveBase: string;
  refusals?: { tableName: string; keepDays: number };
  limits: { maxRequestBytes: number; maxInstanceBytes: number; maxUploadBytes: number; maxStowParts: number };
  failedLogins: { maxFailures: number; windowMs: number };
  server: PacsServerTimeouts;
  listen: { port: number; host: string };
  credentials: SecretRef;
  credentialsRefreshMs: number;
  uploads: { expiresInSecs: number; multipartAboveBytes: number; multipartPartBytes: number };
  jwt?: JwtSettings & { requiredScope: string };
  logLevel: LogLevel;
  aws: AwsSettings;
}

export function parsePacsHookConfig(env: Env): PacsHookConfig {
  const c = parse(schema, env);
  if (c.PACS_HEADERS_TIMEOUT_SECS > c.PACS_REQUEST_TIMEOUT_SECS) {
    throw new ConfigError('invalid configuration: PACS_HEADERS_TIMEOUT_SECS must not exceed PACS_REQUEST_TIMEOUT_SECS');
  }
  let jwt: PacsHookConfig['jwt'];
  if (c.AUTH_ISSUER) {
    if (c.PACS_AUTH_AUDIENCE === c.AUTH_AUDIENCE) {
      throw new ConfigError("invalid configuration: PACS_AUTH_AUDIENCE must differ from AUTH_AUDIENCE (the status API's read tokens)");
    }
    const requiredScope = c.PACS_AUTH_SCOPE;
    jwt = { ...jwtSettings(env, c, { issuer: c.AUTH_ISSUER, audience: c.PACS_AUTH_AUDIENCE, requiredScope }), requiredScope };
  }
  return Object.freeze({
    intakeBucket: c.INTAKE_BUCKET,
    refusals: c.TABLE_NAME ? { tableName: c.TABLE_NAME, keepDays: c.PACS_REFUSAL_KEEP_DAYS } : undefined,
    retrieveBase: c.PACS_RETRIEVE_BASE,
    limits: {
      maxRequestBytes: c.PACS_MAX_REQUEST_BYTES,
      maxInstanceBytes: c.PACS_MAX_INSTANCE_BYTES,
      maxUploadBytes: c.PACS_MAX_UPLOAD_BYTES,
      maxStowParts: c.PACS_MAX_STOW_PARTS,
    },
    failedLogins: { maxFailures: c.PACS_AUTH_MAX_FAILURES, windowMs: c.PACS_AUTH_FAILURE_WINDOW_SECS * 1000 },
    server: {
      headersMs: c.PACS_HEADERS_TIMEOUT_SECS * 1000,
      requestMs: c.PACS_REQUEST_TIMEOUT_SECS * 1000,
      idleMs: c.PACS_IDLE_TIMEOUT_SECS * 1000,
      keepAliveMs: c.PACS_KEEP_ALIVE_TIMEOUT_SECS * 1000,
    },
    listen: { port: c.PORT, host: c.HOST },
    credentials: secret(env, 'PACS_CREDENTIALS')!,
    credentialsRefreshMs: c.PACS_CREDENTIALS_REFRESH_SECS * 1000,
    uploads: {
      expiresInSecs: c.UPLOAD_URL_TTL_SECS,
      multipartAboveBytes: c.UPLOAD_MULTIPART_ABOVE_BYTES,
      multipartPartBytes: c.UPLOAD_PART_BYTES,
    },
    jwt,
    logLevel: c.LOG_LEVEL,
    aws: parseAwsSettings(env),
  });
}

export const pacsHookConfig = fromProcessEnv(parsePacsHookConfig);
