/** bench/run.ts, as `npm run bench` runs it (a child process): its --help and its usage errors; no bench runs here. */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '#local/service-endpoints.js';

const BENCHES = readdirSync(join(REPO_ROOT, 'bench'))
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.includes('-'))
  .map((file) => file.slice(0, -3))
  .sort();
const USAGE = `usage: npm run bench -- <${BENCHES.join('|')}> [ARGS...]`;

function bench(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('npm run bench', () => {
  it('--help: the usage listing the benches, the environment and the exit statuses; exit 0', () => {
    const { code, stdout, stderr } = bench('--help');
    expect({ code, stderr, firstLine: stdout.split('\n')[0] }).toEqual({ code: 0, stderr: '', firstLine: USAGE });
    expect(stdout).toMatch(/\nenvironment:\n {2}BENCH_SYNC_JOBS .+\n/);
    expect(stdout).toMatch(/\nexit status:\n {2}0 {3}.+\n {2}1 {3}.+\n {2}2 {3}usage error/);
  });

  it.each([
    [['--no-such-option'], "unknown option '--no-such-option'"],
    [['nope'], "unknown bench 'nope'"],
    [[], 'a bench NAME is required'],
  ])('%j: exit 2 naming the problem, with the usage', (argv, problem) => {
    expect(bench(...argv)).toEqual({ code: 2, stdout: '', stderr: `bench: ${problem}\n${USAGE}\n` });
  });
});
