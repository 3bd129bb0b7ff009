/**
 * Bearer-token verification with jose, shared by the HTTP functions (status-api, pacs-hook).
 *
 * - Keys: a remote JWKS (fetched lazily, cached, refetched at most every `cooldown` on an unknown kid) or one
 *   shared HS256 secret, chosen by configuration. Never both: a verifier knows exactly one key family.
 * - Algorithm allow-list: JWKS → asymmetric algorithms only (default RS256, PS256, ES256); secret → HS256 only.
 *   So `alg: none` and HS/RS confusion (an HS256 token "signed" with the RSA public key) are refused.
 * - Claims: issuer and audience must match; `exp` is required; `iat`, when present, may not lie in the future beyond
 *   the clock skew. Lifetime cap (default 12 h): `exp - iat`, or without `iat` `exp - now`, may not exceed it.
 * - Scope: with `requiredScope`, the space-separated `scope` claim must contain it (writing needs its own scope).
 * - The tenant comes from a configured claim and must look like a tenant (same rule as the intake's key prefix).
 * - A JWKS that cannot be fetched or read is `keys_unavailable` (an outage, 503), told apart from a bad token by
 *   where the failure arose (the key set, not the token) and jose's error codes, never by message or realm.
 * Errors never carry the token.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError, RadiomicsError, RetryableError } from '#lib/errors.js';
import { isTenant } from '#lib/tenant.js';

export interface VerifiedToken {
  tenant: string;
  subject?: string;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

export type TokenProblem =
  | 'missing_token'
  | 'malformed_token'
  | 'expired_token'
  | 'invalid_token'
  | 'no_tenant'
  | 'insufficient_scope'
  | 'keys_unavailable';

/**
 * The token is not acceptable; `problem` is what the caller answers, `reason` a finer machine-readable cause for
 * the audit log (`aud_check_failed`, `iat_in_future`, `lifetime_too_long`, `bad_signature`, …). Neither holds the token.
 */
export class AuthError extends RadiomicsError {
  override readonly name = 'AuthError';
  constructor(
    readonly problem: TokenProblem,
    message: string,
    readonly reason: string = problem,
  ) {
    super(problem === 'keys_unavailable' ? 503 : 401, problem, message);
  }
}

export type KeySource =
  | { kind: 'jwks'; url: string; algorithms?: string[]; cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number }
  | { kind: 'secret'; secret: Uint8Array };

export interface JwtVerifierOptions {
  keys: KeySource;
  issuer: string;
  audience: string;
  /** Claim holding the tenant, e.g. `tenant` or `https://radiomics.example.org/tenant`. */
  tenantClaim: string;
  /** Default 30. */
  clockSkewSecs?: number;
  /** Longest accepted `exp - iat`; default 12 h. */
  maxLifetimeSecs?: number;
  /** A scope the token's `scope` claim (space-separated) must contain. */
  requiredScope?: string;
}

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
export const DEFAULT_MAX_TOKEN_LIFETIME_SECS = 12 * 3600;
const DEFAULT_JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256'];
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** What a key set's lookup throws about the token itself (its kid or alg), rather than about the key set. */
const TOKEN_KEY_LOOKUP_CODES = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED']);

export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const { key, algorithms } = keyAndAlgorithms(options.keys);
  const clockTolerance = options.clockSkewSecs ?? 30;
  const maxLifetimeSecs = options.maxLifetimeSecs ?? DEFAULT_MAX_TOKEN_LIFETIME_SECS;
  if (!Number.isSafeInteger(maxLifetimeSecs) || maxLifetimeSecs <= 0)
    throw new ConfigError('the maximum token lifetime must be a positive whole number of seconds');
  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token.length === 0) throw new AuthError('missing_token', 'a bearer token is required');
      if (token.length > 16_384 || !COMPACT_JWS.test(token))
        throw new AuthError('malformed_token', 'the bearer token is not a compact JWS');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          clockTolerance,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        throw toAuthError(error);
      }
      checkLifetime(payload, maxLifetimeSecs, clockTolerance);
      if (options.requiredScope !== undefined && !scopesOf(payload).includes(options.requiredScope)) {
        throw new AuthError('insufficient_scope', `the token lacks the ${options.requiredScope} scope`);
      }
      const tenant = payload[options.tenantClaim];
      if (!isTenant(tenant)) throw new AuthError('no_tenant', 'the token names no valid tenant');
      return typeof payload.sub === 'string' ? { tenant, subject: payload.sub } : { tenant };
    },
  };
}

