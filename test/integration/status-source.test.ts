/**
 * `radiomics status --source KEY` / `--sop UID` / `--video ID` against the real status API over dynalite, an
 * emulator job whose fake worker wrote results to real Swift, and lookup rows written as the intake writes them
 * with SOURCE_NAME_KEY (recordSourceLookup with a sealer): the video with what was uploaded as it, its job and
 * result links, exact lines and exit statuses; through an API without the key, a video by id names no source.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { run } from '#bin/commands/status.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { keys, videoIndexKeys } from '#lib/store/keys.js';
import type { VideoRecord } from '#lib/store/records.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { hex32, startStatusRig, waitFor, type StatusRig, type SubmittedJob } from '#test/support/status-rig.js';
import { startTokenKit, type TokenKit } from '#test/support/tokens.js';

const SOURCES = ['hospital-a/ward 3/scan, one (1).mp4', 'hospital-a/scan-2.mp4', 'hospital-a/scan-3.mp4'];
const WAITING = 'hospital-a/waiting.mp4';
const SOP = '1.2.826.0.1.3680043.8.498.7001';

let rig: StatusRig;
let kit: TokenKit;
let api: LocalHttpApi;
/** The same table through an API without SOURCE_NAME_KEY: it opens no name. */
let unnamedApi: LocalHttpApi;
let job: SubmittedJob;
let waitingId: string;
let pacsId: string;

const table = () => ({ doc: rig.dynamo.doc, tableName: 'radiomics' });
const sync = () => rig.sync();
const sourceNames = sourceNameSealer(randomBytes(32).toString('base64'));
const lookup = (sourceKey: string, videoId: string, tenant = 'hospital-a') =>
  recordSourceLookup(table(), { tenant, sourceKey, videoId, at: new Date().toISOString() }, sourceNames);

beforeAll(async () => {
  rig = await startStatusRig();
  kit = await startTokenKit();
  await rig.swift.setAccountTempUrlKey(LOCAL_TEMPURL_KEY, { slot: 2 });
  api = await localStatusApi(new DynamoJobStatusStore(rig.dynamo.doc, 'radiomics', { sourceNames }), rig.swift, { sourceNames });
  unnamedApi = await localStatusApi(rig.store, rig.swift);
  const videoIds = [hex32(), hex32(), hex32()].sort();
  job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_FAIL_ITEMS: videoIds[2] } });
  await waitFor('the job to complete', async () => ((await rig.client.get(job.jobId)).status === 'completed' ? true : undefined), 120_000);
  await sync();
  for (const [i, key] of SOURCES.entries()) await lookup(key, videoIds[i]);
  waitingId = hex32();
  await rig.putVideo(waitingId, undefined, 'hospital-a', 'sealed');
  await lookup(WAITING, waitingId);
  // a PACS instance as the hook leaves it: a DICOM video still being sealed
  pacsId = hex32();
  const at = new Date().toISOString();
  const video: VideoRecord = { videoId: pacsId, tenant: 'hospital-a', stage: 'sealing', kind: 'dicom', receivedAt: at, updatedAt: at };
  await rig.dynamo.doc.send(
    new PutCommand({ TableName: 'radiomics', Item: { ...keys.video(pacsId), ...video, ...videoIndexKeys(video) } }),
  );
  await lookup(dicomKeyOf('hospital-a', SOP), pacsId);
}, 180_000);

afterAll(async () => {
  await api?.close();
  await unnamedApi?.close();
  await kit?.close();
  await rig?.close();
});

function sink() {
  const stream = {
    text: '',
    writes: [] as string[],
    write(chunk: string) {
      stream.text += chunk;
      stream.writes.push(chunk);
      return true;
    },
  };
  return stream;
}

async function status(args: string[], tenant = 'hospital-a', apiUrl = api.url) {
  const out = sink();
  const err = sink();
  const code = await run([...args, '--api', apiUrl, '--token', await kit.hs({ tenant })], {}, out, err);
  return { code, out: out.text, err: err.text };
}

/** The API's own answer for a video, whose times the command prints as they are. */
async function videoBody(videoId: string): Promise<Record<string, string | null>> {
  const res = await fetch(`${api.url}/videos/${videoId}`, {
    headers: { authorization: `Bearer ${await kit.hs({ tenant: 'hospital-a' })}` },
  });
  return (await res.json()) as Record<string, string | null>;
}

const JOB_LINE = () => `job        ${job.batchId}  completed  [${'#'.repeat(24)}] 3/3 100.0%  failed 1`;
const times = (body: Record<string, string | null>) => [
  `received   ${body.received_at}`,
  `sealed     ${body.sealed_at ?? '-'}`,
  `updated    ${body.updated_at}`,
];
const tempUrl = (name: string) =>
  new RegExp(`^http://[^/]+/v1/AUTH_[^/]+/${job.batchId}-results/${name.replace('.', '\\.')}\\?temp_url_sig=[^&]+&temp_url_expires=\\d+$`);

