/**
 * Per-hospital credentials for the PACS hook. The tenant always comes from the credential.
 *
 * - Basic `user:password`: scrypt hashes (`scrypt$N$r$p$<salt b64>$<hash b64>`), looked up by user name.
 * - Static Bearer tokens: salted SHA-256 (`sha256$<salt b64>$<hash b64>`); tokens are long random strings, so a
 *   fast hash is enough and every entry can be checked on each request.
 * - JWTs (compact JWS shape): the status API's verifier, injected.
 * Rotation: several entries may name the same user or tenant (old and new secret both valid while a hospital
 * switches); the credential document is re-read after `refreshMs`, so removing the old entry revokes it.
 * Successful Basic checks are cached by a hash of the header for `cacheMs`, so a study sent one instance per
 * request pays scrypt once. Nothing here logs or returns a secret.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, RequestRefused, RetryableError } from '#lib/errors.js';
import { AuthError } from '#lib/auth/jwt.js';
import { isTenant, TENANT_PATTERN } from '#lib/tenant.js';

export interface TokenVerifier {
  verify(token: string): Promise<{ tenant: string }>;
}

export interface Principal {
  tenant: string;
  method: 'basic' | 'bearer' | 'jwt';
}

export type UnauthorizedCode = 'missing_credentials' | 'bad_credentials' | 'unsupported_scheme';

export class Unauthorized extends RequestRefused {
  override readonly name = 'Unauthorized';
  declare readonly code: UnauthorizedCode;
  constructor(code: UnauthorizedCode) {
    const message =
      code === 'missing_credentials'
        ? 'credentials are required'
        : code === 'unsupported_scheme'
          ? 'use Basic or Bearer'
          : 'the credentials are not accepted';
    super(401, code, message, { 'www-authenticate': 'Basic realm="pacs-hook", Bearer' });
  }
}

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const credentialsSchema = z.object({
  basic: z
    .array(z.object({ tenant: z.string().regex(TENANT_PATTERN), user: z.string().min(1), hash: z.string().startsWith('scrypt$') }))
    .default([]),
  bearer: z.array(z.object({ tenant: z.string().regex(TENANT_PATTERN), hash: z.string().startsWith('sha256$') })).default([]),
});
export type HospitalCredentials = z.infer<typeof credentialsSchema>;

export function parseHospitalCredentials(text: string): HospitalCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('PACS_CREDENTIALS is not JSON');
  }
  const result = credentialsSchema.safeParse(json);
  if (!result.success) throw new ConfigError(`PACS_CREDENTIALS is invalid: ${result.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return result.data;
}

const scrypt = (secret: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCallback(secret, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))),
  );

/** Makes a credential-document hash for a Basic password (`basic`) or a static bearer token (`bearer`). */
export async function hashCredential(kind: 'basic' | 'bearer', secret: string, options: { N?: number } = {}): Promise<string> {
  const salt = randomBytes(16);
  if (kind === 'bearer') return `sha256$${salt.toString('base64')}$${sha256(salt, secret).toString('base64')}`;
  const N = options.N ?? 16384;
  const key = await scrypt(secret, salt, 32, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

function sha256(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

async function matches(hash: string, secret: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts[0] === 'sha256' && parts.length === 3) {
    const expected = Buffer.from(parts[2], 'base64');
    const actual = sha256(Buffer.from(parts[1], 'base64'), secret);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [N, r, p] = parts.slice(1, 4).map(Number);
    const expected = Buffer.from(parts[5], 'base64');
    const actual = await scrypt(secret, Buffer.from(parts[4], 'base64'), expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
    return timingSafeEqual(expected, actual);
  }
  return false;
}

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}

export interface CredentialAuthenticatorOptions {
  /** Loads the current credential document (from SSM or a file); called again after `refreshMs`. */
  load: () => Promise<HospitalCredentials>;
  jwt?: TokenVerifier;
  refreshMs?: number;
  cacheMs?: number;
  now?: () => number;
  /** Checks a secret against a credential-document hash; default scrypt or salted SHA-256 as the hash says. */
  checkSecret?: (hash: string, secret: string) => Promise<boolean>;
}

/** A hash no password matches, checked for unknown Basic users so that they cost the same scrypt as known ones. */
let dummyBasicHash: Promise<string> | undefined;
const unknownUserHash = () => (dummyBasicHash ??= hashCredential('basic', randomBytes(24).toString('base64')));

export function credentialAuthenticator(options: CredentialAuthenticatorOptions): Authenticator {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? 5 * 60_000;
  const cacheMs = options.cacheMs ?? 60_000;
  const checkSecret = options.checkSecret ?? matches;
  let loaded: { at: number; credentials: Promise<HospitalCredentials> } | undefined;
  const verified = new Map<string, { tenant: string; until: number; generation: Promise<HospitalCredentials> }>();

  const current = () => {
    if (!loaded || now() - loaded.at > refreshMs) {
      const credentials = options.load();
      credentials.catch(() => {
        if (loaded?.credentials === credentials) loaded = undefined;
      });
      loaded = { at: now(), credentials };
      verified.clear();
    }
    return loaded.credentials;
  };

  return {
    async authenticate(authorization) {
      if (!authorization) throw new Unauthorized('missing_credentials');
      const match = /^(\S+)\s+(\S+)\s*$/.exec(authorization);
      if (!match) throw new Unauthorized('bad_credentials');
      const scheme = match[1].toLowerCase();
      const value = match[2];
      if (scheme === 'bearer') {
        if (JWS.test(value) && options.jwt) {
          try {
            const { tenant } = await options.jwt.verify(value);
            if (!isTenant(tenant)) throw new Unauthorized('bad_credentials');
            return { tenant, method: 'jwt' };
          } catch (error) {
            if (error instanceof AuthError && error.problem === 'keys_unavailable')
              throw new RetryableError('the signing keys for JWTs are unavailable', { cause: error });
            throw new Unauthorized('bad_credentials');
          }
        }
        const credentials = await current();
        for (const entry of credentials.bearer) {
          if (await checkSecret(entry.hash, value)) return { tenant: entry.tenant, method: 'bearer' };
        }
        throw new Unauthorized('bad_credentials');
      }
      if (scheme !== 'basic') throw new Unauthorized('unsupported_scheme');
      const generation = current();
      const credentials = await generation;
      const cacheKey = createHash('sha256').update(authorization).digest('base64');
      const hit = verified.get(cacheKey);
      if (hit && hit.until > now() && hit.generation === generation) return { tenant: hit.tenant, method: 'basic' };
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new Unauthorized('bad_credentials');
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const entries = credentials.basic.filter((entry) => entry.user === user);
      if (entries.length === 0) await checkSecret(await unknownUserHash(), password);
      for (const entry of entries) {
        if (await checkSecret(entry.hash, password)) {
          if (verified.size > 1000) verified.clear();
          verified.set(cacheKey, { tenant: entry.tenant, until: now() + cacheMs, generation });
          return { tenant: entry.tenant, method: 'basic' };
        }
      }
      throw new Unauthorized('bad_credentials');
    },
  };
}
