/**
 * report.html from `radiomics results` in real headless Chromium (Debian chromium + playwright-core), opened
 * from disk with every network request refused: each clip shows its frames and one plot per texture feature,
 * the decisions and the unvalidated z; the summary charts every clip and lists each with its route and stage. Screenshot: test-artifacts/results-report.png.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJobResults } from '#lib/results/export-job.js';
import { HttpStatusApi } from '#lib/results/status-api-client.js';
import { parseClipAnalysis } from '#lib/results/analysis.js';
import { launchChromium, type HeadlessChromium } from '#test/support/chromium.js';
import { REPO_ROOT } from '#local/service-endpoints.js';
import { SAMPLE_CLIPS, startResultsRig, type ResultsRig } from '#test/support/results-rig.js';

let rig: ResultsRig;
let dir: string;
let chromium: HeadlessChromium;

beforeAll(async () => {
  rig = await startResultsRig();
  dir = mkdtempSync(join(tmpdir(), 'results-report-'));
  chromium = await launchChromium();
}, 180_000);

afterAll(async () => {
  await chromium?.close();
  await rig?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('report.html in Chromium', () => {
  it('shows every clip with its frames, 28 feature plots, decisions and the unvalidated z, without any network', async () => {
    const origins = new Map([[rig.videoIds[0], { source: `demo/${SAMPLE_CLIPS[0]}.MP4`, route: 's3' }]]);
    const outcome = await exportJobResults({
      api: new HttpStatusApi(rig.api.url, await rig.token()),
      jobId: rig.batchId,
      outDir: dir,
      origins,
    });
    const page = await chromium.context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => !r.url().startsWith('file:') && !r.url().startsWith('data:') && requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(pathToFileURL(outcome.reportPath).href);
    await page.waitForLoadState('load');

    expect(await page.locator('section.clip').count()).toBe(3);
    for (const [i, id] of rig.videoIds.slice(0, 2).entries()) {
      const analysis = parseClipAnalysis(rig.uploaded.get(id)!.json);
      const section = page.locator(`section.clip[data-video="${id}"]`);
      const images = section.locator('.frames img');
      expect(await images.count()).toBe(analysis.frames);
      const sizes = await images.evaluateAll((imgs) =>
        imgs.map((img) => [
          (img as HTMLImageElement).complete,
          (img as HTMLImageElement).naturalWidth,
          (img as HTMLImageElement).naturalHeight,
        ]),
      );
      expect(sizes.every(([complete, w, h]) => complete === true && w === 80 && h === 106)).toBe(true);
      expect(await section.locator('svg.spark').count()).toBe(28);
      expect(await section.locator('svg.spark[data-feature="meanVelocity"] circle').count()).toBe(analysis.textured_frames);
      const facts = await section.locator('.facts').innerText();
      expect(facts).toContain('Doppler (frame 0)\tyes: colour Doppler found');
      expect(facts).toContain(`z\t${analysis.label.z!.toFixed(1)} → Normal unvalidated`);
      expect(facts).toContain(`${analysis.textured_frames} of ${analysis.frames} frames textured`);
      if (i === 0) expect(await section.locator('h2').innerText()).toMatch(new RegExp(`^${SAMPLE_CLIPS[0]} `));
    }
    const failed = page.locator(`section.clip[data-video="${rig.videoIds[2]}"]`);
    expect(await failed.getAttribute('data-stage')).toBe('failed');
    expect(await failed.locator('.facts').innerText()).toContain('analysis_failed');
    expect(await page.locator('#summary svg.dots').count()).toBe(3);
    const table = await page
      .locator('#clips tbody tr')
      .evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll('td')].slice(1, 3).map((td) => td.textContent)));
    expect(table).toEqual([
      ['s3', 'done'],
      ['s3', 'done'],
      ['s3', 'failed (analysis_failed)'],
    ]);
    expect(await page.locator('#summary svg.dots').first().locator('circle').count()).toBe(2);
    expect(await page.locator('.caveat').innerText()).toContain('not a diagnosis');
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    const shot = join(REPO_ROOT, 'test-artifacts', 'results-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  }, 180_000);
});
