import { describe, it, expect } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFingerprint, generateClientCertificate, writeClientCertificate } from '#bin/support/certs.js';
import { ConfigError } from '#lib/errors.js';

describe('CAS client certificate generation', () => {
  it('makes a self-signed client certificate with its key and SHA-256 fingerprint', async () => {
    const cert = await generateClientCertificate({ commonName: 'hospital-a', days: 31, keyType: 'ec' });
    const x509 = new X509Certificate(cert.certPem);
    expect(x509.subject).toBe('CN=hospital-a');
    expect(x509.issuer).toBe('CN=hospital-a');
    expect(x509.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    expect(cert.fingerprintSha256).toBe(x509.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(certificateFingerprint(cert.certPem)).toMatch(/^[0-9a-f]{64}$/);
    const days = (cert.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(31);
  });

  it('refuses a bad common name and validity', async () => {
    await expect(generateClientCertificate({ commonName: 'a/b' })).rejects.toThrow(
      new ConfigError('invalid certificate common name: 1-64 characters of letters, digits, space, . _ -'),
    );
    await expect(generateClientCertificate({ days: 0 })).rejects.toThrow(new ConfigError('certificate validity must be 1-3650 days'));
  });

  it('writes the key 0600 next to the certificate and never overwrites a key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certs-'));
    try {
      const cert = await generateClientCertificate({ keyType: 'ec' });
      const paths = await writeClientCertificate(cert, join(dir, 'client.pem'));
      expect(paths).toEqual({ certPath: join(dir, 'client.pem'), keyPath: join(dir, 'client-key.pem') });
      expect((await stat(paths.keyPath)).mode & 0o777).toBe(0o600);
      expect(await readFile(paths.certPath, 'utf8')).toBe(cert.certPem);
      await expect(writeClientCertificate(cert, join(dir, 'client.pem'))).rejects.toThrow(
        `refusing to overwrite the existing key file ${paths.keyPath}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
