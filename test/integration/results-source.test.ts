/**
 * `radiomics results --source KEY` / `--sop UID` against a real status API and real Swift (the results rig: two
 * analysed sample clips and a failed one in one job), with lookup rows written as the intake writes them
 * (recordSourceLookup): only that upload's clip is fetched and written, through the job's code path.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '#bin/commands/results.js';
import { parseClipAnalysis } from '#lib/results/analysis.js';
import { CSV_COLUMNS } from '#lib/results/features-csv.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { startResultsRig, type ResultsRig } from '#test/support/results-rig.js';
import { hex32 } from '#test/support/status-rig.js';

const ANALYSED = 'hospital-a/ward 3/first clip.mp4';
const FAILED = 'hospital-a/failed.mp4';
const WAITING = 'hospital-a/waiting.mp4';
const SOP = '1.2.826.0.1.3680043.8.498.7002';

let rig: ResultsRig;
let dir: string;
let waitingId: string;

const lookup = (sourceKey: string, videoId: string) =>
  recordSourceLookup(
    { doc: rig.status.dynamo.doc, tableName: 'radiomics' },
    { tenant: 'hospital-a', sourceKey, videoId, at: new Date().toISOString() },
  );

beforeAll(async () => {
  rig = await startResultsRig();
  dir = mkdtempSync(join(tmpdir(), 'results-source-'));
  await lookup(ANALYSED, rig.videoIds[0]);
  await lookup(FAILED, rig.videoIds[2]);
  await lookup(dicomKeyOf('hospital-a', SOP), rig.videoIds[1]);
  waitingId = hex32();
  await rig.status.putVideo(waitingId, undefined, 'hospital-a', 'sealed');
  await lookup(WAITING, waitingId);
}, 180_000);

afterAll(async () => {
  await rig?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sink() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

async function results(args: string[], tenant = 'hospital-a') {
  const out = sink();
  const err = sink();
  const code = await run([...args, '--api', rig.api.url, '--token', await rig.token(tenant)], {}, out, err);
  return { code, out: out.text, err: err.text };
}

/** RFC 4180 lines; the one quoted field (a source key with a comma) does not occur here. */
const csvRows = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\r\n')
    .map((line) => line.split(','));

