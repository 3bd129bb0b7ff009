/**
 * Where the status API is and which token to send, for the CLI commands that talk to it (`status`, `results`):
 * `--api URL` or RADIOMICS_API_URL; `--token T`, `--token-file F`, RADIOMICS_TOKEN_FILE or RADIOMICS_TOKEN.
 * The token is never printed.
 */
import { readFile } from 'node:fs/promises';

export const API_ACCESS_OPTIONS = {
  api: { type: 'string', value: 'URL', help: 'the status API (default: RADIOMICS_API_URL)' },
  token: { type: 'string', value: 'TOKEN', help: 'the bearer token (default: from --token-file, RADIOMICS_TOKEN_FILE or RADIOMICS_TOKEN)' },
  'token-file': { type: 'string', value: 'PATH', help: 'a file holding the bearer token (default: RADIOMICS_TOKEN_FILE)' },
} as const;

export const API_ACCESS_ENVIRONMENT = [
  ['RADIOMICS_API_URL', 'the status API, without --api'],
  ['RADIOMICS_TOKEN_FILE', 'a file holding the bearer token, without --token or --token-file'],
  ['RADIOMICS_TOKEN', 'the bearer token, without --token, --token-file or RADIOMICS_TOKEN_FILE'],
] as const;

export interface ApiAccess {
  api: string;
  token: string;
}

/** The access, or the usage problem in one line. */
export async function apiAccess(
  values: { api?: string; token?: string; 'token-file'?: string },
  env: Record<string, string | undefined>,
): Promise<ApiAccess | { problem: string }> {
  const api = values.api ?? env.RADIOMICS_API_URL;
  const tokenFile = values['token-file'] ?? env.RADIOMICS_TOKEN_FILE;
  const token = values.token ?? (tokenFile ? (await readFile(tokenFile, 'utf8').catch(() => '')).trim() : env.RADIOMICS_TOKEN);
  if (!api) return { problem: 'the API URL is missing (--api or RADIOMICS_API_URL)' };
  if (!token)
    return {
      problem: tokenFile ? 'the token file is missing or empty' : 'the token is missing (--token, --token-file or RADIOMICS_TOKEN)',
    };
  return { api: api.replace(/\/+$/, ''), token };
}
