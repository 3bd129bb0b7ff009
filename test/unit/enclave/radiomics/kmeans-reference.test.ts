/**
 * The fast k-means (grid-pruned k-means++ trials, block-sum cumulative search, Hamerly-bounded assignment) against
 * the straightforward port it replaced (test/support/radiomics/kmeans-reference.ts): the full analysis of every
 * sample clip, per-frame features included, must be byte-identical with either.
 */
import { describe, it, expect } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, SHARED_DIR } from '#local/service-endpoints.js';

const run = promisify(execFile);
const VIDEOS = join(SHARED_DIR, 'samples', 'videos');
const ANALYZE = join(REPO_ROOT, 'test', 'support', 'radiomics', 'analyze-full.ts');
const USE_REFERENCE = join(REPO_ROOT, 'test', 'support', 'radiomics', 'use-reference-kmeans.mjs');

async function analyse(clips: string[], hooks: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', ...hooks, ANALYZE, ...clips], {
    cwd: REPO_ROOT,
    maxBuffer: 256 << 20,
  });
  return stdout;
}

describe('fast k-means against the reference k-means', () => {
  it('the module hook really swaps in the reference implementation', async () => {
    const kmeansModule = './enclave/radiomics/kmeans.ts';
    const probe = `import('${kmeansModule}').then((m) => process.stdout.write(String(m.IMPLEMENTATION)))`;
    const swapped = await run(process.execPath, ['--import', 'tsx', '--import', USE_REFERENCE, '-e', probe], { cwd: REPO_ROOT });
    const plain = await run(process.execPath, ['--import', 'tsx', '-e', probe], { cwd: REPO_ROOT });
    expect([swapped.stdout, plain.stdout]).toEqual(['reference', 'undefined']);
  });

  it('gives byte-identical full analyses on all 21 sample clips', async () => {
    const clips = readdirSync(VIDEOS)
      .filter((f) => /\.mp4$/i.test(f))
      .sort()
      .map((f) => join(VIDEOS, f));
    expect(clips).toHaveLength(21);
    // two processes at a time (the machine has 2 cores), outside jest's sandbox
    const [fast, reference] = await Promise.all([analyse(clips, []), analyse(clips, ['--import', USE_REFERENCE])]);
    const lines = fast.trim().split('\n');
    expect(lines).toHaveLength(21);
    expect(lines.every((line) => JSON.parse(line).analysis?.result === 'ok')).toBe(true);
    expect(fast).toBe(reference);
  }, 900_000);
});
