/**
 * Local TLS material for the emulators and tests: a CA, a server certificate for localhost/127.0.0.1/::1
 * and client certificates, all signed by that CA (EC P-256, made with /usr/bin/openssl).
 * Emulates nothing; it only replaces the certificates a real deployment gets from its operators.
 * Files: ca.pem, ca-key.pem, server.pem, server-key.pem, client-<name>.pem, client-<name>-key.pem.
 * Existing files are reused unless `fresh` is set, so a dir under .local/ is cheap to ask for again.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateFingerprint, keyArgs, runOpenssl, validateCommonName } from '#bin/support/certs.js';

export interface TlsFixtureOptions {
  /** Client certificates to make; default `['client']`. Names: letters, digits, `-`, `_`. */
  clients?: readonly string[];
  /** Extra subject alternative names for the server, e.g. `DNS:cas.local` or `IP:10.0.0.1`. */
  serverNames?: readonly string[];
  /** Regenerate even if the files exist. */
  fresh?: boolean;
  /** Validity in days, default 30. */
  days?: number;
}

export interface TlsPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
  fingerprintSha256: string;
}

export interface TlsFixtures {
  dir: string;
  ca: string;
  caPath: string;
  server: TlsPair;
  clients: Record<string, TlsPair>;
}

async function pair(dir: string, base: string): Promise<TlsPair> {
  const certPath = join(dir, `${base}.pem`);
  const keyPath = join(dir, `${base}-key.pem`);
  const cert = await readFile(certPath, 'utf8');
  return { cert, key: await readFile(keyPath, 'utf8'), certPath, keyPath, fingerprintSha256: certificateFingerprint(cert) };
}

async function signedLeaf(dir: string, base: string, commonName: string, extensions: string, days: number): Promise<void> {
  const csr = join(dir, `${base}.csr`);
  const ext = join(dir, `${base}.ext`);
  await runOpenssl([
    'req',
    '-new',
    ...keyArgs('ec'),
    '-nodes',
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    join(dir, `${base}-key.pem`),
    '-out',
    csr,
  ]);
  await writeFile(ext, extensions);
  await runOpenssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca-key.pem'),
    '-CAcreateserial',
    '-days',
    String(days),
    '-sha256',
    '-extfile',
    ext,
    '-out',
    join(dir, `${base}.pem`),
  ]);
  await chmod(join(dir, `${base}-key.pem`), 0o600);
}

export async function generateTlsFixtures(dir: string, options: TlsFixtureOptions = {}): Promise<TlsFixtures> {
  const clients = options.clients ?? ['client'];
  const days = options.days ?? 30;
  for (const name of clients) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Error(`invalid client fixture name: ${name}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const have = (base: string) => !options.fresh && existsSync(join(dir, `${base}.pem`)) && existsSync(join(dir, `${base}-key.pem`));
  let fresh = false;
  if (!have('ca')) {
    fresh = true;
    await runOpenssl([
      'req',
      '-x509',
      ...keyArgs('ec'),
      '-nodes',
      '-sha256',
      '-days',
      String(days),
      '-subj',
      '/CN=trustworthy-radiomics local CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      join(dir, 'ca-key.pem'),
      '-out',
      join(dir, 'ca.pem'),
    ]);
    await chmod(join(dir, 'ca-key.pem'), 0o600);
  }
  if (fresh || !have('server')) {
    const san = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(options.serverNames ?? [])].join(',');
    await signedLeaf(
      dir,
      'server',
      'localhost',
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
      days,
    );
  }
  for (const name of clients) {
    if (fresh || !have(`client-${name}`)) {
      validateCommonName(`client-${name}`);
      await signedLeaf(
        dir,
        `client-${name}`,
        `client-${name}`,
        'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n',
        days,
      );
    }
  }
  const caPath = join(dir, 'ca.pem');
  const out: TlsFixtures = { dir, ca: await readFile(caPath, 'utf8'), caPath, server: await pair(dir, 'server'), clients: {} };
  for (const name of clients) out.clients[name] = await pair(dir, `client-${name}`);
  return out;
}
