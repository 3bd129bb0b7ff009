/**
 * `radiomics results JOB_ID --out DIR` (or `--batch BATCH_ID`) `[--api URL] [--token T | --token-file F]`:
 * downloads the job's per-clip results through the status API's links, resumably, and writes DIR/features.csv
 * and DIR/report.html (see lib/results/). A progress bar goes to stderr. Exit codes: 0 written (every file
 * fetched), 1 the API refused or some files could not be fetched (the rest is written; run again to resume),
 * 2 usage.
 */
import { exportJobResults } from '#lib/results/export-job.js';
import { HttpStatusApi, ID_PATTERN, StatusApiError } from '#lib/results/status-api-client.js';
import { apiAccess, parseCommandArgs } from '#bin/support/status-access.js';
import { progressBar } from '#bin/support/status-format.js';

const USAGE = 'usage: radiomics results (JOB_ID | --batch BATCH_ID) --out DIR [--api URL] [--token TOKEN | --token-file PATH]';

type Out = { write(text: string): unknown; isTTY?: boolean };

export async function run(args: string[], env: Record<string, string | undefined> = process.env, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const parsed = parseCommandArgs('results', USAGE, args, { out: { type: 'string' }, batch: { type: 'string' } }, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const access = await apiAccess(values, env);
  const given = [...positionals, ...(values.batch ? [values.batch] : [])];
  const problem =
    'problem' in access ? access.problem
    : !values.out ? '--out DIR is required'
    : given.length !== 1 ? 'give one JOB_ID or --batch BATCH_ID'
    : !ID_PATTERN.test(given[0]) ? 'the id must be 32 hex characters'
    : undefined;
  if (problem || 'problem' in access) {
    err.write(`radiomics results: ${problem}\n${USAGE}\n`);
    return 2;
  }
  const api = new HttpStatusApi(access.api, access.token);
  const progress = (text: string, end = false) => (err.isTTY ? err.write(`\r${text}${end ? '\n' : ''}`) : end && err.write(`${text}\n`));
  try {
    const jobId = values.batch ? (await api.batch(values.batch)).job_id : given[0];
    if (!jobId) {
      err.write('radiomics results: that batch has no job yet\n');
      return 1;
    }
    const outcome = await exportJobResults({
      api, jobId, outDir: values.out!,
      onProgress: (p) => progress(`files ${progressBar({ done: p.done, total: p.total, percent: p.total ? (100 * p.done) / p.total : 100 })} (${p.skipped} already there)`, p.done === p.total),
    });
    const { download, job } = outcome;
    for (const failure of download.failed) err.write(`radiomics results: ${failure.name}: ${failure.reason}\n`);
    if (job.results_truncated) err.write(`radiomics results: the API listed only the first ${job.results.length} clips of this job (its RESULTS_MAX_LINKS)\n`);
    out.write(`${outcome.records.length} clips: ${download.downloaded} files fetched, ${download.skipped} already there${download.failed.length ? `, ${download.failed.length} failed (run again to resume)` : ''}\n`);
    out.write(`${outcome.csvPath}\n${outcome.reportPath}\n`);
    return download.failed.length ? 1 : 0;
  } catch (error) {
    if (error instanceof StatusApiError) {
      err.write(`radiomics results: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EROFS' || code === 'ENOSPC') {
      err.write(`radiomics results: cannot write into ${values.out} (${code})\n`);
      return 1;
    }
    throw error;
  }
}