function checkLifetime(payload: JWTPayload, maxLifetimeSecs: number, skewSecs: number): void {
  const nowSecs = Math.floor(Date.now() / 1000);
  const { exp, iat } = payload as { exp: number; iat?: number };
  if (iat !== undefined && iat > nowSecs + skewSecs)
    throw new AuthError('invalid_token', "the token's iat claim is in the future", 'iat_in_future');
  // the skew also covers issuers that read their clock separately for iat and exp (a second apart)
  const lifetimeSecs = (iat === undefined ? exp - nowSecs : exp - iat) - skewSecs;
  if (lifetimeSecs > maxLifetimeSecs)
    throw new AuthError('invalid_token', `the token's lifetime exceeds ${maxLifetimeSecs} s`, 'lifetime_too_long');
}

function scopesOf(payload: JWTPayload): string[] {
  return typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
}

/** A failure of the key set itself (fetch, status, JSON, shape, timeout), carried out of jose unmistakably. */
class KeySetUnavailable extends RetryableError {
  override readonly name = 'KeySetUnavailable';
}

function keyAndAlgorithms(source: KeySource): { key: JWTVerifyGetKey | Uint8Array; algorithms: string[] } {
  if (source.kind === 'secret') {
    if (source.secret.length < 32) throw new ConfigError('the HS256 secret must be at least 32 bytes');
    return { key: source.secret, algorithms: ['HS256'] };
  }
  const algorithms = source.algorithms ?? DEFAULT_JWKS_ALGORITHMS;
  const bad = algorithms.filter((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
  if (bad.length > 0 || algorithms.length === 0)
    throw new ConfigError(`JWKS verification allows asymmetric algorithms only (refused: ${bad.join(', ') || 'none given'})`);
  const remote = createRemoteJWKSet(new URL(source.url), {
    cacheMaxAge: source.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: source.cooldownMs ?? 30_000,
    timeoutDuration: source.timeoutMs ?? 5_000,
  });
  const key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (TOKEN_KEY_LOOKUP_CODES.has(joseCodeOf(error) ?? '')) throw error;
      throw new KeySetUnavailable('the JWKS could not be fetched or read', { cause: error, code: 'jwks_unavailable' });
    }
  };
  return { key, algorithms };
}

/** jose's stable error code, read as a property so that it holds across realms and copies of jose. */
function joseCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^ERR_(JOSE|JW[SETK]S?)_/.test(code) ? code : undefined;
}

const REASON_OF_CODE: Record<string, string> = {
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad_signature',
  ERR_JOSE_ALG_NOT_ALLOWED: 'alg_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'alg_not_supported',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'ambiguous_key',
};

function toAuthError(error: unknown): AuthError {
  if (error instanceof KeySetUnavailable)
    return new AuthError('keys_unavailable', 'the signing keys could not be fetched', 'jwks_unavailable');
  const code = joseCodeOf(error);
  const claimFailure = error as { claim?: unknown; reason?: unknown };
  if (code === 'ERR_JWT_EXPIRED') return new AuthError('expired_token', 'the token has expired', 'exp_check_failed');
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const claim = String(claimFailure.claim);
    return new AuthError('invalid_token', `the token's ${claim} claim is not accepted`, `${claim}_${String(claimFailure.reason)}`);
  }
  if (code === 'ERR_JWS_INVALID' || code === 'ERR_JWT_INVALID')
    return new AuthError('malformed_token', 'the bearer token is malformed', code === 'ERR_JWS_INVALID' ? 'jws_invalid' : 'jwt_invalid');
  if (code !== undefined)
    return new AuthError('invalid_token', 'the token is not accepted', REASON_OF_CODE[code] ?? code.slice(4).toLowerCase());
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TypeError' || name === 'SyntaxError')
    return new AuthError('malformed_token', 'the bearer token is malformed', 'undecodable');
  return new AuthError('keys_unavailable', 'the token could not be verified', 'verifier_failed');
}

/** `Authorization: Bearer <token>` → token; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