/** What `status` shows of the video not in a job yet, looked up by its upload or by its id alike. */
async function waitingView(): Promise<string> {
  return [
    `source     ${WAITING}`,
    `video      ${waitingId} (s3)`,
    'stage      sealed',
    'batch      -',
    'job        -',
    ...times(await videoBody(waitingId)),
    'results    none yet',
    '',
  ].join('\n');
}

describe('radiomics status --source', () => {
  it("shows the upload's video: its id, stage, batch, job and a working link to its result; exit 0", async () => {
    const [videoId] = job.videoIds;
    const { code, out, err } = await status(['--source', SOURCES[0]]);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const lines = out.trimEnd().split('\n');
    expect(lines.slice(0, 8)).toEqual([
      `source     ${SOURCES[0]}`,
      `video      ${videoId} (s3)`,
      'stage      done',
      `batch      ${job.batchId}`,
      JOB_LINE(),
      ...times(await videoBody(videoId)),
    ]);
    expect(lines).toHaveLength(10);
    const [label, url] = lines[8].split(/ +/);
    expect(label).toBe('json');
    expect(url).toMatch(tempUrl(`${videoId}.json`));
    expect(lines[9]).toMatch(/^links {6}expire at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const fetched = await fetch(url);
    expect([fetched.status, await fetched.text()]).toEqual([200, '{}']);
  });

  it("shows a failed clip's reason and the link to its error file", async () => {
    const videoId = job.videoIds[2];
    const { code, out } = await status(['--source', SOURCES[2]]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines.slice(1, 5)).toEqual([
      `video      ${videoId} (s3)`,
      'stage      failed (analysis_failed)',
      `batch      ${job.batchId}`,
      JOB_LINE(),
    ]);
    expect(lines[8].split(/ +/)[0]).toBe('error.json');
    expect(lines[8].split(/ +/)[1]).toMatch(tempUrl(`${videoId}.error.json`));
    expect(lines).toHaveLength(10);
  });

  it('shows a video not in a job yet without batch, job or links', async () => {
    const { code, out } = await status(['--source', WAITING]);
    expect(code).toBe(0);
    expect(out).toBe(await waitingView());
  });

  it("prints the API's answer with --json, its source as the API names it", async () => {
    const { code, out } = await status(['--source', SOURCES[1], '--json']);
    expect(code).toBe(0);
    const body = await videoBody(job.videoIds[1]);
    expect(body.source).toBe(SOURCES[1]);
    expect(JSON.parse(out)).toEqual(body);
  });

  it("says in one line that the tenant has no such upload, for an unknown key and another tenant's alike; exit 1", async () => {
    const unknown = await status(['--source', 'hospital-a/never-uploaded.mp4']);
    expect(unknown).toEqual({
      code: 1,
      out: '',
      err: 'radiomics status: no video for source hospital-a/never-uploaded.mp4 in your tenant\n',
    });
    const foreign = await status(['--source', SOURCES[0]], 'hospital-b');
    expect(foreign).toEqual({ code: 1, out: '', err: `radiomics status: no video for source ${SOURCES[0]} in your tenant\n` });
    // a key is echoed as given, its control characters made harmless
    const withEscape = await status(['--source', 'hospital-a/a\x1b[2Jb.mp4']);
    expect(withEscape.err).toBe('radiomics status: no video for source hospital-a/a?[2Jb.mp4 in your tenant\n');
  });

  it('words a refused token as it does for a job', async () => {
    const out = sink();
    const err = sink();
    expect(await run(['--source', SOURCES[0], '--api', api.url, '--token', 'garbage'], {}, out, err)).toBe(1);
    expect(err.text).toBe('radiomics status: 401 unauthorized: the bearer token is not a compact JWS\n');
  });
});

describe('radiomics status --sop', () => {
  it("shows a PACS instance's video", async () => {
    const { code, out } = await status(['--sop', SOP]);
    expect(code).toBe(0);
    expect(out.split('\n').slice(0, 5)).toEqual([
      `sop        ${SOP}`,
      `video      ${pacsId} (pacs)`,
      'stage      received',
      'batch      -',
      'job        -',
    ]);
  });

  it('says in one line that the tenant has no such instance; exit 1', async () => {
    expect(await status(['--sop', '1.2.3.4'])).toEqual({
      code: 1,
      out: '',
      err: 'radiomics status: no video for SOP instance 1.2.3.4 in your tenant\n',
    });
    expect((await status(['--sop', SOP], 'hospital-b')).err).toBe(`radiomics status: no video for SOP instance ${SOP} in your tenant\n`);
  });
});

describe('radiomics status --video', () => {
  it('shows what was uploaded as the video, then the video as for --source', async () => {
    const { code, out, err } = await status(['--video', waitingId]);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(await waitingView());
    const done = await status(['--video', job.videoIds[0]]);
    expect(done.out.split('\n').slice(0, 5)).toEqual([
      `source     ${SOURCES[0]}`,
      `video      ${job.videoIds[0]} (s3)`,
      'stage      done',
      `batch      ${job.batchId}`,
      JOB_LINE(),
    ]);
  });

  it("names a PACS instance's video by its SOPInstanceUID", async () => {
    const { code, out } = await status(['--video', pacsId]);
    expect(code).toBe(0);
    expect(out.split('\n').slice(0, 3)).toEqual([`sop        ${SOP}`, `video      ${pacsId} (pacs)`, 'stage      received']);
  });

  it("prints a name's control characters as '?'", async () => {
    const videoId = hex32();
    await rig.putVideo(videoId, undefined, 'hospital-a', 'sealed');
    await lookup('hospital-a/a\x1b[2Jb\r.mp4', videoId);
    const { code, out } = await status(['--video', videoId]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('source     hospital-a/a?[2Jb?.mp4');
  });

  it("prints the API's answer with --json, source included, unchanged", async () => {
    const { code, out } = await status(['--video', pacsId, '--json']);
    expect(code).toBe(0);
    const body = await videoBody(pacsId);
    expect(body.source).toBe(SOP);
    expect(JSON.parse(out)).toEqual(body);
  });

  it('shows source - through an API without SOURCE_NAME_KEY, and --json its null', async () => {
    const { code, out } = await status(['--video', waitingId], 'hospital-a', unnamedApi.url);
    expect(code).toBe(0);
    expect(out.split('\n').slice(0, 3)).toEqual(['source     -', `video      ${waitingId} (s3)`, 'stage      sealed']);
    const json = await status(['--video', waitingId, '--json'], 'hospital-a', unnamedApi.url);
    expect(JSON.parse(json.out).source).toBeNull();
  });

  it("says in one line that the tenant has no such video, for an unknown id and another tenant's alike; exit 1", async () => {
    const unknownId = hex32();
    expect(await status(['--video', unknownId])).toEqual({
      code: 1,
      out: '',
      err: `radiomics status: no video ${unknownId} in your tenant\n`,
    });
    expect(await status(['--video', waitingId], 'hospital-b')).toEqual({
      code: 1,
      out: '',
      err: `radiomics status: no video ${waitingId} in your tenant\n`,
    });
  });
});

describe('radiomics status --video, --source, --sop: usage', () => {
  it.each([
    [[hex32(), '--video', hex32()], 'JOB_ID and --video do not go together'],
    [['--video', hex32(), '--source', SOURCES[0]], '--video and --source do not go together'],
    [['--video', hex32(), '--sop', SOP], '--video and --sop do not go together'],
    [['--video', 'ABC'], '--video must be a video id (32 hex characters)'],
    [[hex32(), '--source', SOURCES[0]], 'JOB_ID and --source do not go together'],
    [[hex32(), '--sop', SOP], 'JOB_ID and --sop do not go together'],
    [['--source', SOURCES[0], '--sop', SOP], '--source and --sop do not go together'],
    [['--sop', '1.02.3'], '--sop must be a DICOM UID (digits and dots, at most 64 characters)'],
    [['--source', `hospital-a/${'é'.repeat(510)}`], '--source must be an object key of 1 to 1024 bytes'],
    [['--source'], '--source needs a value'],
  ])('%j: exit 2, the problem named', async (args, problem) => {
    const { code, out, err } = await status(args);
    expect({ code, out, firstLine: err.split('\n')[0] }).toEqual({ code: 2, out: '', firstLine: `radiomics status: ${problem}` });
  });
});

describe('radiomics status --source --watch', () => {
  it('prints each change until the video is done, then exits 0', async () => {
    const videoIds = [hex32(), hex32()].sort();
    const running = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_ITEM_MS: '300' } });
    const key = 'hospital-a/watched.mp4';
    await lookup(key, videoIds[1]);
    await sync();
    const out = sink();
    const err = sink();
    const ticker = setInterval(() => void sync().catch(() => undefined), 200);
    let code: number;
    try {
      code = await run(
        ['--source', key, '--watch', '--interval', '0.1', '--api', api.url, '--token', await kit.hs({ tenant: 'hospital-a' })],
        {},
        out,
        err,
      );
    } finally {
      clearInterval(ticker);
    }
    expect({ code, err: err.text }).toEqual({ code: 0, err: '' });
    const frames = out.writes.map((w) => w.split('\n'));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.every((f) => f[0] === `source     ${key}` && f[1] === `video      ${videoIds[1]} (s3)`)).toBe(true);
    expect(frames[0][2]).not.toBe('stage      done');
    const last = frames[frames.length - 1];
    expect(last[2]).toBe('stage      done');
    expect(last[4].startsWith(`job        ${running.batchId}  `)).toBe(true);
  }, 120_000);
});
