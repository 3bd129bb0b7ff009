/**
 * `radiomics results` against a real status API and real Swift: it fetches each clip's files through the
 * job's TempURLs, writes features.csv with the exact values of the worker's `<id>.json`, resumes, and keeps
 * tenants apart.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '#bin/commands/results.js';
import { CSV_COLUMNS } from '#lib/results/features-csv.js';
import { parseClipAnalysis } from '#lib/results/analysis.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { startResultsRig, type ResultsRig } from '#test/support/results-rig.js';

let rig: ResultsRig;
let dir: string;

beforeAll(async () => {
  rig = await startResultsRig();
  dir = mkdtempSync(join(tmpdir(), 'results-command-'));
}, 180_000);

afterAll(async () => {
  await rig?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sink() {
  let text = '';
  return {
    write: (chunk: string) => (text += chunk),
    get text() {
      return text;
    },
  };
}

async function results(args: string[], tenant = 'hospital-a', apiUrl = rig.api.url) {
  const out = sink();
  const err = sink();
  const code = await run([...args, '--api', apiUrl, '--token', await rig.token(tenant)], {}, out, err);
  return { code, out: out.text, err: err.text };
}

/** RFC 4180 lines without quoted commas (none in these rows). */
const csvRows = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\r\n')
    .map((line) => line.split(','));

