/** `radiomics enclave-config`: config.json from the image build's output files (fixtures: test/fixtures/enclave/build-output). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '#bin/commands/enclave-config.js';
import { REPO_ROOT } from '#local/service-endpoints.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'enclave', 'build-output');
const TAG = '8b3c0f7e2a41d95c6e10b7a4f3d2c981';
const KEY = '5f1e9a2b7c3d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7';
const NODE_MRENCLAVE = 'e3b7a1c24d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d';

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'enclave-config-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

function capture() {
  const stream = {
    text: '',
    write(text: string) {
      stream.text += text;
      return true;
    },
  };
  return stream;
}

async function enclaveConfig(args: string[], stdin?: string) {
  const stdout = capture();
  const stderr = capture();
  const code = await run(args, {}, stdout, stderr, stdin === undefined ? {} : { stdin: () => stdin });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('radiomics enclave-config', () => {
  it('writes config.json (0600: it holds the FSPF key)', async () => {
    const file = join(out, 'config.json');
    const result = await enclaveConfig([
      '--keytag',
      join(FIXTURES, 'keytag'),
      '--mrenclave',
      join(FIXTURES, 'scone-version.txt'),
      '--image',
      'radiomics-worker:dev',
      '--out',
      file,
    ]);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      mrenclave: NODE_MRENCLAVE,
      'image-name': 'radiomics-worker:dev',
      'fspf-tag': TAG,
      'fspf-key': KEY,
      'fspf-path': '/fspf.pb',
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('reads a FILE of - from stdin and writes to stdout without --out', async () => {
    const result = await enclaveConfig(['--keytag', join(FIXTURES, 'keytag'), '--mrenclave', '-', '--image', 'x'], `${NODE_MRENCLAVE}\n`);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ mrenclave: NODE_MRENCLAVE, 'image-name': 'x' });
  });

  it('exits 1 on invalid build output, naming the problem without the key', async () => {
    const result = await enclaveConfig([
      '--keytag',
      join(FIXTURES, 'scone-hash.txt'),
      '--mrenclave',
      join(FIXTURES, 'scone-hash.txt'),
      '--image',
      'x',
      '--out',
      join(out, 'c.json'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^radiomics enclave-config: keytag: no "Encrypted file system protection file/);
  });

  it.each([
    [['--keytag', 'k', '--image', 'x'], '--mrenclave is required'],
    [['--keytag', 'k', '--mrenclave', 'm', '--image'], '--image needs a value'],
    [['--keytag', 'k', '--keytag', 'k2', '--mrenclave', 'm', '--image', 'x'], '--keytag given more than once'],
    [['--bogus'], "unknown option '--bogus'"],
    [['--keytag', 'k', '--mrenclave', 'm', '--image', 'x', 'extra'], "unexpected argument 'extra'"],
  ])('usage error %j: exit 2 with the usage line', async (args, problem) => {
    const result = await enclaveConfig(args);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: `radiomics enclave-config: ${problem}\nusage: radiomics enclave-config --keytag FILE --mrenclave FILE --image NAME [--ffmpeg-mrenclave FILE] [--out config.json]\n`,
    });
  });
});
