/**
 * A job's results in hand: downloads its clips' files through the status API's links (resumably), then writes
 * `features.csv` and `report.html` into the output directory. The one code path behind `radiomics results` and
 * the end of `npm start`.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clipRecords, type ClipOrigins, type ClipRecord } from './clip-records.js';
import { downloadResultFiles, resultFiles, type DownloadOutcome, type DownloadProgress } from './download.js';
import { featuresCsv } from './features-csv.js';
import { reportHtml } from './report-html.js';
import type { JobDetail, StatusApi } from './status-api-client.js';

export interface ExportOptions {
  api: StatusApi;
  jobId: string;
  outDir: string;
  origins?: ClipOrigins;
  /** Only these clips of the job (`radiomics results --source`); every clip without it. */
  videoIds?: readonly string[];
  fetch?: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  now?: () => Date;
}

export interface ExportOutcome {
  job: JobDetail;
  records: ClipRecord[];
  download: DownloadOutcome;
  csvPath: string;
  reportPath: string;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.part`, text);
  await rename(`${path}.part`, path);
}

export async function exportJobResults(options: ExportOptions): Promise<ExportOutcome> {
  const job = await options.api.job(options.jobId);
  await mkdir(options.outDir, { recursive: true });
  const { videoIds } = options;
  const links = videoIds ? job.results.filter((r) => videoIds.includes(r.video_id)) : job.results;
  const download = await downloadResultFiles(resultFiles(links), options.outDir, {
    fetch: options.fetch,
    onProgress: options.onProgress,
  });
  const records = await clipRecords(job, options.outDir, options.api, options.origins, videoIds);
  const csvPath = join(options.outDir, 'features.csv');
  const reportPath = join(options.outDir, 'report.html');
  await writeAtomically(csvPath, featuresCsv(records));
  await writeAtomically(
    reportPath,
    await reportHtml({ jobId: job.job_id, status: job.status }, records, (options.now ?? (() => new Date()))()),
  );
  return { job, records, download, csvPath, reportPath };
}
