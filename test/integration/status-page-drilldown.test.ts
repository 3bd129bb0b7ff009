/**
 * The status page's drill-down in real headless Chromium over the real status API, Swift and dynalite: a job's
 * clips with stage, reason and working result links, named by their source as text (a hostile name creates no
 * element), a clip's plots from `videos/{id}/analysis`, human-readable times, paging past 100 jobs, the "how to
 * get a token" line; the strict CSP holds (no console errors).
 * Screenshot: test-artifacts/status-page-drilldown.png.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Page } from 'playwright-core';
import { keys, tenantBatchKeys } from '#lib/store/keys.js';
import { dicomKeyOf } from '#lib/pacs/instance-key.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { recordSourceLookup } from '#lib/store/source-lookup.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { localStatusApi } from '#test/support/local-status-api.js';
import { parseClipAnalysis } from '#lib/results/analysis.js';
import { launchChromium, type HeadlessChromium } from '#test/support/chromium.js';
import { REPO_ROOT } from '#local/service-endpoints.js';
import { hex32 } from '#test/support/status-rig.js';
import { startResultsRig, type ResultsRig } from '#test/support/results-rig.js';

let rig: ResultsRig;
let chromium: HeadlessChromium;

beforeAll(async () => {
  rig = await startResultsRig();
  chromium = await launchChromium();
}, 180_000);

afterAll(async () => {
  await chromium?.close();
  await rig?.close();
});

async function openPage(tenant: string, apiUrl = rig.api.url): Promise<{ page: Page; errors: string[] }> {
  const page = await chromium.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${apiUrl}/`);
  await page.fill('#token', await rig.token(tenant));
  await page.click('button[type=submit]');
  return { page, errors };
}

async function get(path: string, tenant: string) {
  const res = await fetch(`${rig.api.url}${path}`, { headers: { authorization: `Bearer ${await rig.token(tenant)}` } });
  return { status: res.status, text: await res.text() };
}

describe('GET /videos/{id}/analysis', () => {
  it("answers the tenant's own analysis as stored, and 404 alike for another tenant's, unknown or unanalysed ids", async () => {
    const [analysed, , failed] = rig.videoIds;
    expect(await get(`/videos/${analysed}/analysis`, 'hospital-a')).toEqual({ status: 200, text: rig.uploaded.get(analysed)!.json });
    const foreign = await get(`/videos/${analysed}/analysis`, 'hospital-b');
    expect(foreign.status).toBe(404);
    expect(await get(`/videos/${hex32()}/analysis`, 'hospital-b')).toEqual(foreign);
    expect(await get(`/videos/${failed}/analysis`, 'hospital-a')).toEqual(foreign);
  });
});

describe('status page drill-down in Chromium', () => {
  it("shows a job's clips with stage, reason and working links, and a clip's plots", async () => {
    const { page, errors } = await openPage('hospital-a');
    const row = page.locator(`tr[data-job="${rig.batchId}"]`);
    await row.waitFor({ timeout: 30_000 });
    const submitted = row.locator('td').nth(5);
    expect(await submitted.textContent()).toMatch(/ \(\d+ (s|min) ago\)$/);
    expect(await submitted.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await page.locator('#how').textContent()).toContain('AUTH_ISSUER');

    await row.click();
    const [done0, done1, failed] = rig.videoIds;
    await page.waitForSelector(`#clips tr[data-video="${done0}"][data-stage="done"]`, { timeout: 30_000 });
    await page.waitForSelector(`#clips tr[data-video="${done1}"][data-stage="done"]`, { timeout: 30_000 });
    await page.waitForSelector(`#clips tr[data-video="${failed}"][data-stage="failed"]`, { timeout: 30_000 });
    expect(await page.locator(`#clips tr[data-video="${failed}"] td`).nth(2).textContent()).toBe('analysis_failed');
    // an API without SOURCE_NAME_KEY names no clip: each is shown by its video id
    expect(await page.locator('#clips td.clip-name').allTextContents()).toEqual([done0, done1, failed]);
    expect(await page.locator(`#clips tr[data-video="${failed}"] a`).allTextContents()).toEqual(['error']);
    const clip = page.locator(`#clips tr[data-video="${done0}"]`);
    expect(await clip.locator('a').allTextContents()).toEqual(['json', 'zip']);
    const jsonLink = await clip.locator('a', { hasText: 'json' }).getAttribute('href');
    const fetched = await fetch(jsonLink!);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe(rig.uploaded.get(done0)!.json);

    await clip.locator('button.report').click();
    const report = page.locator(`tr.clip-report[data-video="${done0}"]`);
    await report.locator('svg.spark').first().waitFor({ timeout: 30_000 });
    const analysis = parseClipAnalysis(rig.uploaded.get(done0)!.json);
    expect(await report.locator('svg.spark').count()).toBe(28);
    expect(await report.locator('svg.spark[data-feature="meanVelocity"] circle').count()).toBe(analysis.textured_frames);
    expect(await report.locator('.decisions').textContent()).toBe(
      `Doppler (frame 0): yes · texture: ${analysis.textured_frames} of ${analysis.frames} frames (ok) · z = ${analysis.label.z!.toFixed(1)} → Normal unvalidated: not a diagnosis`,
    );
    expect(errors).toEqual([]);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    const shot = join(REPO_ROOT, 'test-artifacts', 'status-page-drilldown.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    await page.close();
  }, 120_000);

  it('names each clip by its source as text, never as markup, and by its video id where it has none, in the order of those names', async () => {
    const sourceNames = sourceNameSealer(randomBytes(32).toString('base64'));
    const [first, second, unnamed] = rig.videoIds;
    // the lower video id gets the name that sorts last, so that the page's order by name is not its order by id
    const [named, pacs] = first < second ? [first, second] : [second, first];
    const hostile = 'hospital-a/ward 3/<img src=x onerror="document.body.dataset.pwned=1">scan.mp4';
    const uid = '1.2.826.0.1.3680043.8.498.16020';
    for (const [videoId, sourceKey] of [
      [named, hostile],
      [pacs, dicomKeyOf('hospital-a', uid)],
    ])
      await recordSourceLookup(
        { doc: rig.status.dynamo.doc, tableName: 'radiomics' },
        { tenant: 'hospital-a', sourceKey, videoId, at: new Date().toISOString() },
        sourceNames,
      );
    const api = await localStatusApi(new DynamoJobStatusStore(rig.status.dynamo.doc, 'radiomics', { sourceNames }), rig.swift, {
      sourceNames,
    });
    try {
      const { page, errors } = await openPage('hospital-a', api.url);
      await page.locator(`tr[data-job="${rig.batchId}"]`).click({ timeout: 30_000 });
      for (const videoId of rig.videoIds) await page.waitForSelector(`#clips tr[data-video="${videoId}"][data-stage]`, { timeout: 30_000 });
      const names = page.locator('#clips td.clip-name');
      // in the order of what the page shows: the source, else the video id
      const shown: Array<[string, string | null]> = [
        [hostile, named],
        [uid, pacs],
        [unnamed, null],
      ];
      shown.sort(([a], [b]) => (a < b ? -1 : 1));
      await page.waitForFunction(
        (expected) => [...document.querySelectorAll('#clips td.clip-name')].map((td) => td.textContent).join('\n') === expected,
        shown.map(([name]) => name).join('\n'),
        { timeout: 30_000 },
      );
      expect(await names.allTextContents()).toEqual(shown.map(([name]) => name));
      expect(await names.evaluateAll((cells) => cells.map((td) => [td.childElementCount, td.getAttribute('title')]))).toEqual(
        shown.map(([, title]) => [0, title]),
      );
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => document.body.dataset.pwned)).toBeUndefined();
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await api.close();
    }
  }, 120_000);

  it('pages past 100 jobs with "Show older jobs"', async () => {
    const tenant = 'hospital-p';
    for (let i = 0; i < 105; i++) {
      const batchId = hex32();
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      await rig.status.dynamo.doc.send(
        new PutCommand({
          TableName: 'radiomics',
          Item: {
            ...keys.batch(batchId),
            batchId,
            tenant,
            state: 'completed',
            container: `c-${batchId}`,
            wrappedKey: 'w',
            createdAt,
            claims: 1,
            claimedBytes: 1,
            sealedItems: 1,
            sealedBytes: 1,
            inflight: {},
            items: 1,
            jobId: `kj-${i}`,
            submittedAt: createdAt,
            jobState: { status: 'completed' },
            ...tenantBatchKeys({ tenant, createdAt, batchId }),
          },
        }),
      );
    }
    const { page, errors } = await openPage(tenant);
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 100, undefined, { timeout: 30_000 });
    expect(await page.locator('#more').isVisible()).toBe(true);
    await page.click('#more');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 105, undefined, { timeout: 30_000 });
    expect(await page.locator('#more').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
