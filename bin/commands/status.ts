/**
 * `radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json] [--watch [--interval SECS]]`:
 * the tenant's jobs (or one job) from the status API, with progress bars. URL and token also from
 * RADIOMICS_API_URL and RADIOMICS_TOKEN / RADIOMICS_TOKEN_FILE (bin/support/status-access.ts). The token is never
 * printed. --watch redraws in place (on a terminal; elsewhere it prints only changes) until the job, or every
 * listed job, has ended.
 * Exit codes: 0 shown, 1 the API refused or failed, 2 usage.
 */
import { apiAccess, parseCommandArgs } from '#bin/support/status-access.js';
import { fetchStatusView, watchStatus } from '#bin/support/status-watch.js';

const USAGE = 'usage: radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json] [--watch [--interval SECS]]';

type Out = { write(text: string): unknown; isTTY?: boolean };

export async function run(args: string[], env: Record<string, string | undefined> = process.env, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const parsed = parseCommandArgs('status', USAGE, args, { json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string' } }, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const access = await apiAccess(values, env);
  const jobId = positionals[0];
  const intervalSecs = values.interval === undefined ? 2 : Number(values.interval);
  const problem =
    'problem' in access ? access.problem
    : positionals.length > 1 || (jobId !== undefined && !/^[0-9a-f]{32}$/.test(jobId)) ? 'JOB_ID must be 32 hex characters'
    : !(intervalSecs >= 0.1 && intervalSecs <= 3600) ? '--interval must be a number of seconds from 0.1 to 3600'
    : values.watch && values.json ? '--watch and --json do not go together'
    : undefined;
  if (problem || 'problem' in access) {
    err.write(`radiomics status: ${problem}\n${USAGE}\n`);
    return 2;
  }
  const request = { api: access.api, token: access.token, jobId };
  if (values.watch) return watchStatus(request, { intervalMs: intervalSecs * 1000, out, err });
  const view = await fetchStatusView(request);
  if ('problem' in view) {
    err.write(`radiomics status: ${view.problem}\n`);
    return 1;
  }
  out.write(values.json ? `${JSON.stringify(view.body, null, 2)}\n` : `${view.text}\n`);
  return 0;
}
