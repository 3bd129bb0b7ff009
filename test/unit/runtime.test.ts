/** Every script runs on the Node that .nvmrc names (local/on-node.sh): jest itself and the processes it starts. */
import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '#local/service-endpoints.js';

const major = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);
const wantedMajor = major(readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim());

describe('runtime', () => {
  it('runs jest on Node 22 or newer, as .nvmrc and engines ask', () => {
    expect(wantedMajor).toBe(22);
    expect(major(process.version)).toBeGreaterThanOrEqual(wantedMajor);
  });

  it('puts the same Node first on PATH for the processes the tests start (tsx included)', () => {
    const version = execFileSync('node', ['--import', 'tsx', '-e', 'console.log(process.version)'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    expect(version).toBe(process.version);
  });
});
