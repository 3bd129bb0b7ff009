/**
 * `radiomics status [JOB_ID | --video ID | --source KEY | --sop UID] [--api URL] [--token TOKEN | --token-file PATH]
 * [--json] [--watch [--interval SECS]]`: the tenant's jobs, one job, or one video (by its id, by its object key as
 * uploaded, or by a PACS instance's SOPInstanceUID) with what was uploaded as it, from the status API, with
 * progress bars. URL and token also from RADIOMICS_API_URL and RADIOMICS_TOKEN / RADIOMICS_TOKEN_FILE
 * (bin/support/status-access.ts). The token is never printed. --watch redraws in place (on a terminal; elsewhere
 * it prints only changes) until the job, every listed job, or the video has ended.
 * Exit codes: 0 shown, 1 the API refused or failed, or no such video in the tenant, 2 usage.
 */
import { UsageError, defineCommand, runCommand, type Out } from '#bin/support/command-line.js';
import { API_ACCESS_ENVIRONMENT, API_ACCESS_OPTIONS, apiAccess } from '#bin/support/status-access.js';
import { fetchStatusView, watchStatus } from '#bin/support/status-watch.js';
import { VIDEO_ID_OPTION, VIDEO_LOOKUP_OPTIONS, videoQueryOf } from '#bin/support/video-status.js';

export const STATUS = defineCommand({
  program: 'radiomics status',
  usage: `usage: radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json] [--watch [--interval SECS]]
       radiomics status (--video ID | --source KEY | --sop UID) [--api URL] [--token TOKEN | --token-file PATH] [--json] [--watch [--interval SECS]]`,
  about:
    "The tenant's jobs, or one job, from the status API, with progress bars. With --video, --source or --sop, one video instead: what was uploaded as it (its object key, or a PACS instance's SOPInstanceUID, where the API names it), its id, stage and failure reason, its batch and job, and its result links (TempURLs, which expire). The token is never printed.",
  arguments: [['JOB_ID', 'one job (32 hex characters); without it (and without --video, --source or --sop), the latest 100 jobs']],
  options: {
    ...VIDEO_ID_OPTION,
    ...VIDEO_LOOKUP_OPTIONS,
    ...API_ACCESS_OPTIONS,
    json: { type: 'boolean', help: "print the API's answer as JSON" },
    watch: {
      type: 'boolean',
      help: 'keep watching: redraw in place on a terminal (elsewhere print only changes) until the job, every listed job, or the video has ended (done or failed)',
    },
    interval: { type: 'string', value: 'SECS', help: 'seconds between two looks with --watch, 0.1-3600', default: 2 },
  },
  environment: API_ACCESS_ENVIRONMENT,
  exitStatus: [
    [0, 'shown (with --watch: every job shown, or the video, has ended)'],
    [1, 'the API refused or could not be reached, or the tenant has no such video (--video, --source or --sop)'],
    [2, 'usage error'],
  ],
});

export async function run(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runCommand(STATUS, args, { out, err }, async ({ values, positionals }) => {
    const access = await apiAccess(values, env);
    const jobId = positionals[0];
    const intervalSecs = values.interval === undefined ? 2 : Number(values.interval);
    if ('problem' in access) throw new UsageError(access.problem);
    if (positionals.length > 1 || (jobId !== undefined && !/^[0-9a-f]{32}$/.test(jobId)))
      throw new UsageError('JOB_ID must be 32 hex characters');
    const video = videoQueryOf(values);
    if (jobId !== undefined && video) throw new UsageError(`JOB_ID and --${video.by} do not go together`);
    if (!(intervalSecs >= 0.1 && intervalSecs <= 3600)) throw new UsageError('--interval must be a number of seconds from 0.1 to 3600');
    if (values.watch && values.json) throw new UsageError('--watch and --json do not go together');
    const request = { api: access.api, token: access.token, jobId, video };
    if (values.watch) return watchStatus(request, { intervalMs: intervalSecs * 1000, out, err });
    const view = await fetchStatusView(request);
    if ('problem' in view) {
      err.write(`radiomics status: ${view.problem}\n`);
      return 1;
    }
    out.write(values.json ? `${JSON.stringify(view.body, null, 2)}\n` : `${view.text}\n`);
    return 0;
  });
}
