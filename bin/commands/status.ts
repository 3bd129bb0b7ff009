/**
 * `radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json]`: the tenant's jobs (or
 * one job) from the status API, with progress bars. URL and token also from RADIOMICS_API_URL and
 * RADIOMICS_TOKEN / RADIOMICS_TOKEN_FILE. The token is never printed.
 * Exit codes: 0 shown, 1 the API refused or failed, 2 usage.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { jobDetail, jobLine, type JobLike } from '../../lib/status/cli-format.js';

const USAGE = 'usage: radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json]';

export async function run(args: string[], env: Record<string, string | undefined> = process.env, out: { write(text: string): unknown } = process.stdout, err: { write(text: string): unknown } = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { api: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    err.write(`radiomics status: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  const api = values.api ?? env.RADIOMICS_API_URL;
  const tokenFile = values['token-file'] ?? env.RADIOMICS_TOKEN_FILE;
  const token = values.token ?? (tokenFile ? (await readFile(tokenFile, 'utf8').catch(() => '')).trim() : env.RADIOMICS_TOKEN);
  const jobId = positionals[0];
  if (!api || !token || positionals.length > 1 || (jobId !== undefined && !/^[0-9a-f]{32}$/.test(jobId))) {
    err.write(`radiomics status: ${!api ? 'the API URL is missing (--api or RADIOMICS_API_URL)' : !token ? 'the token is missing (--token, --token-file or RADIOMICS_TOKEN)' : 'JOB_ID must be 32 hex characters'}\n${USAGE}\n`);
    return 2;
  }
  const url = `${api.replace(/\/+$/, '')}/${jobId ? `jobs/${jobId}` : 'jobs?limit=100'}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    err.write(`radiomics status: the status API is unreachable (${(error as { cause?: { code?: string } }).cause?.code ?? 'error'})\n`);
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    err.write(`radiomics status: ${res.status} ${String(body.error ?? 'error')}: ${String(body.message ?? '')}\n`);
    return 1;
  }
  if (values.json) out.write(`${JSON.stringify(body, null, 2)}\n`);
  else if (jobId) out.write(`${jobDetail(body as never)}\n`);
  else {
    const jobs = (body.jobs as JobLike[]) ?? [];
    out.write(jobs.length ? `${jobs.map(jobLine).join('\n')}\n` : 'no jobs\n');
  }
  return 0;
}
