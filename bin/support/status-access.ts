/**
 * Where the status API is and which token to send, for the CLI commands that talk to it (`status`, `results`):
 * `--api URL` or RADIOMICS_API_URL; `--token T`, `--token-file F`, RADIOMICS_TOKEN_FILE or RADIOMICS_TOKEN.
 * The token is never printed.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const API_ACCESS_OPTIONS = { api: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' } } as const;

export interface ApiAccess {
  api: string;
  token: string;
}

/** The access, or the usage problem in one line. */
export async function apiAccess(values: { api?: string; token?: string; 'token-file'?: string }, env: Record<string, string | undefined>): Promise<ApiAccess | { problem: string }> {
  const api = values.api ?? env.RADIOMICS_API_URL;
  const tokenFile = values['token-file'] ?? env.RADIOMICS_TOKEN_FILE;
  const token = values.token ?? (tokenFile ? (await readFile(tokenFile, 'utf8').catch(() => '')).trim() : env.RADIOMICS_TOKEN);
  if (!api) return { problem: 'the API URL is missing (--api or RADIOMICS_API_URL)' };
  if (!token) return { problem: tokenFile ? 'the token file is missing or empty' : 'the token is missing (--token, --token-file or RADIOMICS_TOKEN)' };
  return { api: api.replace(/\/+$/, ''), token };
}

type Out = { write(text: string): unknown };

/**
 * parseArgs with the API access options and -h/--help added: the parsed values, or the exit code when the call
 * is already answered (help printed: 0; a bad option named with the usage: 2).
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(command: string, usage: string, args: string[], options: O, out: Out, err: Out) {
  try {
    const parsed = parseArgs({ args, allowPositionals: true, options: { ...API_ACCESS_OPTIONS, ...options, help: { type: 'boolean', short: 'h' } } });
    if ((parsed.values as { help?: boolean }).help) {
      out.write(`${usage}\n`);
      return 0;
    }
    return parsed;
  } catch (error) {
    err.write(`radiomics ${command}: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
}
