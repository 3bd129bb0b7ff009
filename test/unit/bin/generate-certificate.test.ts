/**
 * `radiomics generate-certificate`, run as a child process through the command module (the same `run` the
 * radiomics CLI dispatches to). EC keys keep the tests fast; RSA 4096 (the default) is covered once.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HELP, USAGE, parseGenerateCertificateArgs } from '#bin/commands/generate-certificate.js';
import { REPO_ROOT } from '#local/service-endpoints.js';

const COMMAND = join(REPO_ROOT, 'bin', 'commands', 'generate-certificate.ts');
/** tsx by absolute URL: the child runs in a scratch directory, where a bare `--import tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const RUNNER = `const m = await import(${JSON.stringify(COMMAND)}); process.exitCode = await m.run(process.argv.slice(1));`;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

function generate(cwd: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', RUNNER, '--', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function scratch(): string {
  return mkdtempSync(join(dir, 'case-'));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'generate-certificate-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('radiomics generate-certificate', () => {
  it('writes client.pem and client-key.pem (0600) by default: a self-signed RSA-4096 client certificate for 365 days', async () => {
    const cwd = scratch();
    const result = await generate(cwd);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(readdirSync(cwd).sort()).toEqual(['client-key.pem', 'client.pem']);
    const cert = new X509Certificate(readFileSync(join(cwd, 'client.pem')));
    const key = createPrivateKey(readFileSync(join(cwd, 'client-key.pem')));
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(cert.subject).toBe('CN=trustworthy-radiomics');
    expect(cert.issuer).toBe(cert.subject);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(4096);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(365);
    expect(statSync(join(cwd, 'client-key.pem')).mode & 0o777).toBe(0o600);
    const fingerprint = cert.fingerprint256.replace(/:/g, '').toLowerCase();
    expect(result.stdout).toBe(
      'Certificate: client.pem\n' +
        'Private key: client-key.pem (mode 0600; keep it: the CAS sessions you create belong to it)\n' +
        `SHA-256 fingerprint: ${fingerprint}\n` +
        `Valid until: ${new Date(cert.validTo).toISOString()}\n`,
    );
    expect(result.stdout).not.toContain('PRIVATE KEY');
  });

  it('OUT names the certificate; the key goes beside it; --key-type ec, --days and --common-name are honoured', async () => {
    const cwd = scratch();
    const result = await generate(cwd, 'me.crt', '--key-type', 'ec', '--days=31', '--common-name', 'hospital-a');
    expect(result.code).toBe(0);
    const cert = new X509Certificate(readFileSync(join(cwd, 'me.crt')));
    expect(cert.subject).toBe('CN=hospital-a');
    expect(createPrivateKey(readFileSync(join(cwd, 'me-key.pem'))).asymmetricKeyType).toBe('ec');
    expect(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000)).toBe(31);
  });

  it('refuses to overwrite an existing key file, and leaves it as it was', async () => {
    const cwd = scratch();
    writeFileSync(join(cwd, 'client-key.pem'), 'precious');
    const result = await generate(cwd, '--key-type', 'ec');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'radiomics generate-certificate: error: refusing to overwrite the existing key file client-key.pem\n',
    });
    expect(readFileSync(join(cwd, 'client-key.pem'), 'utf8')).toBe('precious');
    expect(readdirSync(cwd)).toEqual(['client-key.pem']);
  });

  it('refuses to overwrite an existing certificate file (it may hold a key, like the original client.pem)', async () => {
    const cwd = scratch();
    writeFileSync(join(cwd, 'client.pem'), 'cert and key');
    const result = await generate(cwd, '--key-type', 'ec');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'radiomics generate-certificate: error: refusing to overwrite the existing file client.pem\n',
    });
    expect(readdirSync(cwd)).toEqual(['client.pem']);
  });

  it('a directory that does not exist: exit 1, nothing written', async () => {
    const cwd = scratch();
    const result = await generate(cwd, 'missing/client.pem', '--key-type', 'ec');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'radiomics generate-certificate: error: cannot write missing/client-key.pem: ENOENT\n',
    });
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.each([
    [['--days', '0'], "argument --days: expected a whole number 1-3650, got '0'"],
    [['--days', 'week'], "argument --days: expected a whole number 1-3650, got 'week'"],
    [['--key-type', 'dsa'], "argument --key-type: expected rsa or ec, got 'dsa'"],
    [['--common-name', 'a/b'], 'argument --common-name: invalid certificate common name: 1-64 characters of letters, digits, space, . _ -'],
    [['--days'], 'argument --days: expected one argument'],
    [['--force'], 'unrecognized argument: --force'],
    [['a.pem', 'b.pem'], 'unrecognized arguments: b.pem'],
  ])('usage error %j: exit 2', async (args, message) => {
    const cwd = scratch();
    expect(await generate(cwd, ...args)).toEqual({
      code: 2,
      stdout: '',
      stderr: `${USAGE}\nradiomics generate-certificate: error: ${message}\n`,
    });
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--help prints the help and exits 0', async () => {
    expect(await generate(scratch(), '--help')).toEqual({ code: 0, stdout: `${HELP}\n`, stderr: '' });
    expect(parseGenerateCertificateArgs([])).toEqual({ out: 'client.pem', days: 365, keyType: 'rsa', commonName: undefined });
  });
});
