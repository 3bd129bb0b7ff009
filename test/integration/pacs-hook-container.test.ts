/** containers/pacs-hook: the bundle the image runs starts from its environment alone, answers, and stops on SIGTERM. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPacsHookBundle } from '#containers/pacs-hook/build.js';
import { setTimeout as sleep } from 'node:timers/promises';

let outDir: string;
let built: Awaited<ReturnType<typeof buildPacsHookBundle>>;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'pacs-hook-build-'));
  built = await buildPacsHookBundle(outDir);
}, 60_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the PACS hook container', () => {
  it('bundles main.ts and the lib it needs, nothing from local/ or test/', () => {
    expect(readdirSync(outDir).sort()).toEqual(['package.json', 'server.mjs']);
    expect(built.inputs).toEqual(
      expect.arrayContaining(['containers/pacs-hook/main.ts', 'containers/pacs-hook/server.ts', 'lib/pacs/hook.ts']),
    );
    expect(built.inputs.filter((input) => !/^(lib|containers)\//.test(input))).toEqual([]);
  });

  it('starts from the environment, refuses a request without credentials, and stops on SIGTERM', async () => {
    const credentials = join(outDir, 'credentials.json');
    writeFileSync(credentials, JSON.stringify({ basic: [], bearer: [] }));
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      INTAKE_BUCKET: 'intake',
      PACS_RETRIEVE_BASE: 'https://hook.test/dicomweb',
      PACS_CREDENTIALS_FILE: credentials,
    };
    const child = spawn(process.execPath, [built.bundle], { cwd: outDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (let i = 0; i < 100 && !output.includes('pacs hook listening'); i++) await sleep(100);
      const res = await fetch(`http://127.0.0.1:${port}/instances`, { method: 'POST' });
      expect([res.status, res.headers.get('www-authenticate'), await res.json()]).toEqual([
        401,
        'Basic realm="pacs-hook", Bearer',
        { HttpStatus: 401, Reason: 'missing_credentials', Message: 'credentials are required' },
      ]);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('"message":"pacs hook stopped"');
  }, 30_000);

  it('exits 1 naming what its configuration lacks', async () => {
    const child = spawn(process.execPath, [built.bundle], {
      cwd: outDir,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(JSON.parse(output.trim().split('\n').pop()!)).toMatchObject({ level: 'error', message: 'misconfigured' });
    expect(output).toContain('INTAKE_BUCKET is missing');
  }, 30_000);
});
