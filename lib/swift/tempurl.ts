/**
 * Swift TempURL signing (the `tempurl` middleware). The HMAC is over `METHOD\nEXPIRES\nPATH`, where PATH is the
 * *decoded* `/v1/<account>/<container>/<object>` as UTF-8; the URL itself carries the percent-encoded path.
 * sha1 and sha256 signatures are sent as hex (Swift tells them apart by length); sha512 as `sha512:<base64url>`.
 * The key is the account's `X-Account-Meta-Temp-URL-Key` (see SwiftClient.setAccountTempUrlKey).
 */
import { createHmac } from 'node:crypto';
import { RejectedInput } from '#lib/errors.js';
import { objectPath } from './names.js';

export type TempUrlMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
export type TempUrlDigest = 'sha256' | 'sha1' | 'sha512';

export interface TempUrlOptions {
  method: TempUrlMethod;
  container: string;
  object: string;
  /** Absolute expiry, Unix seconds. */
  expiresAtSec: number;
  key: string;
  /** Default sha256. */
  digest?: TempUrlDigest;
  /** Ask Swift to answer with `Content-Disposition: attachment; filename=...`. */
  filename?: string;
}

export function tempUrlSignature(
  method: TempUrlMethod,
  expiresAtSec: number,
  decodedPath: string,
  key: string,
  digest: TempUrlDigest = 'sha256',
): string {
  const hmac = createHmac(digest, key).update(`${method}\n${expiresAtSec}\n${decodedPath}`, 'utf8');
  return digest === 'sha512' ? `sha512:${hmac.digest('base64url')}` : hmac.digest('hex');
}

/** A TempURL for one object under `storageUrl` (e.g. `http://host:8080/v1/AUTH_test`). */
export function signTempUrl(storageUrl: string, options: TempUrlOptions): string {
  if (!Number.isInteger(options.expiresAtSec) || options.expiresAtSec <= 0) {
    throw new RejectedInput('invalid_tempurl', 'expiresAtSec must be a positive integer (Unix seconds)');
  }
  if (!options.key) throw new RejectedInput('invalid_tempurl', 'a TempURL key is required');
  const base = new URL(storageUrl.replace(/\/+$/, ''));
  const encodedPath = `${base.pathname}${objectPath(options.container, options.object)}`;
  const decodedPath = `${decodeURIComponent(base.pathname)}/${options.container}/${options.object}`;
  if (!decodedPath.startsWith('/v1/')) {
    throw new RejectedInput('invalid_tempurl', 'the storage URL path must start with /v1/ for TempURLs');
  }
  const sig = tempUrlSignature(options.method, options.expiresAtSec, decodedPath, options.key, options.digest ?? 'sha256');
  const query = new URLSearchParams({ temp_url_sig: sig, temp_url_expires: String(options.expiresAtSec) });
  if (options.filename !== undefined) query.set('filename', options.filename);
  return `${base.origin}${encodedPath}?${query.toString()}`;
}
