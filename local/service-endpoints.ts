/**
 * Connection facts of the real local services started by `npm run services:start`
 * (Swift All-In-One, memcached, redis-server), read from `.local/services.json`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface LocalServices {
  swift: {
    proxyUrl: string;
    authUrl: string;
    user: string;
    key: string;
    account: string;
    storageUrl: string;
    s3Endpoint: string;
    s3AccessKey: string;
    s3SecretKey: string;
  };
  memcached: { host: string; port: number };
  redis: { host: string; port: number };
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVICES_FILE = join(REPO_ROOT, '.local', 'services.json');

export function loadServices(): LocalServices {
  try {
    return JSON.parse(readFileSync(SERVICES_FILE, 'utf8')) as LocalServices;
  } catch {
    throw new Error(`local services are not running: ${SERVICES_FILE} is missing (run: npm run services:start)`);
  }
}

/** The read-only reference material beside the checkout (`../shared`), as in CI. */
export const SHARED_DIR = join(REPO_ROOT, '..', 'shared');
