import { SHARED_DIR } from '#local/service-endpoints.js';
/** The real CLI as a child process: `node bin/radiomics.js seal|unseal ...`. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHIM = join(REPO, 'bin', 'radiomics.js');
const SAMPLE = join(SHARED_DIR, 'samples/videos/VH020213M4_001390_20160406T111514.MP4');
const SAMPLE_BYTES = 581853;

const KEY = Buffer.from('8f0e6a1d2c3b4a5968778695a4b3c2d1', 'hex');
const KEY_B64 = KEY.toString('base64'); // 'jw5qHSw7SllodoaVpLPC0Q=='
const WRONG_KEY_B64 = Buffer.from('8f0e6a1d2c3b4a5968778695a4b3c2d0', 'hex').toString('base64');
const URL_SAFE_KEY = `${Buffer.from('fbffbf00112233445566778899aabbcc', 'hex').toString('base64url')}==`;

const SEAL_USAGE = 'usage: radiomics seal (--key <base64 16-byte key> | --key-file <path>) IN OUT\n';
const UNSEAL_USAGE = 'usage: radiomics unseal (--key <base64 16-byte key> | --key-file <path>) IN OUT\n';
const AUTH_FAILED = 'radiomics unseal: authentication failed: wrong key or tampered data; no output written\n';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const secretsSeen: string[] = [];
function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      secretsSeen.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let sample: Buffer;
let sealedPath: string;
let sealed: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seal-cli-test-'));
  sample = await readFile(SAMPLE);
  sealedPath = join(dir, 'clip.sealed');
  const result = await cli('seal', '--key', KEY_B64, SAMPLE, sealedPath);
  expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  sealed = await readFile(sealedPath);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh empty directory holding only `files`. */