describe('radiomics results --source', () => {
  it("fetches only that upload's clip files and writes its one row and its report", async () => {
    const outDir = join(dir, 'analysed');
    const [videoId] = rig.videoIds;
    const { code, out, err } = await results(['--source', ANALYSED, '--out', outDir]);
    expect(err).toBe(`files [${'#'.repeat(24)}] 2/2 100.0% (0 already there)\n`);
    expect(code).toBe(0);
    expect(out).toBe(`1 clip: 2 files fetched, 0 already there\n${join(outDir, 'features.csv')}\n${join(outDir, 'report.html')}\n`);
    expect(readdirSync(join(outDir, 'clips')).sort()).toEqual([`${videoId}.json`, `${videoId}.zip`, 'verified.json'].sort());
    const uploaded = rig.uploaded.get(videoId)!;
    expect(readFileSync(join(outDir, 'clips', `${videoId}.json`), 'utf8')).toBe(uploaded.json);
    expect(readFileSync(join(outDir, 'clips', `${videoId}.zip`)).equals(uploaded.zip)).toBe(true);
    const [header, ...rows] = csvRows(join(outDir, 'features.csv'));
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(1);
    const column = (name: string) => rows[0][header.indexOf(name)];
    const analysis = parseClipAnalysis(uploaded.json);
    expect([column('video_id'), column('source'), column('route'), column('stage'), column('label_status')]).toEqual([
      videoId,
      ANALYSED,
      's3',
      'done',
      'unvalidated',
    ]);
    expect(Number(column('z'))).toBe(analysis.label.z);
    expect(Number(column('mean_autoCorrelation'))).toBe(analysis.features!.mean_autoCorrelation);
    const report = readFileSync(join(outDir, 'report.html'), 'utf8');
    expect(report).toContain(videoId);
    expect(report).not.toContain(rig.videoIds[1]);
    expect(report).not.toContain(rig.videoIds[2]);
  }, 120_000);

  it('fetches nothing again on a second run', async () => {
    const outDir = join(dir, 'again');
    expect((await results(['--source', ANALYSED, '--out', outDir])).code).toBe(0);
    const again = await results(['--source', ANALYSED, '--out', outDir]);
    expect({ code: again.code, first: again.out.split('\n')[0] }).toEqual({ code: 0, first: '1 clip: 0 files fetched, 2 already there' });
  }, 120_000);

  it("writes a failed clip's error file and its reason", async () => {
    const outDir = join(dir, 'failed');
    const videoId = rig.videoIds[2];
    const { code, out } = await results(['--source', FAILED, '--out', outDir]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('1 clip: 1 files fetched, 0 already there');
    expect(readdirSync(join(outDir, 'clips')).sort()).toEqual([`${videoId}.error.json`, 'verified.json']);
    const [header, row] = csvRows(join(outDir, 'features.csv'));
    expect([
      row[header.indexOf('video_id')],
      row[header.indexOf('source')],
      row[header.indexOf('stage')],
      row[header.indexOf('reason')],
    ]).toEqual([videoId, FAILED, 'failed', 'analysis_failed']);
  }, 60_000);

  it('says in one line that the tenant has no such upload, and writes nothing; exit 1', async () => {
    const outDir = join(dir, 'unknown');
    expect(await results(['--source', 'hospital-a/never-uploaded.mp4', '--out', outDir])).toEqual({
      code: 1,
      out: '',
      err: 'radiomics results: no video for source hospital-a/never-uploaded.mp4 in your tenant\n',
    });
    expect(await results(['--source', ANALYSED, '--out', outDir], 'hospital-b')).toEqual({
      code: 1,
      out: '',
      err: `radiomics results: no video for source ${ANALYSED} in your tenant\n`,
    });
    expect(existsSync(outDir)).toBe(false);
  });

  it('says so when the video is in no job yet; exit 1', async () => {
    const outDir = join(dir, 'waiting');
    expect(await results(['--source', WAITING, '--out', outDir])).toEqual({
      code: 1,
      out: '',
      err: `radiomics results: video ${waitingId} has no job yet (stage sealed)\n`,
    });
    expect(existsSync(outDir)).toBe(false);
  });
});

describe('radiomics results --sop', () => {
  it("fetches a PACS instance's clip, its SOPInstanceUID as the row's source", async () => {
    const outDir = join(dir, 'sop');
    const videoId = rig.videoIds[1];
    const { code, out } = await results(['--sop', SOP, '--out', outDir]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('1 clip: 2 files fetched, 0 already there');
    const [header, row] = csvRows(join(outDir, 'features.csv'));
    expect([row[header.indexOf('video_id')], row[header.indexOf('source')]]).toEqual([videoId, SOP]);
  }, 120_000);

  it('says in one line that the tenant has no such instance; exit 1', async () => {
    expect(await results(['--sop', '1.2.3.4', '--out', join(dir, 'no-sop')])).toEqual({
      code: 1,
      out: '',
      err: 'radiomics results: no video for SOP instance 1.2.3.4 in your tenant\n',
    });
  });
});

describe('radiomics results --video', () => {
  it("fetches that clip by its id; its source is the API's, none through an API without SOURCE_NAME_KEY", async () => {
    const outDir = join(dir, 'by-id');
    const [videoId] = rig.videoIds;
    const { code, out } = await results(['--video', videoId, '--out', outDir]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('1 clip: 2 files fetched, 0 already there');
    const [header, ...rows] = csvRows(join(outDir, 'features.csv'));
    expect(rows.map((row) => ['video_id', 'source', 'route', 'stage'].map((name) => row[header.indexOf(name)]))).toEqual([
      [videoId, '', 's3', 'done'],
    ]);
  }, 120_000);

  it("says in one line that the tenant has no such video, for an unknown id and another tenant's alike; exit 1", async () => {
    const unknown = hex32();
    expect(await results(['--video', unknown, '--out', join(dir, 'no-id')])).toEqual({
      code: 1,
      out: '',
      err: `radiomics results: no video ${unknown} in your tenant\n`,
    });
    expect(await results(['--video', rig.videoIds[0], '--out', join(dir, 'no-id-b')], 'hospital-b')).toEqual({
      code: 1,
      out: '',
      err: `radiomics results: no video ${rig.videoIds[0]} in your tenant\n`,
    });
    expect(existsSync(join(dir, 'no-id'))).toBe(false);
  });
});

describe('radiomics results --source: usage', () => {
  it.each([
    [['--source', ANALYSED, hex32(), '--out', 'x'], '--source does not go with JOB_ID or --batch'],
    [['--sop', SOP, '--batch', hex32(), '--out', 'x'], '--sop does not go with JOB_ID or --batch'],
    [['--source', ANALYSED, '--sop', SOP, '--out', 'x'], '--source and --sop do not go together'],
    [['--sop', 'abc', '--out', 'x'], '--sop must be a DICOM UID (digits and dots, at most 64 characters)'],
    [['--source', ANALYSED], '--out DIR is required'],
    [['--out', 'x'], 'give one JOB_ID, --batch BATCH_ID, --video ID, --source KEY or --sop UID'],
    [['--video', 'xyz', '--out', 'x'], '--video must be a video id (32 hex characters)'],
    [['--video', hex32(), '--source', ANALYSED, '--out', 'x'], '--video and --source do not go together'],
    [['--video', hex32(), hex32(), '--out', 'x'], '--video does not go with JOB_ID or --batch'],
  ])('%j: exit 2, the problem named', async (args, problem) => {
    const { code, out, err } = await results(args);
    expect({ code, out, firstLine: err.split('\n')[0] }).toEqual({ code: 2, out: '', firstLine: `radiomics results: ${problem}` });
  });
});
