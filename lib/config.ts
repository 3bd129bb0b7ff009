/**
 * What every function's configuration is made of: zod fragments read from the environment once, into frozen,
 * typed objects (each unit's own config: lib/intake/config.ts, lib/batch/config.ts, lib/status/config.ts,
 * lib/pacs/config.ts; Swift credentials: lib/swift/settings.ts). Defaults live in the zod schemas and nowhere else.
 * A missing or malformed variable fails fast with an error that names it (never its value).
 * Secrets are never plain variables: `<NAME>_FILE` points at a file (local stack) and
 * `<NAME>_SSM` at an SSM SecureString parameter (cloud); see lib/secrets.ts.
 */
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { LOG_LEVELS } from './log.js';

export type Env = Record<string, string | undefined>;

export const positiveInt = z.coerce.number().int().positive();
export const url = z.string().url();
const secretRef = z.object({ file: z.string().min(1).optional(), ssm: z.string().min(1).optional() });

export type SecretRef = z.infer<typeof secretRef>;

/** A secret reference from `<name>_FILE` or `<name>_SSM`; a clear error names both when required and absent. */
export function secret(env: Env, name: string, required = true): SecretRef | undefined {
  const ref = { file: env[`${name}_FILE`] || undefined, ssm: env[`${name}_SSM`] || undefined };
  if (!ref.file && !ref.ssm) {
    if (!required) return undefined;
    throw new ConfigError(`missing configuration: set ${name}_FILE or ${name}_SSM`);
  }
  return ref;
}

/** Parses `env` with `schema`, failing with one ConfigError that names each missing or invalid variable. */
export function parse<T extends z.ZodTypeAny>(schema: T, env: Env): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || 'environment';
    const missing = env[String(issue.path[0])] === undefined;
    return missing ? `${name} is missing` : `${name} is invalid (${issue.message})`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** LOG_LEVEL, every function's. */
export const logLevelShape = { LOG_LEVEL: z.enum(LOG_LEVELS).default('info') };

/**
 * Powertools' level for a function's tools: POWERTOOLS_LOG_LEVEL or LOG_LEVEL, in either case (Powertools itself
 * takes only upper case); undefined when neither names a level (an invalid LOG_LEVEL is the function config's error to name).
 */
export function powertoolsLogLevel(env: Env = process.env): 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT' | undefined {
  const level = (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL)?.toUpperCase();
  return (['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const).find((known) => known === level);
}

export interface AwsSettings {
  region: string;
  s3Endpoint?: string;
  dynamodbEndpoint?: string;
}

const awsSchema = z.object({
  AWS_REGION: z.string().min(1).default('eu-west-1'),
  S3_ENDPOINT: url.optional(),
  DYNAMODB_ENDPOINT: url.optional(),
});

export function parseAwsSettings(env: Env): AwsSettings {
  const aws = parse(awsSchema, env);
  return { region: aws.AWS_REGION, s3Endpoint: aws.S3_ENDPOINT, dynamodbEndpoint: aws.DYNAMODB_ENDPOINT };
}

/**
 * The most videos a batch may hold: its row keeps one registration per video until the closer counts them
 * (lib/store/intake-store.ts), about 50 bytes each, within DynamoDB's 400 KB item.
 */
export const MAX_BATCH_ITEMS = 5000;

/** The batch window: the intake fills batches up to it, the batch function closes them at it. */
export const batchWindowShape = {
  TABLE_NAME: z.string().min(1),
  BATCH_MAX_ITEMS: positiveInt.max(MAX_BATCH_ITEMS, `at most ${MAX_BATCH_ITEMS}: the batch row holds a registration per video`).default(50),
  BATCH_MAX_BYTES: positiveInt.default(10 * 1024 ** 3),
  BATCH_MAX_AGE_SECS: positiveInt.default(600),
};

/**
 * How bearer tokens are verified (status API, PACS hook): the key source (AUTH_JWKS_URL, or AUTH_HS256_SECRET_FILE|_SSM)
 * and the checks; the issuer and the audience are each function's own variables.
 */
export const jwtShape = {
  AUTH_JWKS_URL: url.optional(),
  AUTH_ALGORITHMS: z.string().default('RS256,PS256,ES256'),
  AUTH_TENANT_CLAIM: z.string().min(1).default('tenant'),
  AUTH_CLOCK_SKEW_SECS: z.coerce.number().int().min(0).max(300).default(30),
  AUTH_MAX_TOKEN_LIFETIME_SECS: positiveInt.max(7 * 24 * 3600).default(12 * 3600),
};

type JwtFields = z.infer<z.ZodObject<typeof jwtShape>>;

export type JwtSettings = {
  issuer: string;
  audience: string;
  /** A scope the token must carry (writing needs its own). */
  requiredScope?: string;
  tenantClaim: string;
  clockSkewSecs: number;
  maxLifetimeSecs: number;
} & ({ kind: 'jwks'; jwksUrl: string; algorithms: string[] } | { kind: 'secret'; secret: SecretRef });

export function jwtSettings(
  env: Env,
  fields: JwtFields,
  claims: { issuer: string; audience: string; requiredScope?: string },
): JwtSettings {
  const hsSecret = secret(env, 'AUTH_HS256_SECRET', false);
  if (Boolean(fields.AUTH_JWKS_URL) === Boolean(hsSecret)) {
    throw new ConfigError('invalid configuration: set exactly one of AUTH_JWKS_URL or AUTH_HS256_SECRET_FILE|_SSM');
  }
  const common = {
    ...claims,
    tenantClaim: fields.AUTH_TENANT_CLAIM,
    clockSkewSecs: fields.AUTH_CLOCK_SKEW_SECS,
    maxLifetimeSecs: fields.AUTH_MAX_TOKEN_LIFETIME_SECS,
  };
  if (claims.requiredScope === undefined) delete common.requiredScope;
  return fields.AUTH_JWKS_URL
    ? {
        ...common,
        kind: 'jwks',
        jwksUrl: fields.AUTH_JWKS_URL,
        algorithms: fields.AUTH_ALGORITHMS.split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      }
    : { ...common, kind: 'secret', secret: hsSecret! };
}

/** One parse of the process environment per container, whatever parses it. */
export function fromProcessEnv<T>(parseConfig: (env: Env) => T): () => T {
  let parsed: T | undefined;
  return () => (parsed ??= parseConfig(process.env));
}
