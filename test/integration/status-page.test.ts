/**
 * The status page in real headless Chromium (Debian chromium + playwright-core): paste a token, see the job
 * listed, and watch it move to completed as sync-status runs. Screenshot: test-artifacts/status-page.png.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createLogger } from '#lib/log.js';
import { routeRequest, type ApiDeps } from '#lib/status/api/router.js';
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { startLocalHttpApi, type LocalHttpApi } from '#local/status-api-server.js';
import { loadServices, REPO_ROOT } from '#local/service-endpoints.js';
import { startStatusRig, type StatusRig } from '#test/support/status-rig.js';
import { AUDIENCE, HS_SECRET, ISSUER, startTokenKit, type TokenKit } from '#test/support/tokens.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';

let rig: StatusRig;
let kit: TokenKit;
let api: LocalHttpApi;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  rig = await startStatusRig();
  kit = await startTokenKit();
  const services = loadServices();
  const deps: ApiDeps = {
    verifier: createJwtVerifier({ keys: { kind: 'secret', secret: HS_SECRET }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' }),
    store: rig.store,
    swift: new SwiftClient({ auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }) }),
    results: { tempUrlKey: LOCAL_TEMPURL_KEY, ttlSecs: 600, maxLinks: 100 },
    pageRefreshSecs: 1,
    log: createLogger({}, { level: 'error' }),
  };
  api = await startLocalHttpApi((event) => routeRequest(event, deps));
  profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  // a fresh --user-data-dir: playwright passes it itself for a persistent context
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await kit?.close();
  await rig?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe('status page in Chromium', () => {
  it("lists the tenant's job with a progress bar and shows it move to completed", async () => {
    const job = await rig.submit({ items: 4, results: true, env: { FAKE_WORKER_ITEM_MS: '500' } });
    const sync = () => rig.sync();
    await sync();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${api.url}/`);
    await page.fill('#token', await kit.hs({ tenant: 'hospital-a' }));
    await page.click('button[type=submit]');
    const row = page.locator(`tr[data-job="${job.batchId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-status')).toMatch(/^(created|ongoing|submitted)$/);
    const ticker = setInterval(() => void sync().catch(() => undefined), 300);
    try {
      await page.waitForSelector(`tr[data-job="${job.batchId}"][data-status="completed"]`, { timeout: 60_000 });
    } finally {
      clearInterval(ticker);
    }
    expect(await row.locator('.status').textContent()).toBe('completed');
    expect(await row.locator('[role=progressbar]').getAttribute('aria-valuenow')).toBe('100');
    expect(await row.locator('.status').evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(30, 142, 62)');
    expect(await row.locator('td').nth(3).textContent()).toBe('4 / 4');
    expect(page.url()).toBe(`${api.url}/`);
    expect(errors).toEqual([]);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    const shot = join(REPO_ROOT, 'test-artifacts', 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(1000);
  });

  it('keeps in sessionStorage only a token the API accepted, never a PACS write token, and drops it once refused', async () => {
    const page = await browser.newPage();
    const stored = () => page.evaluate(() => sessionStorage.getItem('radiomics-token'));
    await page.goto(`${api.url}/`);
    await page.fill('#token', await kit.hs({ tenant: 'hospital-a', scope: 'pacs:write' }, { audience: 'radiomics-pacs' }));
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('message')!.textContent !== '');
    expect(await page.textContent('#message')).toBe("the token's aud claim is not accepted");
    expect(await stored()).toBeNull();

    const readToken = await kit.hs({ tenant: 'hospital-a', scope: 'status:read' });
    await page.fill('#token', readToken);
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('updated')!.textContent !== '');
    expect(await stored()).toBe(readToken);

    await page.evaluate(() => sessionStorage.setItem('radiomics-token', 'revoked.token.value'));
    await page.waitForFunction(() => sessionStorage.getItem('radiomics-token') === null);
    expect(await page.textContent('#message')).toBe('the bearer token is malformed');
    await page.close();
  });
});