async function scratch(files: Record<string, Buffer | string> = {}): Promise<string> {
  const sub = await mkdtemp(join(dir, 'case-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(sub, name), content);
  return sub;
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 0x80;
  return c;
}

describe('radiomics seal / unseal (child process)', () => {
  it('seal writes iv | tag | ciphertext that the original worker rule decrypts', () => {
    expect(sealed.length).toBe(SAMPLE_BYTES + 28);
    const d = createDecipheriv('aes-128-gcm', KEY, sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(12, 28));
    const plain = Buffer.concat([d.update(sealed.subarray(28)), d.final()]);
    expect(plain.equals(sample)).toBe(true);
  });

  it('unseal round-trips the clip byte for byte, silently', async () => {
    const sub = await scratch();
    const out = join(sub, 'clip.mp4');
    expect(await cli('unseal', '--key', KEY_B64, sealedPath, out)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await readFile(out)).equals(sample)).toBe(true);
    expect(await readdir(sub)).toEqual(['clip.mp4']);
  });

  it('accepts --key=B64 and --key-file PATH (with a trailing newline)', async () => {
    const sub = await scratch({ 'batch.key': `${KEY_B64}\n` });
    expect(await cli('seal', `--key=${KEY_B64}`, SAMPLE, join(sub, 'a.sealed'))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await cli('unseal', '--key-file', join(sub, 'batch.key'), join(sub, 'a.sealed'), join(sub, 'a.mp4'))).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect((await readFile(join(sub, 'a.mp4'))).equals(sample)).toBe(true);
  });

  it.each([
    ['a wrong key', () => sealed, WRONG_KEY_B64],
    ['a flipped ciphertext byte', () => flip(sealed, 28 + 300_000), KEY_B64],
    ['a flipped tag byte', () => flip(sealed, 12 + 15), KEY_B64],
    ['a truncated file', () => sealed.subarray(0, sealed.length - 100), KEY_B64],
  ])('unseal with %s exits 1 with a clear message and writes no output file', async (_label, data, key) => {
    const sub = await scratch({ 'in.sealed': data() });
    const result = await cli('unseal', '--key', key, join(sub, 'in.sealed'), join(sub, 'out.mp4'));
    expect(result).toEqual({ code: 1, stdout: '', stderr: AUTH_FAILED });
    expect(await readdir(sub)).toEqual(['in.sealed']);
  });

  it('unseal of a 27-byte file exits 1: too short to be sealed', async () => {
    const sub = await scratch({ 'in.sealed': sealed.subarray(0, 27) });
    const result = await cli('unseal', '--key', KEY_B64, join(sub, 'in.sealed'), join(sub, 'out.mp4'));
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'radiomics unseal: too short to be sealed: 27 bytes, a sealed object has at least 28; no output written\n',
    });
    expect(await readdir(sub)).toEqual(['in.sealed']);
  });

  it('a failed unseal leaves an existing OUT untouched', async () => {
    const sub = await scratch({ 'in.sealed': sealed, 'out.mp4': 'previous' });
    expect((await cli('unseal', '--key', WRONG_KEY_B64, join(sub, 'in.sealed'), join(sub, 'out.mp4'))).code).toBe(1);
    expect(await readFile(join(sub, 'out.mp4'), 'utf8')).toBe('previous');
    expect((await readdir(sub)).sort()).toEqual(['in.sealed', 'out.mp4']);
  });

  it('a missing IN exits 1 naming the input, and writes nothing', async () => {
    const sub = await scratch();
    const missing = join(sub, 'missing.mp4');
    expect(await cli('seal', '--key', KEY_B64, missing, join(sub, 'out'))).toEqual({
      code: 1,
      stdout: '',
      stderr: `radiomics seal: cannot read input ${missing}: no such file or directory\n`,
    });
    expect(await cli('unseal', '--key', KEY_B64, missing, join(sub, 'out'))).toEqual({
      code: 1,
      stdout: '',
      stderr: `radiomics unseal: cannot read input ${missing}: no such file or directory\n`,
    });
    expect(await readdir(sub)).toEqual([]);
  });

  it('an OUT in a missing directory exits 1 naming the output', async () => {
    const out = join(dir, 'no-such-dir', 'out');
    expect(await cli('seal', '--key', KEY_B64, SAMPLE, out)).toEqual({
      code: 1,
      stdout: '',
      stderr: `radiomics seal: cannot write output ${out}: no such file or directory\n`,
    });
  });

  it.each([
    [['seal'], 'a key is required: --key or --key-file', SEAL_USAGE],
    [['seal', '--key', KEY_B64, SAMPLE], 'expected IN and OUT, got 1 argument', SEAL_USAGE],
    [['seal', '--key', KEY_B64, SAMPLE, 'out', 'extra'], 'expected IN and OUT, got 3 arguments', SEAL_USAGE],
    [['seal', SAMPLE, 'out', '--key'], '--key needs a value', SEAL_USAGE],
    [['seal', '--kye', KEY_B64, SAMPLE, 'out'], "unknown option '--kye'", SEAL_USAGE],
    [['seal', `--secret=${KEY_B64}`, SAMPLE, 'out'], "unknown option '--secret'", SEAL_USAGE],
    [['seal', '--key', KEY_B64, '--key-file', 'k', SAMPLE, 'out'], 'give --key or --key-file, not both', SEAL_USAGE],
    [['seal', '--key', '--key-file', 'k', SAMPLE, 'out'], '--key needs a value', SEAL_USAGE],
    [['unseal', '--key', KEY_B64, '--key', KEY_B64, 'in', 'out'], '--key given more than once', UNSEAL_USAGE],
    [
      ['unseal', '--key', KEY_B64.slice(0, 22), 'in', 'out'],
      "invalid key: has 22 characters; expected standard base64 of exactly 16 bytes (24 characters ending in '==')",
      UNSEAL_USAGE,
    ],
    [
      ['unseal', '--key', URL_SAFE_KEY, 'in', 'out'],
      "invalid key: uses the url-safe alphabet ('-' or '_'); expected standard base64 of exactly 16 bytes (24 characters ending in '==')",
      UNSEAL_USAGE,
    ],
  ])('usage error %j exits 2 with the usage line', async (args, message, usage) => {
    const command = args[0];
    const result = await cli(...args);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `radiomics ${command}: ${message}\n${usage}` });
  });

  it('the url-safe key above really is url-safe base64 of 16 bytes', () => {
    expect(URL_SAFE_KEY).toBe('-_-_ABEiM0RVZneImaq7zA==');
  });

  it('a key file that cannot be read is a usage error', async () => {
    const missing = join(dir, 'missing.key');
    expect(await cli('seal', '--key-file', missing, SAMPLE, join(dir, 'x'))).toEqual({
      code: 2,
      stdout: '',
      stderr: `radiomics seal: cannot read key file ${missing}: no such file or directory\n${SEAL_USAGE}`,
    });
  });

  it('--help prints the help, starting with the usage line, and exits 0', async () => {
    const result = await cli('unseal', '--help');
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.startsWith(UNSEAL_USAGE)).toBe(true);
    expect(result.stdout).toContain('\nexit status:\n');
  });

  it('never prints the key (checked over every run of this file)', () => {
    expect(secretsSeen.length).toBeGreaterThan(40);
    const forms = [KEY_B64, KEY_B64.slice(0, 12), KEY.toString('hex'), WRONG_KEY_B64, URL_SAFE_KEY];
    for (const output of secretsSeen) for (const form of forms) expect(output).not.toContain(form);
  });
});
