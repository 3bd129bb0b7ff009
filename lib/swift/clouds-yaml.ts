/**
 * `OS_CLOUD` for the command-line tools: the named cloud of a clouds.yaml, as openstacksdk finds it
 * (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml), turned into
 * the OS_* variables `swiftAuthFromEnv` reads. Variables already set win over the file. Not for the functions: they
 * have no clouds.yaml, and YAML would only grow their bundles.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '#lib/errors.js';

type Env = Record<string, string | undefined>;

const FROM_AUTH: Record<string, string> = {
  auth_url: 'OS_AUTH_URL',
  username: 'OS_USERNAME',
  user_id: 'OS_USER_ID',
  password: 'OS_PASSWORD',
  token: 'OS_AUTH_TOKEN',
  project_name: 'OS_PROJECT_NAME',
  project_id: 'OS_PROJECT_ID',
  user_domain_name: 'OS_USER_DOMAIN_NAME',
  user_domain_id: 'OS_USER_DOMAIN_ID',
  project_domain_name: 'OS_PROJECT_DOMAIN_NAME',
  project_domain_id: 'OS_PROJECT_DOMAIN_ID',
  application_credential_id: 'OS_APPLICATION_CREDENTIAL_ID',
  application_credential_name: 'OS_APPLICATION_CREDENTIAL_NAME',
  application_credential_secret: 'OS_APPLICATION_CREDENTIAL_SECRET',
};
const FROM_CLOUD: Record<string, string> = { auth_type: 'OS_AUTH_TYPE', region_name: 'OS_REGION_NAME', interface: 'OS_INTERFACE' };

export function cloudsYamlPaths(env: Env, cwd = process.cwd()): string[] {
  return [
    env.OS_CLIENT_CONFIG_FILE,
    join(cwd, 'clouds.yaml'),
    join(homedir(), '.config', 'openstack', 'clouds.yaml'),
    '/etc/openstack/clouds.yaml',
  ].filter((path): path is string => Boolean(path));
}

/** `env` with the OS_CLOUD cloud's settings filled in; `env` itself when OS_CLOUD is unset. */
export async function withCloudsYaml(env: Env, paths = cloudsYamlPaths(env)): Promise<Env> {
  const name = env.OS_CLOUD;
  if (!name) return env;
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    const cloud = (parse(text) as { clouds?: Record<string, Record<string, unknown>> } | null)?.clouds?.[name];
    if (!cloud) throw new ConfigError(`OS_CLOUD=${name}: no such cloud in ${path}`);
    const fromFile: Env = {};
    const auth = (cloud.auth ?? {}) as Record<string, unknown>;
    for (const [key, variable] of Object.entries(FROM_AUTH)) if (auth[key] !== undefined) fromFile[variable] = String(auth[key]);
    for (const [key, variable] of Object.entries(FROM_CLOUD)) if (cloud[key] !== undefined) fromFile[variable] = String(cloud[key]);
    return { ...fromFile, ...Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== '')) };
  }
  throw new ConfigError(`OS_CLOUD=${name}: no clouds.yaml found (${paths.join(', ')})`);
}
