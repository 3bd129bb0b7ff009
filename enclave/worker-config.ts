/**
 * The enclave worker's configuration, read once into a frozen object. Fails fast with a `ConfigError` naming the
 * variable (never its value).
 *
 * Every variable is looked up in the environment first and, when absent or empty, in the file `<envDir>/<NAME>`
 * (default `/env`, as the original worker did in HW mode; trailing whitespace/newlines are stripped). In HW mode the
 * Palaemon session's `environment` replaces the container's (SCONE_CONFIG_ID), so the values below normally come
 * from the session; `/env/<NAME>` files can be injected by the session too (or mounted into an encrypted region).
 *
 * | Variable | Default | Meaning |
 * |---|---|---|
 * | REDIS_HOST | required | kubejobs sets `redis-<app_id>` |
 * | REDIS_PORT | 6379 | |
 * | REDIS_DB | 0 | the Asperathos emulator gives each job its own database |
 * | REDIS_QUEUE | job | the key prefix (`job`, `job:processing`, ...) |
 * | REDIS_STOP_KEY | stop | the list kubejobs stop pushes to |
 * | ITEM_LEASE_SECS | 15 | lease TTL, renewed every lease/3 while an item is processed |
 * | QUEUE_POLL_SECS | 2 | BRPOPLPUSH timeout (the original's `timeout=2`) |
 * | ENCRYPTION_KEY | required | the batch key, standard base64 of 16 bytes |
 * | JOB_NAME | required | results go to the Swift container `<JOB_NAME>-results` |
 * | OS_* or ST_AUTH/ST_USER/ST_KEY | required | Swift credentials (lib/swift swiftAuthFromEnv) |
 * | SPOOL_DIR | /dev/shm if present, else os.tmpdir() | where a decrypted clip is spooled for ffmpeg |
 * | DOWNLOAD_TIMEOUT_SECS | 60 | idle timeout of a download (no byte for this long) |
 * | SWIFT_ATTEMPTS | 5 | tries per Swift request on 5xx/network errors before the item fails |
 * | LOG_LEVEL | info | debug, info, warn, error |
 * | FFMPEG_SCONE_CONFIG_ID, FFMPEG_SCONE_* | unset | HW: ffmpeg runs as an attested SCONE child; every FFMPEG_SCONE_X is its SCONE_X (set by the session) |
 *
 * The entry point also reads WORKER_ENV_DIR (the directory, default /env) and WORKER_ENV_FILES (a comma list of the
 * only names that may come from files; default any, as the original). In HW mode, set WORKER_ENV_FILES in the
 * session to the non-secret names the pod provides (REDIS_HOST, ...): /env is outside the protected file regions,
 * so a secret read from there could have been planted by the host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_QUEUE,
  DEFAULT_STOP_KEY,
  FFMPEG_SCONE_NAMES,
  hasC0Control,
  resultsContainerOf,
  SWIFT_ENV_NAMES,
  type WorkerEnvName,
} from '#lib/contract.js';
import { ConfigError } from '#lib/errors.js';
import { LOG_LEVELS, type LogLevel } from '#lib/log.js';
import { parseKeyBase64 } from '#lib/seal/cipher.js';
import { swiftAuthFromEnv, type SwiftAuthenticator } from '#lib/swift/index.js';

export type Env = Record<string, string | undefined>;

export const DEFAULT_ENV_DIR = '/env';

export interface WorkerConfig {
  redis: { host: string; port: number; db: number; queue: string; stopKey: string };
  itemLeaseSecs: number;
  queuePollSecs: number;
  /** 16 bytes. Never log it. */
  encryptionKey: Buffer;
  jobName: string;
  resultsContainer: string;
  /** Built from the OS_* / ST_* variables; holds credentials. */
  swiftAuth: SwiftAuthenticator;
  swiftAttempts: number;
  spoolDir: string;
  downloadTimeoutMs: number;
  logLevel: LogLevel;
  /** HW: the ffmpeg child's own SCONE environment (its config id, CAS/LAS, heap); absent: a plain child. */
  ffmpegScone?: Record<string, string>;
}

