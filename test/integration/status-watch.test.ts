/**
 * `radiomics status JOB_ID --watch` and `--video ID --watch` against the real status API while sync-status moves a
 * real emulator job: it redraws in place until the job (or the video) has ended, then exits 0; a video's every
 * frame names what was uploaded as it (SOURCE_NAME_KEY).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { run } from '#bin/commands/status.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { hex32, startStatusRig, type StatusRig } from '#test/support/status-rig.js';
import { startTokenKit, type TokenKit } from '#test/support/tokens.js';

let rig: StatusRig;
let kit: TokenKit;
let api: LocalHttpApi;
const sourceNames = sourceNameSealer(randomBytes(32).toString('base64'));

beforeAll(async () => {
  rig = await startStatusRig();
  kit = await startTokenKit();
  api = await localStatusApi(new DynamoJobStatusStore(rig.dynamo.doc, 'radiomics', { sourceNames }), rig.swift, { sourceNames });
}, 60_000);

const sync = () => rig.sync();

/** Watches on a terminal while sync-status runs every 200 ms; every write, errors prefixed `ERR `. */
async function watchOnTerminal(args: string[]) {
  const writes: string[] = [];
  const out = { isTTY: true, write: (text: string) => writes.push(text) };
  const err = { write: (text: string) => writes.push(`ERR ${text}`) };
  const ticker = setInterval(() => void sync().catch(() => undefined), 200);
  try {
    const code = await run(
      [...args, '--watch', '--interval', '0.1', '--api', api.url, '--token', await kit.hs({ tenant: 'hospital-a' })],
      {},
      out,
      err,
    );
    return { code, writes };
  } finally {
    clearInterval(ticker);
  }
}

afterAll(async () => {
  await api?.close();
  await kit?.close();
  await rig?.close();
});

describe('radiomics status --watch', () => {
  it('redraws the job in place on a terminal until it has ended, then exits 0', async () => {
    const job = await rig.submit({ items: 3, results: true, env: { FAKE_WORKER_ITEM_MS: '300' } });
    await sync();
    const { code, writes } = await watchOnTerminal([job.batchId]);
    expect(code).toBe(0);
    expect(writes.some((w) => w.startsWith('ERR'))).toBe(false);
    expect(writes.length).toBeGreaterThanOrEqual(3);
    expect(writes[0]).toContain(`job        ${job.batchId}`);
    // every later frame first moves up over the previous one (9 lines) and clears it
    expect(
      writes
        .slice(1)
        .filter((_, i) => i % 2 === 0)
        .every((w) => w === '\x1b[9F\x1b[J'),
    ).toBe(true);
    const final = writes[writes.length - 1];
    expect(final).toContain('status     completed');
    expect(final).toContain(`progress   [${'#'.repeat(32)}] 3/3 100.0%`);
  }, 120_000);

  it('redraws a video by id under its source name until it is done, then exits 0', async () => {
    const videoIds = [hex32(), hex32()].sort();
    const job = await rig.submit({ videoIds, results: true, env: { FAKE_WORKER_ITEM_MS: '300' } });
    const source = 'hospital-a/ward 7/watched, by id (1).mp4';
    await recordSourceLookup(
      { doc: rig.dynamo.doc, tableName: 'radiomics' },
      { tenant: 'hospital-a', sourceKey: source, videoId: videoIds[1], at: new Date().toISOString() },
      sourceNames,
    );
    await sync();
    const { code, writes } = await watchOnTerminal(['--video', videoIds[1]]);
    expect({ code, errors: writes.filter((w) => w.startsWith('ERR')) }).toEqual({ code: 0, errors: [] });
    const frames = writes.filter((w) => !w.startsWith('\x1b['));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.every((f) => f.startsWith(`source     ${source}\nvideo      ${videoIds[1]} (s3)\nstage      `))).toBe(true);
    // every later frame first moves up over the previous one (its lines) and clears it
    expect(writes.filter((w) => w.startsWith('\x1b['))).toEqual(frames.slice(0, -1).map((f) => `\x1b[${f.split('\n').length - 1}F\x1b[J`));
    const last = frames[frames.length - 1].split('\n');
    expect(last.slice(2, 4)).toEqual(['stage      done', `batch      ${job.batchId}`]);
    // the video is done once its result is there, maybe before the job's progress shows it
    expect(last[4].startsWith(`job        ${job.batchId}  `)).toBe(true);
    expect(last[8]).toMatch(new RegExp(`^json {7}http://[^ ]+/${job.batchId}-results/${videoIds[1]}\\.json\\?temp_url_sig=`));
  }, 120_000);

  it('refuses --watch with --json', async () => {
    const err = {
      text: '',
      write(t: string) {
        this.text += t;
      },
    };
    expect(await run(['--watch', '--json', '--api', api.url, '--token', 'x'], {}, { write: () => true }, err)).toBe(2);
    expect(err.text.split('\n')[0]).toBe('radiomics status: --watch and --json do not go together');
  });
});
