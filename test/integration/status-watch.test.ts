/**
 * `radiomics status JOB_ID --watch` against the real status API while sync-status moves a real emulator job:
 * it redraws in place until the job ends, then exits 0.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { run } from '#bin/commands/status.js';
import { createLogger } from '#lib/log.js';
import { DEFAULT_SYNC_SETTINGS, syncActiveJobs } from '#lib/status/sync.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { startStatusRig, type StatusRig } from '#test/support/status-rig.js';
import { startTokenKit, type TokenKit } from '#test/support/tokens.js';

let rig: StatusRig;
let kit: TokenKit;
let api: LocalHttpApi;

beforeAll(async () => {
  rig = await startStatusRig();
  kit = await startTokenKit();
  api = await localStatusApi(rig.store, rig.swift);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await kit?.close();
  await rig?.close();
});

describe('radiomics status --watch', () => {
  it('redraws the job in place on a terminal until it has ended, then exits 0', async () => {
    const job = await rig.submit({ items: 3, results: true, env: { FAKE_WORKER_ITEM_MS: '300' } });
    const sync = () =>
      syncActiveJobs({
        store: rig.store,
        jobs: rig.client,
        swift: rig.swift,
        settings: DEFAULT_SYNC_SETTINGS,
        log: createLogger({}, { level: 'error' }),
      });
    await sync();
    const writes: string[] = [];
    const out = { isTTY: true, write: (text: string) => writes.push(text) };
    const err = { write: (text: string) => writes.push(`ERR ${text}`) };
    const ticker = setInterval(() => void sync().catch(() => undefined), 200);
    let code: number;
    try {
      code = await run(
        [job.batchId, '--watch', '--interval', '0.1', '--api', api.url, '--token', await kit.hs({ tenant: 'hospital-a' })],
        {},
        out,
        err,
      );
    } finally {
      clearInterval(ticker);
    }
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