function ffmpegSconeEnv(read: (name: string) => string | undefined): Record<string, string> | undefined {
  if (read('FFMPEG_SCONE_CONFIG_ID') === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const name of FFMPEG_SCONE_NAMES) {
    const value = read(`FFMPEG_${name}`);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export interface LoadOptions {
  /** Directory of `<NAME>` files consulted when a variable is absent (default `/env`). */
  envDir?: string;
  /** Only these names may come from files (default: any). In HW mode the session sets WORKER_ENV_FILES so that
   *  secrets can only come from the attested session, never from the unprotected /env directory. */
  fileNames?: ReadonlySet<string>;
}

/** `WORKER_ENV_FILES=REDIS_HOST,REDIS_PORT` → that set; unset or empty → undefined (any name). */
export function parseFileNames(value: string | undefined): ReadonlySet<string> | undefined {
  const names = (value ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return names.length > 0 ? new Set(names) : undefined;
}

/** Looks a name up in `env`, then in `<envDir>/<NAME>` (if allowed). Empty values count as absent. */
export function envReader(
  env: Env,
  envDir: string = DEFAULT_ENV_DIR,
  fileNames?: ReadonlySet<string>,
): (name: string) => string | undefined {
  return (name) => {
    const direct = env[name];
    if (direct !== undefined && direct !== '') return direct;
    if (!/^[A-Z0-9_]+$/.test(name)) return undefined;
    if (fileNames && !fileNames.has(name)) return undefined;
    let text: string;
    try {
      text = readFileSync(join(envDir, name), 'utf8');
    } catch {
      return undefined;
    }
    const value = text.replace(/\s+$/, '');
    return value === '' ? undefined : value;
  };
}

type Read = (name: WorkerEnvName) => string | undefined;

function integer(read: Read, name: WorkerEnvName, fallback: number, min: number, max: number): number {
  const text = read(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new ConfigError(`${name} must be an integer between ${min} and ${max}`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

function positiveNumber(read: Read, name: WorkerEnvName, fallback: number, max: number): number {
  const text = read(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value <= 0 || value > max) throw new ConfigError(`${name} must be a number > 0 and <= ${max}`);
  return value;
}

function required(read: Read, name: WorkerEnvName): string {
  const value = read(name);
  if (value === undefined) throw new ConfigError(`missing configuration: ${name} (environment or ${DEFAULT_ENV_DIR}/${name})`);
  return value;
}

/** `<JOB_NAME>-results`; a Swift container name has no '/' and at most 256 bytes. */
export function resultsContainerName(jobName: string): string {
  const name = resultsContainerOf(jobName);
  if (jobName.includes('/') || Buffer.byteLength(name) > 256 || hasC0Control(jobName)) {
    throw new ConfigError('JOB_NAME must not contain "/" or control characters, and <JOB_NAME>-results must fit 256 bytes');
  }
  return name;
}

export function defaultSpoolDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export function loadWorkerConfig(env: Env, options: LoadOptions = {}): Readonly<WorkerConfig> {
  const lookup = envReader(env, options.envDir ?? DEFAULT_ENV_DIR, options.fileNames);
  const read: Read = lookup;
  let encryptionKey: Buffer;
  try {
    encryptionKey = parseKeyBase64(required(read, 'ENCRYPTION_KEY'));
  } catch (error) {
    if (error instanceof ConfigError && !error.message.startsWith('missing')) throw new ConfigError(`ENCRYPTION_KEY: ${error.message}`);
    throw error;
  }
  const jobName = required(read, 'JOB_NAME');
  const swiftEnv: Env = {};
  for (const name of SWIFT_ENV_NAMES) swiftEnv[name] = lookup(name);
  const logLevel = LOG_LEVELS.find((level) => level === (read('LOG_LEVEL') ?? 'info'));
  if (!logLevel) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const queue = read('REDIS_QUEUE') ?? DEFAULT_QUEUE;
  const config: WorkerConfig = {
    redis: {
      host: required(read, 'REDIS_HOST'),
      port: integer(read, 'REDIS_PORT', 6379, 1, 65535),
      db: integer(read, 'REDIS_DB', 0, 0, 1_000_000),
      queue,
      stopKey: read('REDIS_STOP_KEY') ?? DEFAULT_STOP_KEY,
    },
    itemLeaseSecs: integer(read, 'ITEM_LEASE_SECS', 15, 1, 86_400),
    queuePollSecs: positiveNumber(read, 'QUEUE_POLL_SECS', 2, 3600),
    encryptionKey,
    jobName,
    resultsContainer: resultsContainerName(jobName),
    swiftAuth: swiftAuthFromEnv(swiftEnv),
    swiftAttempts: integer(read, 'SWIFT_ATTEMPTS', 5, 1, 20),
    spoolDir: read('SPOOL_DIR') ?? defaultSpoolDir(),
    downloadTimeoutMs: positiveNumber(read, 'DOWNLOAD_TIMEOUT_SECS', 60, 86_400) * 1000,
    logLevel,
  };
  const ffmpegScone = ffmpegSconeEnv(lookup);
  if (ffmpegScone) config.ffmpegScone = ffmpegScone;
  return Object.freeze(config);
}
