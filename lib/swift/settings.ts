/**
 * The functions' Swift credentials, read the way the CLI and the worker read theirs (lib/swift `swiftAuthFromEnv`,
 * openrc conventions): `OS_*` for Keystone v3 (password, v3applicationcredential or token; names or ids for user,
 * project and domains; OS_REGION_NAME, OS_INTERFACE), `ST_AUTH`/`ST_USER`/`ST_KEY` for TempAuth. The one difference:
 * here a secret (OS_PASSWORD, OS_APPLICATION_CREDENTIAL_SECRET, OS_AUTH_TOKEN or OS_TOKEN, ST_KEY) is never a plain
 * variable, only `<NAME>_FILE` or `<NAME>_SSM`, resolved when the client is built (`openStackEnv`).
 * `SWIFT_AUTH` (`keystone` | `tempauth`) picks one family where both are set (serverless.yml sets both), and
 * `SWIFT_AUTH_URL`/`SWIFT_USER`/`SWIFT_KEY_*` are read as ST_AUTH/ST_USER/ST_KEY_*.
 */
import { z } from 'zod';
import { secret, type Env, type SecretRef } from '#lib/config.js';
import { SWIFT_ENV_NAMES } from '#lib/contract.js';
import { ConfigError } from '#lib/errors.js';
import type { SecretSource } from '#lib/secrets.js';
import { swiftAuthFromEnv } from './auth.js';

const SECRET_VARIABLES = ['OS_PASSWORD', 'OS_APPLICATION_CREDENTIAL_SECRET', 'OS_AUTH_TOKEN', 'OS_TOKEN', 'ST_KEY'] as const;
const PLAIN_VARIABLES = SWIFT_ENV_NAMES.filter((name) => !(SECRET_VARIABLES as readonly string[]).includes(name));
type SecretVariable = (typeof SECRET_VARIABLES)[number];

export interface SwiftSettings {
  /** The non-secret OS_* / ST_* variables, as swiftAuthFromEnv reads them. */
  variables: Record<string, string>;
  secrets: Partial<Record<SecretVariable, SecretRef>>;
}

const urls = z.object({ OS_AUTH_URL: z.string().url().optional(), ST_AUTH: z.string().url().optional() });

export function parseSwiftSettings(env: Env): SwiftSettings {
  const openrc = openrcView(env);
  const badUrl = urls.safeParse(openrc).error?.issues[0]?.path[0];
  if (badUrl) throw new ConfigError(`invalid configuration: ${aliasOf(env, String(badUrl))} is invalid (not a URL)`);
  const variables: Record<string, string> = {};
  for (const name of PLAIN_VARIABLES) if (openrc[name]) variables[name] = openrc[name]!;
  const secrets: SwiftSettings['secrets'] = {};
  for (const name of SECRET_VARIABLES) {
    if (openrc[name]) throw new ConfigError(`invalid configuration: ${name} must not be a plain variable; set ${name}_FILE or ${name}_SSM`);
    const ref = secret(openrc, name, false);
    if (ref) secrets[name] = ref;
  }
  if (variables.OS_AUTH_URL && secrets.OS_PASSWORD && !variables.OS_USERNAME && !variables.OS_USER_ID) {
    throw new ConfigError('invalid configuration: OS_USERNAME or OS_USER_ID is required for password auth');
  }
  try {
    swiftAuthFromEnv({ ...variables, ...Object.fromEntries(Object.keys(secrets).map((name) => [name, 'set'])) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const message = error.message.replace(/\b(OS_[A-Z_]+SECRET|OS_PASSWORD|OS_AUTH_TOKEN|ST_KEY)\b(?!_)/g, '$1_FILE|_SSM');
    throw new ConfigError(`invalid configuration: ${aliasOf(env, message)}`);
  }
  return { variables, secrets };
}

/** The variables swiftAuthFromEnv takes, with the secrets read from their files or SSM parameters. */
export async function openStackEnv(settings: SwiftSettings, source: SecretSource): Promise<Record<string, string>> {
  const env = { ...settings.variables };
  for (const [name, ref] of Object.entries(settings.secrets)) env[name] = await source.read(ref, name);
  return env;
}

function openrcView(env: Env): Env {
  const choice = env.SWIFT_AUTH;
  if (choice !== undefined && choice !== 'keystone' && choice !== 'tempauth') {
    throw new ConfigError('invalid configuration: SWIFT_AUTH is invalid (expected keystone or tempauth)');
  }
  const view: Env = { ...env };
  if (env.SWIFT_AUTH_URL || env.SWIFT_USER || env.SWIFT_KEY_FILE || env.SWIFT_KEY_SSM) {
    Object.assign(view, {
      ST_AUTH: env.SWIFT_AUTH_URL,
      ST_USER: env.SWIFT_USER,
      ST_KEY_FILE: env.SWIFT_KEY_FILE,
      ST_KEY_SSM: env.SWIFT_KEY_SSM,
    });
  }
  const drop = choice === 'tempauth' ? /^OS_/ : choice === 'keystone' ? /^ST_/ : undefined;
  if (drop) for (const name of Object.keys(view)) if (drop.test(name)) delete view[name];
  return view;
}

/** Names the variable the operator set: SWIFT_* where the ST_* value came from it. */
function aliasOf(env: Env, text: string): string {
  if (!(env.SWIFT_AUTH_URL || env.SWIFT_USER || env.SWIFT_KEY_FILE || env.SWIFT_KEY_SSM)) return text;
  return text
    .replace(/\bST_AUTH\b/g, 'SWIFT_AUTH_URL')
    .replace(/\bST_USER\b/g, 'SWIFT_USER')
    .replace(/\bST_KEY/g, 'SWIFT_KEY');
}
