/**
 * npm start's two routes in one job, SIM mode: one clip uploaded into the bucket, another turned into a DICOM
 * US Multi-frame file with a patient's details that a namespaced Orthanc pushes by STOW-RS to the PACS hook
 * (local/orthanc-route.ts). Both are sealed into one batch and analysed, and the results, fetched as
 * `radiomics results` fetches them, name each clip's route.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '#local/stack.js';
import { runClips, type RunReport } from '#local/run-clips.js';
import { startPacsRoute, type PacsRoute } from '#local/orthanc-route.js';
import { orthancUnavailable } from '#local/orthanc.js';
import { dcmtkAvailable } from '#local/dicom-fixtures.js';
import { SHARED_DIR } from '#local/service-endpoints.js';
import { exportJobResults, type ExportOutcome } from '#lib/results/export-job.js';
import { HttpStatusApi } from '#lib/results/status-api-client.js';
import { CSV_COLUMNS } from '#lib/results/features-csv.js';

const [UPLOADED, EXPORTED] = ['VH020213M4_001390_20160406T111534.MP4', 'VH020213M4_001559_20160429T120933.MP4'].map((name) =>
  join(SHARED_DIR, 'samples', 'videos', name),
);
const TENANT = 'e2epacs';

const reason = orthancUnavailable() ?? (dcmtkAvailable() ? undefined : 'dcmtk is not installed (apt-get install dcmtk)');
if (reason) process.stdout.write(`SKIPPED pipeline-pacs: ${reason}\n`);
const maybe = reason ? describe.skip : describe;

let stack: Stack;
let route: PacsRoute;
let report: RunReport;
let exported: ExportOutcome;
let out: string;

maybe('end to end through both routes (S3 upload and Orthanc → STOW-RS → PACS hook)', () => {
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'e2e-pacs-'));
    stack = await startStack({ mode: 'SIM', windowSecs: 5, quietSecs: 0, tickMs: 1000, workers: 2 });
    route = await startPacsRoute(stack, { tenant: TENANT });
    report = await runClips(stack, [UPLOADED], { tenant: TENANT, pacs: { route, clips: [EXPORTED] } });
    const api = new HttpStatusApi(stack.statusApi.url, await stack.statusToken(TENANT));
    exported = await exportJobResults({ api, jobId: report.jobs[0].batchId, outDir: out });
  }, 600_000);

  afterAll(async () => {
    await route?.close();
    await stack?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
  }, 60_000);

  it('one completed job; each clip done, with the route the status API tells', () => {
    expect(report.jobs.map((job) => job.status)).toEqual(['completed']);
    expect(report.clips.map((clip) => [clip.clip, clip.sentBy, clip.video?.kind, clip.apiStage])).toEqual([
      ['VH020213M4_001390_20160406T111534.MP4', 's3', 'mp4', { stage: 'done', reason: null, route: 's3' }],
      ['VH020213M4_001559_20160429T120933.MP4', 'pacs', 'dicom', { stage: 'done', reason: null, route: 'pacs' }],
    ]);
    expect(report.clips[1].source).toMatch(new RegExp(`^${TENANT}/dicom/2\\.25\\.\\d+\\.dcm$`));
    expect(report.clips.every((clip) => clip.result?.result === 'ok')).toBe(true);
    expect(route.hookLog).toEqual([]);
  });

  it('features.csv has a row per clip with its route, and every file was fetched', () => {
    const [header, ...rows] = readFileSync(exported.csvPath, 'utf8')
      .trimEnd()
      .split('\r\n')
      .map((line) => line.split(','));
    expect(header).toEqual([...CSV_COLUMNS]);
    const byId = new Map(rows.map((row) => [row[0], row]));
    for (const clip of report.clips) {
      const row = byId.get(clip.video!.videoId)!;
      expect([row[header.indexOf('route')], row[header.indexOf('stage')], row[header.indexOf('result')]]).toEqual([
        clip.sentBy,
        'done',
        'ok',
      ]);
    }
    expect(rows).toHaveLength(2);
    expect(exported.download.failed).toEqual([]);
  });
});
