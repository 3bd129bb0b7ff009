/**
 * The whole system, HW mode against the Palaemon CAS emulator: the key reaches the workers only through the
 * emulated attestation (the session's environment); the job JSON carries no key.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startStack, type Stack } from '#local/stack.js';
import { runClips, type RunReport } from '#local/run-clips.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { SHARED_DIR } from '#local/service-endpoints.js';
import { analyzePlain } from '#test/support/analyze-plain.js';

const CLIPS = ['VH020213M4_001559_20160429T120845.MP4', 'VH020213M4_001418_20160407T114936.MP4'].map((name) =>
  join(SHARED_DIR, 'samples', 'videos', name),
);

let stack: Stack;
let report: RunReport;

beforeAll(async () => {
  stack = await startStack({ mode: 'HW', windowSecs: 3, quietSecs: 0, tickMs: 1000, workers: 1 });
  report = await runClips(stack, CLIPS, { tenant: 'e2ehw' });
}, 600_000);

afterAll(async () => stack?.stop(), 60_000);

describe('end to end, HW mode', () => {
  it('the job completes and every clip equals `radiomics analyze` of the plain clip', async () => {
    expect(report.jobs.map((j) => j.status)).toEqual(['completed']);
    expect(report.clips.map((clip) => [clip.clip, clip.video?.stage, clip.apiStage])).toEqual(
      CLIPS.map((path) => [basename(path), 'sealed', { stage: 'done', reason: null, route: 's3' }]),
    );
    for (const [i, clip] of report.clips.entries()) {
      const plain = await analyzePlain(CLIPS[i]);
      expect(clip.result?.features).toEqual(plain.features);
      expect(clip.result?.label).toEqual(plain.label);
    }
  }, 120_000);

  it('the job JSON carries SCONE settings and no key; the session holds the key as a secret', async () => {
    expect(stack.submittedJobs).toHaveLength(1);
    const job = stack.submittedJobs[0];
    const env = job.env_vars as Record<string, string>;
    const batchId = report.jobs[0].batchId;
    expect(env.SCONE_CONFIG_ID).toBe(`${batchId}/radiomics`);
    expect(env.SCONE_MODE).toBe('HW');
    expect(Object.keys(env).sort()).toEqual([
      'SCONE_ALLOW_DLOPEN',
      'SCONE_ALPINE',
      'SCONE_CAS_ADDR',
      'SCONE_CONFIG_ID',
      'SCONE_HEAP',
      'SCONE_LAS_ADDR',
      'SCONE_LOG',
      'SCONE_MODE',
      'SCONE_STACK',
      'SCONE_VERSION',
    ]);
    const client = new PalaemonClient({ casAddress: stack.cas!.casAddress, tls: stack.casClientTls! });
    const session = parseYaml(await client.read(batchId)) as { secrets: Array<{ name: string; value: string }> };
    const key = session.secrets.find((secret) => secret.name === 'ENCRYPTION_KEY')!.value;
    expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(JSON.stringify(job)).not.toContain(key);
  });
});