describe('radiomics results', () => {
  it('downloads every clip file and writes features.csv with one named row per clip and the exact values', async () => {
    const outDir = join(dir, 'job');
    const { code, out, err } = await results([rig.batchId, '--out', outDir]);
    expect(err).toBe(`files [${'#'.repeat(24)}] 5/5 100.0% (0 already there)\n`);
    expect(code).toBe(0);
    expect(out).toBe(`3 clips: 5 files fetched, 0 already there\n${join(outDir, 'features.csv')}\n${join(outDir, 'report.html')}\n`);
    for (const [id, files] of rig.uploaded) {
      expect(readFileSync(join(outDir, 'clips', `${id}.json`), 'utf8')).toBe(files.json);
      expect(readFileSync(join(outDir, 'clips', `${id}.zip`)).equals(files.zip)).toBe(true);
    }
    const [header, ...rows] = csvRows(join(outDir, 'features.csv'));
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(header).toHaveLength(13 + 57);
    expect(rows.map((r) => r[0])).toEqual(rig.videoIds);
    const column = (row: string[], name: string) => row[header.indexOf(name)];
    for (const row of rows.slice(0, 2)) {
      const analysis = parseClipAnalysis(rig.uploaded.get(row[0])!.json);
      expect(column(row, 'stage')).toBe('done');
      expect(column(row, 'doppler')).toBe('true');
      expect(column(row, 'textured_frames')).toBe(String(analysis.textured_frames));
      expect(column(row, 'z')).toBe(String(analysis.label.z));
      expect(Number(column(row, 'z'))).toBe(analysis.label.z);
      expect(column(row, 'label_status')).toBe('unvalidated');
      expect(column(row, 'label')).toBe('Normal');
      expect(Number(column(row, 'mean_autoCorrelation'))).toBe(analysis.features!.mean_autoCorrelation);
      expect(Number(column(row, 'maxVelocityOfMaxAutoCorrelationFrame'))).toBe(analysis.features!.maxVelocityOfMaxAutoCorrelationFrame);
    }
    expect(rows.map((row) => column(row, 'route'))).toEqual(['s3', 's3', 's3']);
    expect(column(rows[2], 'stage')).toBe('failed');
    expect(column(rows[2], 'reason')).toBe('analysis_failed');
    expect(column(rows[2], 'z')).toBe('');
  }, 120_000);

  it('fetches nothing again on a second run, and fetches a damaged file anew', async () => {
    const outDir = join(dir, 'resume');
    expect((await results([rig.batchId, '--out', outDir])).code).toBe(0);
    const again = await results([rig.batchId, '--out', outDir]);
    expect(again.out.split('\n')[0]).toBe('3 clips: 0 files fetched, 5 already there');
    const zip = join(outDir, 'clips', `${rig.videoIds[0]}.zip`);
    truncateSync(zip, 100);
    const repaired = await results([rig.batchId, '--out', outDir]);
    expect(repaired.code).toBe(0);
    expect(repaired.out.split('\n')[0]).toBe('3 clips: 1 files fetched, 4 already there');
    expect(readFileSync(zip).equals(rig.uploaded.get(rig.videoIds[0])!.zip)).toBe(true);
  }, 120_000);

  it('finds the job from its batch id', async () => {
    const { code, out } = await results(['--batch', rig.batchId, '--out', join(dir, 'by-batch')]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('3 clips: 5 files fetched, 0 already there');
  }, 120_000);

  it("answers another tenant's job exactly as an unknown one, and writes nothing", async () => {
    const foreign = await results([rig.batchId, '--out', join(dir, 'foreign')], 'hospital-b');
    const unknown = await results(['0'.repeat(32), '--out', join(dir, 'foreign')], 'hospital-b');
    expect(foreign.code).toBe(1);
    expect(foreign.err).toBe('radiomics results: the status API answered 404 not_found: no such job\n');
    expect(unknown.err).toBe(foreign.err);
    expect(() => readFileSync(join(dir, 'foreign', 'features.csv'))).toThrow();
  }, 60_000);

  it("fills each clip's source from the status API where the intake sealed its name (SOURCE_NAME_KEY)", async () => {
    const sourceNames = sourceNameSealer(randomBytes(32).toString('base64'));
    const uid = '1.2.826.0.1.3680043.8.498.16017';
    const sources = ['hospital-a/ward 3/zz last, by name.mp4', dicomKeyOf('hospital-a', uid), 'hospital-a/failed.mp4'];
    for (const [i, sourceKey] of sources.entries())
      await recordSourceLookup(
        { doc: rig.status.dynamo.doc, tableName: 'radiomics' },
        { tenant: 'hospital-a', sourceKey, videoId: rig.videoIds[i], at: new Date().toISOString() },
        sourceNames,
      );
    const named = await localStatusApi(new DynamoJobStatusStore(rig.status.dynamo.doc, 'radiomics', { sourceNames }), rig.swift, {
      sourceNames,
    });
    try {
      const outDir = join(dir, 'named');
      expect((await results([rig.batchId, '--out', outDir], 'hospital-a', named.url)).code).toBe(0);
      const text = readFileSync(join(outDir, 'features.csv'), 'utf8');
      const rows = text.trimEnd().split('\r\n').slice(1);
      // the uploads in source order (the SOPInstanceUID is the PACS instance's source), each row's first cells exact
      const cells = [
        `${rig.videoIds[1]},${uid},s3,done,`,
        `${rig.videoIds[2]},hospital-a/failed.mp4,s3,failed,`,
        `${rig.videoIds[0]},"hospital-a/ward 3/zz last, by name.mp4",s3,done,`,
      ];
      expect(rows.map((row, i) => row.slice(0, cells[i].length))).toEqual(cells);
      const report = readFileSync(join(outDir, 'report.html'), 'utf8');
      expect(report).toContain('zz last, by name');
      expect(report).toContain(uid);
      // the same job through an API without the key names nothing
      const unnamed = join(dir, 'unnamed');
      expect((await results([rig.batchId, '--out', unnamed])).code).toBe(0);
      expect(csvRows(join(unnamed, 'features.csv')).map((row) => row[1])).toEqual(['source', '', '', '']);
    } finally {
      await named.close();
    }
  }, 120_000);

  it('names an output path it cannot write into, and exits 1', async () => {
    const { code, err } = await results([rig.batchId, '--out', join('/proc', 'version', 'out')]);
    expect(code).toBe(1);
    expect(err).toBe(`radiomics results: cannot write into ${join('/proc', 'version', 'out')} (ENOTDIR)\n`);
  });

  it('refuses a call without --out or with a malformed id, naming the problem', async () => {
    expect((await results([rig.batchId])).err).toMatch(/^radiomics results: --out DIR is required\n/);
    const bad = await results(['not-an-id', '--out', dir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^radiomics results: the id must be 32 hex characters\n/);
  });
});
