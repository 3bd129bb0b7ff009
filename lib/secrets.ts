/**
 * Resolves secret references: a file (local stack) or an SSM SecureString parameter (cloud),
 * cached per container. Values never appear in errors or logs.
 */
import { readFile } from 'node:fs/promises';
import type { SecretRef } from './config.js';
import { ConfigError, RetryableError } from './errors.js';

export interface SecretSource {
  read(ref: SecretRef, name: string): Promise<string>;
}

/** SSM Parameter Store, as the secret source sees it (lib/aws/clients.ts `ssmParameters`); absent where no role may read one. */
export interface ParameterStore {
  secureString(name: string): Promise<string | undefined>;
}

export function createSecretSource(ssm?: ParameterStore): SecretSource {
  const cache = new Map<string, Promise<string>>();
  const load = async (ref: SecretRef, name: string): Promise<string> => {
    if (ref.file) {
      try {
        return (await readFile(ref.file, 'utf8')).trim();
      } catch (error) {
        throw new ConfigError(`secret ${name}: cannot read its file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (!ref.ssm || !ssm) throw new ConfigError(`secret ${name}: no file and no SSM client configured`);
    try {
      const value = await ssm.secureString(ref.ssm);
      if (!value) throw new ConfigError(`secret ${name}: SSM parameter is empty`);
      return value;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const code = (error as { name?: string }).name ?? 'error';
      if (code === 'ParameterNotFound') throw new ConfigError(`secret ${name}: SSM parameter not found`);
      throw new RetryableError(`secret ${name}: SSM unavailable (${code})`);
    }
  };
  return {
    read(ref, name) {
      const cacheKey = `${ref.file ?? ''}|${ref.ssm ?? ''}`;
      let value = cache.get(cacheKey);
      if (!value) {
        value = load(ref, name);
        value.catch(() => cache.delete(cacheKey));
        cache.set(cacheKey, value);
      }
      return value;
    },
  };
}
