/** enclave/build.ts: one self-contained worker.mjs (+ classifier.json) that runs without node_modules. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HELP, USAGE, buildWorkerBundle, main, type BuildResult } from '#enclave/build.js';
import { REPO_ROOT } from '#local/service-endpoints.js';

const run = promisify(execFile);
let outDir: string;
let emptyEnvDir: string;
let built: BuildResult;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'enclave-build-'));
  emptyEnvDir = mkdtempSync(join(tmpdir(), 'enclave-build-env-'));
  built = await buildWorkerBundle({ outDir });
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(emptyEnvDir, { recursive: true, force: true });
});

describe('worker bundle', () => {
  it('writes worker.mjs, radiomics/classifier.json and a module package.json', () => {
    expect(built.bundle).toBe(join(outDir, 'worker.mjs'));
    expect(readdirSync(outDir).sort()).toEqual(['package.json', 'radiomics', 'worker.mjs']);
    expect(readFileSync(join(outDir, 'radiomics', 'classifier.json'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'enclave', 'radiomics', 'classifier.json'), 'utf8'),
    );
    expect(JSON.parse(readFileSync(join(outDir, 'package.json'), 'utf8'))).toEqual({ type: 'module', private: true });
    expect(built.bytes).toBe(readFileSync(built.bundle).length);
  });

  it('imports nothing but node built-ins (no node_modules in the image)', () => {
    const source = readFileSync(built.bundle, 'utf8');
    const specifiers = [...source.matchAll(/^import\s[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(specifiers.length > 0).toBe(true);
    expect(specifiers.filter((s) => !s.startsWith('node:'))).toEqual([]);
  });

  it('ships no local-only or test path: only enclave/, lib/ and npm dependencies, and no emulated attestation', () => {
    expect(built.inputs.filter((input) => !/^(enclave|lib|node_modules)\//.test(input))).toEqual([]);
    const source = readFileSync(built.bundle, 'utf8');
    expect(
      ['emulated-attestation', 'X-Emulated-Mrenclave', '/v1/attest/', 'LOCAL_CAS_', 'LOCAL_EMULATED_MRENCLAVE'].filter((marker) =>
        source.includes(marker),
      ),
    ).toEqual([]);
  });

  it('runs --help from its own directory', async () => {
    const { stdout } = await run(process.execPath, [built.bundle, '--help'], { cwd: outDir, env: { PATH: process.env.PATH ?? '' } });
    expect(stdout.split('\n')[0]).toBe('usage: worker [-h|--help]');
  });

  it('exits 2 naming the first missing variable when unconfigured', async () => {
    let failure: { code?: number; stdout?: string } = {};
    try {
      await run(process.execPath, [built.bundle], { cwd: outDir, env: { PATH: process.env.PATH ?? '', WORKER_ENV_DIR: emptyEnvDir } });
    } catch (error) {
      failure = error as { code?: number; stdout?: string };
    }
    expect(failure.code).toBe(2);
    const line = JSON.parse(failure.stdout ?? '{}') as Record<string, unknown>;
    expect([line.level, line.message, line.error_message]).toEqual([
      'error',
      'invalid configuration',
      'missing configuration: ENCRYPTION_KEY (environment or /env/ENCRYPTION_KEY)',
    ]);
  });
});

describe('the build command line', () => {
  async function call(argv: string[]) {
    const out = {
      text: '',
      write(text: string) {
        out.text += text;
        return true;
      },
    };
    const err = {
      text: '',
      write(text: string) {
        err.text += text;
        return true;
      },
    };
    const code = await main(argv, out, err);
    return { code, stdout: out.text, stderr: err.text };
  }

  it('--help: the usage, the environment and the exit statuses; exit 0', async () => {
    expect(await call(['--help'])).toEqual({ code: 0, stdout: `${HELP}\n`, stderr: '' });
    expect(HELP.split('\n')[0]).toBe('usage: node --import tsx enclave/build.ts [OUT_DIR] [--target node20] [--minify]');
    expect(HELP).toMatch(/\n\nenvironment:\n {2}none\n\nexit status:\n {2}0 {3}.+\n {2}1 {3}.+\n {2}2 {3}usage error$/);
  });

  it.each([
    [['--no-such-option'], "Unknown option '--no-such-option'"],
    [['--target'], "Option '--target <value>' argument missing"],
    [['a', 'b'], 'expected at most one OUT_DIR, got 2 arguments'],
  ])('%j: exit 2 naming the problem, with the usage', async (argv, problem) => {
    expect(await call(argv)).toEqual({ code: 2, stdout: '', stderr: `enclave/build.ts: ${problem}\n${USAGE}\n` });
  });
});
