/**
 * Bearer-token verification with jose, shared by the HTTP functions (status-api, pacs-hook).
 *
 * - Keys: a remote JWKS (fetched lazily, cached, refetched at most every `cooldown` on an unknown kid) or one
 *   shared HS256 secret, chosen by configuration. Never both: a verifier knows exactly one key family.
 * - Algorithm allow-list: JWKS → asymmetric algorithms only (default RS256, PS256, ES256); secret → HS256 only.
 *   So `alg: none` and HS/RS confusion (an HS256 token "signed" with the RSA public key) are refused.
 * - Claims: issuer and audience must match; `exp` is required; a small clock skew is tolerated.
 * - The tenant comes from a configured claim and must look like a tenant (same rule as the intake's key prefix).
 * Errors never carry the token.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export interface VerifiedToken {
  tenant: string;
  subject?: string;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

export type TokenProblem = 'missing_token' | 'malformed_token' | 'expired_token' | 'invalid_token' | 'no_tenant' | 'keys_unavailable';

/** The token is not acceptable; `problem` is machine-readable, the message never holds the token. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly problem: TokenProblem,
    message: string,
  ) {
    super(message);
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
}

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const DEFAULT_JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256'];
const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const { key, algorithms } = keyAndAlgorithms(options.keys);
  const clockTolerance = options.clockSkewSecs ?? 30;
  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token.length === 0) throw new AuthError('missing_token', 'a bearer token is required');
      if (token.length > 16_384 || !COMPACT_JWS.test(token)) throw new AuthError('malformed_token', 'the bearer token is not a compact JWS');
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
      const tenant = payload[options.tenantClaim];
      if (typeof tenant !== 'string' || !TENANT.test(tenant)) throw new AuthError('no_tenant', 'the token names no valid tenant');
      return typeof payload.sub === 'string' ? { tenant, subject: payload.sub } : { tenant };
    },
  };
}

function keyAndAlgorithms(source: KeySource): { key: JWTVerifyGetKey | Uint8Array; algorithms: string[] } {
  if (source.kind === 'secret') {
    if (source.secret.length < 32) throw new Error('the HS256 secret must be at least 32 bytes');
    return { key: source.secret, algorithms: ['HS256'] };
  }
  const algorithms = source.algorithms ?? DEFAULT_JWKS_ALGORITHMS;
  const bad = algorithms.filter((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
  if (bad.length > 0 || algorithms.length === 0) throw new Error(`JWKS verification allows asymmetric algorithms only (refused: ${bad.join(', ') || 'none given'})`);
  const key = createRemoteJWKSet(new URL(source.url), {
    cacheMaxAge: source.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: source.cooldownMs ?? 30_000,
    timeoutDuration: source.timeoutMs ?? 5_000,
  });
  return { key, algorithms };
}

function toAuthError(error: unknown): AuthError {
  if (error instanceof joseErrors.JWTExpired) return new AuthError('expired_token', 'the token has expired');
  if (error instanceof joseErrors.JWKSTimeout) return new AuthError('keys_unavailable', 'the signing keys could not be fetched in time');
  if (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC' && /fetch|network|status code/i.test(error.message)) {
    return new AuthError('keys_unavailable', 'the signing keys could not be fetched');
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) return new AuthError('invalid_token', `the token's ${error.claim} claim is not accepted`);
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return new AuthError('malformed_token', 'the bearer token is malformed');
  if (error instanceof joseErrors.JOSEError) return new AuthError('invalid_token', 'the token is not accepted');
  if (error instanceof TypeError || error instanceof SyntaxError) return new AuthError('malformed_token', 'the bearer token is malformed');
  return new AuthError('keys_unavailable', 'the token could not be verified');
}

/** `Authorization: Bearer <token>` → token; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
