/**
 * What the batch side writes and the enclave worker reads, in one place that both import:
 * - the workload: `workload.txt` beside the sealed objects, one URL per line, each line ending with \n; kubejobs
 *   pushes every line onto the Redis list the workers lease from (`job`; a stop is `RPUSH stop stop`);
 * - an item's id: its URL's last path segment, percent-decoded, `.mp4` (any case) removed (the video id);
 * - the sealed format: iv (12 bytes) | tag (16 bytes) | ciphertext, AES-128-GCM, no associated data;
 * - the worker's environment: the names the job or the session sets and the worker reads;
 * - the results: the container `<JOB_NAME>-results` holding `<id>.zip` and `<id>.json` per analysed item and
 *   `<id>.error.json` per failed one.
 */
import { RejectedInput } from './errors.js';

export const WORKLOAD_OBJECT = 'workload.txt';

export function workloadText(urls: readonly string[]): string {
  return urls.map((url) => `${url}\n`).join('');
}

/** The list kubejobs pushes workload lines onto, and the list its stop pushes to. */
export const DEFAULT_QUEUE = 'job';
export const DEFAULT_STOP_KEY = 'stop';

/** The id of the item at `itemUrl`; a RejectedInput `invalid_url` when the URL names none. */
export function itemIdOfUrl(itemUrl: string): string {
  let url: URL;
  try {
    url = new URL(itemUrl.trim());
  } catch {
    throw new RejectedInput('invalid_url', 'the item is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RejectedInput('invalid_url', 'the item URL is not http(s)');
  const segment = url.pathname.split('/').pop() ?? '';
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new RejectedInput('invalid_url', 'the item URL has a malformed escape in its last segment');
  }
  const id = name.replace(/\.mp4$/i, '');
  if (id === '' || id === '.' || id === '..' || id.includes('/') || hasC0Control(id) || Buffer.byteLength(id) > 200) {
    throw new RejectedInput('invalid_url', 'no usable object name in the item URL');
  }
  return id;
}

/** Whether `text` holds a C0 control character (U+0000–U+001F), which neither an item id nor a job name may contain. */
export function hasC0Control(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) <= 0x1f) return true;
  }
  return false;
}

/** The batch key: AES-128, handed to the worker as standard base64 (ENCRYPTION_KEY). */
export const KEY_BYTES = 16;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** A sealed object's head: iv then tag. */
export const HEAD_BYTES = IV_BYTES + TAG_BYTES; // 28

/** Every variable the worker reads (enclave/worker-config.ts), besides the Swift and ffmpeg ones below. */
export const WORKER_ENV_NAMES = [
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'REDIS_QUEUE',
  'REDIS_STOP_KEY',
  'ITEM_LEASE_SECS',
  'QUEUE_POLL_SECS',
  'ENCRYPTION_KEY',
  'JOB_NAME',
  'SPOOL_DIR',
  'DOWNLOAD_TIMEOUT_SECS',
  'SWIFT_ATTEMPTS',
  'LOG_LEVEL',
] as const;
export type WorkerEnvName = (typeof WORKER_ENV_NAMES)[number];
export type WorkerEnv = Partial<Record<WorkerEnvName, string>>;

/** The Swift credentials the worker reads, as `swiftAuthFromEnv` takes them (openrc OS_*, or TempAuth ST_*). */
export const SWIFT_ENV_NAMES = [
  'OS_AUTH_URL',
  'OS_AUTH_TYPE',
  'OS_USERNAME',
  'OS_USER_ID',
  'OS_USER_DOMAIN_ID',
  'OS_USER_DOMAIN_NAME',
  'OS_PASSWORD',
  'OS_APPLICATION_CREDENTIAL_ID',
  'OS_APPLICATION_CREDENTIAL_NAME',
  'OS_APPLICATION_CREDENTIAL_SECRET',
  'OS_AUTH_TOKEN',
  'OS_TOKEN',
  'OS_PROJECT_ID',
  'OS_PROJECT_NAME',
  'OS_TENANT_ID',
  'OS_TENANT_NAME',
  'OS_PROJECT_DOMAIN_ID',
  'OS_PROJECT_DOMAIN_NAME',
  'OS_REGION_NAME',
  'OS_INTERFACE',
  'OS_STORAGE_URL',
  'ST_AUTH',
  'ST_USER',
  'ST_KEY',
] as const;

/** HW: the ffmpeg child's SCONE variables, each passed to the worker as FFMPEG_<NAME>. */
export const FFMPEG_SCONE_NAMES = [
  'SCONE_CONFIG_ID',
  'SCONE_CAS_ADDR',
  'SCONE_LAS_ADDR',
  'SCONE_MODE',
  'SCONE_HEAP',
  'SCONE_STACK',
  'SCONE_LOG',
] as const;

/** The container the worker of job `jobName` (the batch id) writes its results to. */
export const resultsContainerOf = (jobName: string) => `${jobName}-results`;

export const RESULT_SUFFIXES = { frames: '.zip', analysis: '.json', error: '.error.json' } as const;
