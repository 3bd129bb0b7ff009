/**
 * The local inputs of `submit-job`, all read and checked before anything is uploaded: the videos under the
 * data path (each one checked as a complete MP4 by the same `MediaCheck` the upload uses), the enclave image
 * facts, the CAS client certificate, key and CA, and the Swift variables the worker needs.
 * Failures are `SubmitJobError`s whose messages name files, never their contents.
 */
import { createReadStream, type Dirent, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, dirname, basename } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { parseEnclaveConfig } from '#lib/enclave-image/config.js';
import { ConfigError, RejectedInput } from '#lib/errors.js';
import { MediaCheck } from '#lib/intake/media-check.js';
import type { EnclaveImage } from '#lib/palaemon/index.js';
import { SWIFT_ENV_NAMES } from '#lib/contract.js';

/** A run-time failure (exit 1). */
export class SubmitJobError extends Error {
  override readonly name = 'SubmitJobError';
}

/** A sealed video is one SLO whose ciphertext is a single segment PUT: Swift caps an object at 5 GiB. */
export const MAX_VIDEO_BYTES = 5 * 1024 ** 3;

export interface LocalVideo {
  path: string;
  /** Relative to the data path, for messages. */
  name: string;
  bytes: number;
}

export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return code ?? (error instanceof Error ? error.message : 'error');
  }
}

/** Every regular file under `dataPath` (recursively, following symlinks to files) whose name ends in .mp4, any case; sorted. */
export async function findVideos(dataPath: string): Promise<LocalVideo[]> {
  let top: Stats;
  try {
    top = await stat(dataPath);
  } catch (error) {
    throw new SubmitJobError(`data path ${dataPath}: ${fsReason(error)}`);
  }
  if (!top.isDirectory()) throw new SubmitJobError(`data path ${dataPath}: not a directory`);
  const videos: LocalVideo[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      throw new SubmitJobError(`cannot list ${dir}: ${fsReason(error)}`);
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!/\.mp4$/i.test(entry.name)) continue;
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) continue;
      videos.push({ path, name: relative(dataPath, path), bytes: info.size });
    }
  };
  await walk(dataPath);
  if (videos.length === 0) throw new SubmitJobError(`no .mp4 files under ${dataPath}`);
  return videos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const REASONS: Record<string, string> = {
  not_a_video: 'not an MP4 (no ftyp box)',
  dicom_not_accepted: 'a DICOM file, not an MP4',
  empty_object: 'empty file',
  too_large: `larger than ${MAX_VIDEO_BYTES} bytes (the Swift object limit)`,
};

function describeRejection(error: unknown): string {
  if (error instanceof RejectedInput) return REASONS[error.reason] ?? error.message;
  if (typeof (error as NodeJS.ErrnoException)?.code === 'string') return `cannot read: ${fsReason(error)}`;
  return error instanceof Error ? error.message : String(error);
}

/** Streams every video through `MediaCheck` (MP4 only). Returns one line per bad file: `<name>: <why>`. */
export async function checkVideos(videos: readonly LocalVideo[]): Promise<string[]> {
  const problems: string[] = [];
  for (const video of videos) {
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    try {
      await pipeline(createReadStream(video.path), new MediaCheck(MAX_VIDEO_BYTES, ['mp4']), discard);
    } catch (error) {
      problems.push(`${video.name}: ${describeRejection(error)}`);
    }
  }
  return problems;
}

export async function readEnclaveConfig(path: string): Promise<EnclaveImage> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SubmitJobError(`cannot read the config file ${path}: ${fsReason(error)}`);
  }
  try {
    return parseEnclaveConfig(text);
  } catch (error) {
    if (error instanceof ConfigError) throw new SubmitJobError(`${path}: ${error.message}`);
    throw error;
  }
}

export interface CasTls {
  ca: string;
  cert: string;
  key: string;
  /** Where the key came from (a path), for messages. */
  keyPath: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----\r?\n?/;

/** The sibling key file of a certificate without a key: `client.pem` → `client-key.pem`. */
export function siblingKeyPath(certPath: string): string {
  return join(dirname(certPath), basename(certPath).replace(/(\.pem|\.crt)?$/, '-key.pem'));
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new SubmitJobError(`cannot read the ${what} ${path}: ${fsReason(error)}`);
  }
}

/** The CAS client certificate (and its key: same file, or `<name>-key.pem` beside it) and the CA to trust. */
export async function readCasTls(certPath: string, caPath: string): Promise<CasTls> {
  const certText = await readPem(certPath, 'client certificate');
  const certs = certText.match(CERT_BLOCK);
  if (!certs) throw new SubmitJobError(`${certPath}: no PEM certificate in it`);
  let keyPath = certPath;
  let keyMatch = KEY_BLOCK.exec(certText);
  if (!keyMatch) {
    keyPath = siblingKeyPath(certPath);
    let keyText: string;
    try {
      keyText = await readFile(keyPath, 'utf8');
    } catch (error) {
      throw new SubmitJobError(`${certPath} holds no private key, and its key file ${keyPath} cannot be read: ${fsReason(error)}`);
    }
    keyMatch = KEY_BLOCK.exec(keyText);
    if (!keyMatch) throw new SubmitJobError(`${keyPath}: no PEM private key in it`);
  }
  if (keyMatch[1] === 'ENCRYPTED PRIVATE KEY')
    throw new SubmitJobError(`${keyPath}: the private key is encrypted; a key without a passphrase is needed`);
  const cert = certs.join('');
  const key = keyMatch[0];
  try {
    if (!new X509Certificate(certs[0]).checkPrivateKey(createPrivateKey(key))) {
      throw new SubmitJobError(`the private key in ${keyPath} does not belong to the certificate in ${certPath}`);
    }
  } catch (error) {
    if (error instanceof SubmitJobError) throw error;
    throw new SubmitJobError(`${certPath} / ${keyPath}: not a usable certificate and private key`);
  }
  const ca = await readPem(caPath, 'CAS CA file');
  const cas = ca.match(CERT_BLOCK);
  if (!cas) throw new SubmitJobError(`${caPath}: no PEM certificate in it`);
  return { ca: cas.join(''), cert, key, keyPath };
}

/** Swift variables whose values are credentials: session secrets (HW), env_vars (SIM). */
const SECRET_SWIFT_VARS = new Set(['OS_PASSWORD', 'OS_APPLICATION_CREDENTIAL_SECRET', 'OS_AUTH_TOKEN', 'OS_TOKEN', 'ST_KEY']);

/** The Swift variables the worker reads, from this process's environment, split into settings and credentials. */
export function workerSwiftEnv(env: Record<string, string | undefined>): {
  settings: Record<string, string>;
  secrets: Record<string, string>;
} {
  const settings: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const name of SWIFT_ENV_NAMES) {
    const value = env[name];
    if (!value) continue;
    (SECRET_SWIFT_VARS.has(name) ? secrets : settings)[name] = value;
  }
  return { settings, secrets };
}
