/** The deployed entry point, functions/batch.handler, configured only through its environment (as in Lambda). */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { startAsperathosEmulator, type AsperathosEmulator } from '#local/asperathos/index.js';
import { invokeAsync } from '#local/lambda-local.js';
import { startIntakeHarness, type IntakeHarness } from '#local/intake-harness.js';
import { loadServices, REPO_ROOT } from '#local/service-endpoints.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';

const CLIP = readFileSync(new URL('../../../shared/samples/videos/VH020213M4_001559_20160429T120845.MP4', import.meta.url));
let h: IntakeHarness;
let asperathos: AsperathosEmulator;
let secrets: string;

beforeAll(async () => {
  const services = loadServices();
  h = await startIntakeHarness();
  asperathos = await startAsperathosEmulator({
    redis: services.redis,
    pollMs: 100,
    workerCommand: () => ({ cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'fake-worker.ts')] }),
  });
  secrets = mkdtempSync(join(tmpdir(), 'batch-secrets-'));
  const file = (name: string, value: string) => {
    writeFileSync(join(secrets, name), value);
    return join(secrets, name);
  };
  Object.assign(process.env, {
    TABLE_NAME: 'radiomics',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    DYNAMODB_ENDPOINT: h.dynamo.endpoint,
    SWIFT_AUTH: 'tempauth',
    SWIFT_AUTH_URL: services.swift.authUrl,
    SWIFT_USER: services.swift.user,
    SWIFT_KEY_FILE: file('swift-key', services.swift.key),
    MASTER_KEY_FILE: file('master-key', h.masterKey.toString('base64')),
    TEMPURL_KEY_FILE: file('tempurl-key', LOCAL_TEMPURL_KEY),
    ENCLAVE_CONFIG_FILE: file(
      'config.json',
      JSON.stringify({
        mrenclave: 'a'.repeat(64),
        'image-name': 'worker:1',
        'fspf-tag': 'b'.repeat(32),
        'fspf-key': 'c'.repeat(64),
        'fspf-path': '/fspf.pb',
      }),
    ),
    ASPERATHOS_URL: asperathos.submissionsUrl,
    SGX_MODE: 'SIM',
    LOG_LEVEL: 'error',
  });
});

afterAll(async () => {
  await asperathos.close();
  await h.close();
  rmSync(secrets, { recursive: true, force: true });
});

describe('functions/batch.handler', () => {
  it('submits a batch named by a direct invocation, from its environment alone', async () => {
    const key = 'clinic/echo.mp4';
    const summary = await ingestS3Event(h.event(key, CLIP.length, await h.put(key, CLIP)), h.deps);
    const batchId = (await h.store.getVideo((summary.outcomes[0] as { videoId: string }).videoId))!.batchId!;
    const { handler } = await import('#functions/batch.js');
    const result = await invokeAsync('batch', handler, { batchId }, { maximumRetryAttempts: 0 });
    if (!result.ok) throw result.error;
    expect(result.result.steps).toEqual({ [batchId]: 'submitted' });
    const batch = await h.store.getBatch(batchId);
    expect(batch).toMatchObject({ state: 'submitted', items: 1, jobId: result.result.submitted[0].jobId });
    expect(batch!.workloadUrl).toMatch(/\/workload\.txt\?temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/);
  });

  it('a direct invocation naming an unknown batch fails clearly', async () => {
    const { handler } = await import('#functions/batch.js');
    const result = await invokeAsync('batch', handler, { batchId: 'no-such-batch' }, { maximumRetryAttempts: 0 });
    expect(result.ok).toBe(false);
    expect((result as { error: Error }).error.message).toBe('no such batch');
  });

  it('a scheduled run with nothing due does nothing', async () => {
    const { handler } = await import('#functions/batch.js');
    const result = await invokeAsync(
      'batch',
      handler,
      { source: 'aws.events', 'detail-type': 'Scheduled Event' },
      { maximumRetryAttempts: 0 },
    );
    if (!result.ok) throw result.error;
    expect(result.result.submitted).toEqual([]);
  });
});
