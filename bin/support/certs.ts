/**
 * Certificates for talking to a SCONE CAS, made by shelling out to /usr/bin/openssl (no npm dependency).
 * - `generateClientCertificate`: a self-signed client certificate like the tutorial's
 *   (`openssl req -x509 -newkey rsa:4096 -nodes -sha256 -days 31`). The CAS identifies a session's creator
 *   by this certificate, so keep the key: losing it means losing update/read rights on its sessions.
 * - `certificateFingerprint`: SHA-256 of the DER certificate, lower-case hex without colons.
 * - `runOpenssl`: the small wrapper the local TLS fixtures use too.
 * Private keys go through a private temporary directory (0700, files 0600) that is removed afterwards;
 * they are never logged.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '#lib/errors.js';

export const OPENSSL = process.env.OPENSSL_BIN ?? '/usr/bin/openssl';

export type KeyType = 'rsa' | 'ec';

export interface ClientCertificateOptions {
  /** Default `trustworthy-radiomics`. Letters, digits, space, `.`, `_`, `-`. */
  commonName?: string;
  /** Default 31, like the tutorial. */
  days?: number;
  /** `rsa` (default, 4096 bits, like the tutorial) or `ec` (P-256, fast). */
  keyType?: KeyType;
}

export interface ClientCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprintSha256: string;
  notAfter: Date;
}

export function runOpenssl(args: readonly string[], options: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, [...args], { cwd: options.cwd, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr).split('\n').filter(Boolean).slice(-3).join(' | ');
        reject(new ConfigError(`openssl ${args[0]} failed: ${detail || error.message}`));
        return;
      }
      resolve(String(stdout));
    });
  });
}

export function keyArgs(keyType: KeyType): string[] {
  return keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:4096'];
}

export function validateCommonName(commonName: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(commonName)) {
    throw new ConfigError('invalid certificate common name: 1-64 characters of letters, digits, space, . _ -');
  }
}

export function certificateFingerprint(certPem: string | Buffer): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Runs `work` with a private temporary directory that is removed afterwards. */
export async function withPrivateDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'radiomics-certs-'));
  await chmod(dir, 0o700);
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function generateClientCertificate(options: ClientCertificateOptions = {}): Promise<ClientCertificate> {
  const commonName = options.commonName ?? 'trustworthy-radiomics';
  validateCommonName(commonName);
  const days = options.days ?? 31;
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new ConfigError('certificate validity must be 1-3650 days');
  return withPrivateDir(async (dir) => {
    await runOpenssl([
      'req',
      '-x509',
      ...keyArgs(options.keyType ?? 'rsa'),
      '-nodes',
      '-sha256',
      '-days',
      String(days),
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'extendedKeyUsage=clientAuth',
      '-keyout',
      join(dir, 'client-key.pem'),
      '-out',
      join(dir, 'client.pem'),
    ]);
    const certPem = await readFile(join(dir, 'client.pem'), 'utf8');
    const keyPem = await readFile(join(dir, 'client-key.pem'), 'utf8');
    const x509 = new X509Certificate(certPem);
    return { certPem, keyPem, fingerprintSha256: certificateFingerprint(certPem), notAfter: new Date(x509.validTo) };
  });
}

/** Writes the certificate to `certPath` and the key to `keyPath` (mode 0600; default `<cert>-key.pem`). */
export async function writeClientCertificate(
  certificate: ClientCertificate,
  certPath: string,
  keyPath = certPath.replace(/(\.pem|\.crt)?$/, '-key.pem'),
): Promise<{ certPath: string; keyPath: string }> {
  await writeFile(keyPath, certificate.keyPem, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') throw new ConfigError(`refusing to overwrite the existing key file ${keyPath}`);
    throw error;
  });
  await writeFile(certPath, certificate.certPem, { mode: 0o644 });
  return { certPath, keyPath };
}
