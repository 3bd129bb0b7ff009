import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { AuthError, bearerToken, createJwtVerifier, type TokenVerifier } from '#lib/auth/jwt.js';
import { AUDIENCE, confusedToken, HS_SECRET, ISSUER, startTokenKit, unsecuredToken, type TokenKit } from '#test/support/tokens.js';
import { startFailingJwks, type JwksFailure } from '#test/support/jwks-outage.js';

let kit: TokenKit;
let jwks: TokenVerifier;
let hs: TokenVerifier;

beforeAll(async () => {
  kit = await startTokenKit();
  jwks = createJwtVerifier({
    keys: { kind: 'jwks', url: kit.jwksUrl },
    issuer: ISSUER,
    audience: AUDIENCE,
    tenantClaim: 'tenant',
    clockSkewSecs: 30,
  });
  hs = createJwtVerifier({
    keys: { kind: 'secret', secret: HS_SECRET },
    issuer: ISSUER,
    audience: AUDIENCE,
    tenantClaim: 'tenant',
    clockSkewSecs: 30,
  });
});
afterAll(() => kit.close());

async function refusalOf(verifier: TokenVerifier, token: string): Promise<{ problem: string; reason: string } | 'accepted'> {
  try {
    await verifier.verify(token);
    return 'accepted';
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    if (token) expect((error as Error).message).not.toContain(token);
    return { problem: (error as AuthError).problem, reason: (error as AuthError).reason };
  }
}

async function problemOf(verifier: TokenVerifier, token: string): Promise<string> {
  const refusal = await refusalOf(verifier, token);
  return refusal === 'accepted' ? refusal : refusal.problem;
}

const YEAR_SECS = 365 * 24 * 3600;

describe('JWT verifier', () => {
  it('accepts an RS256 token from the JWKS and an HS256 token with the shared secret, taking the tenant claim', async () => {
    expect(await jwks.verify(await kit.rs())).toEqual({ tenant: 'hospital-a', subject: 'user-1' });
    expect(await hs.verify(await kit.hs({ tenant: 'hospital-b' }))).toEqual({ tenant: 'hospital-b', subject: 'user-1' });
  });

  it('caches the JWKS: many verifications, one fetch', async () => {
    const fresh = createJwtVerifier({
      keys: { kind: 'jwks', url: kit.jwksUrl },
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantClaim: 'tenant',
    });
    const before = kit.jwksFetches();
    for (let i = 0; i < 5; i++) await fresh.verify(await kit.rs());
    expect(kit.jwksFetches() - before).toBe(1);
  });

  it('tolerates a small clock skew on exp but not an expired token', async () => {
    expect(await problemOf(jwks, await kit.rs({}, { expSecs: -10 }))).toBe('accepted');
    expect(await problemOf(jwks, await kit.rs({}, { expSecs: -120 }))).toBe('expired_token');
    expect(await problemOf(hs, await kit.hs({}, { expSecs: -120 }))).toBe('expired_token');
  });

  it('refuses a token without exp', async () => {
    expect(await problemOf(jwks, await kit.rs({}, { expSecs: Infinity }))).toBe('invalid_token');
  });

  it('refuses the wrong audience and the wrong issuer', async () => {
    expect(await problemOf(jwks, await kit.rs({}, { audience: 'another-api' }))).toBe('invalid_token');
    expect(await problemOf(jwks, await kit.rs({}, { issuer: 'https://evil.example/' }))).toBe('invalid_token');
    expect(await problemOf(hs, await kit.hs({}, { audience: 'another-api' }))).toBe('invalid_token');
  });

  it('refuses alg none on both verifiers', async () => {
    expect(await problemOf(jwks, unsecuredToken({}))).toBe('invalid_token');
    expect(await problemOf(hs, unsecuredToken({}))).toBe('invalid_token');
  });

  it('refuses HS/RS confusion: an HS256 token keyed with the RSA public key, and an RS256 token on the HS verifier', async () => {
    expect(await problemOf(jwks, await confusedToken(kit.publicPem))).toBe('invalid_token');
    expect(await problemOf(hs, await kit.rs())).toBe('invalid_token');
    expect(await problemOf(jwks, await kit.hs())).toBe('invalid_token');
  });

  it('refuses garbage, empty and tampered tokens', async () => {
    expect(await problemOf(jwks, '')).toBe('missing_token');
    expect(await problemOf(jwks, 'not-a-token')).toBe('malformed_token');
    expect(await problemOf(jwks, 'a.b.c')).toBe('malformed_token');
    expect(await problemOf(jwks, '....')).toBe('malformed_token');
    const good = await kit.rs();
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, exp: 9999999999, tenant: 'hospital-b' })).toString('base64url')}.${s}`;
    expect(await problemOf(jwks, forged)).toBe('invalid_token');
  });

  it('refuses a token without a valid tenant claim', async () => {
    expect(await problemOf(jwks, await kit.rs({ tenant: undefined }))).toBe('no_tenant');
    expect(await problemOf(jwks, await kit.rs({ tenant: 'Hospital#A' }))).toBe('no_tenant');
  });

  it('reports an unreachable JWKS as keys_unavailable, not as a bad token', async () => {
    const down = createJwtVerifier({
      keys: { kind: 'jwks', url: 'http://127.0.0.1:1/jwks.json', timeoutMs: 500 },
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantClaim: 'tenant',
    });
    expect(await problemOf(down, await kit.rs())).toBe('keys_unavailable');
  });

  it('a JWKS answering an error status, HTML, a malformed key set or a redirect is an outage (keys_unavailable), not a bad token', async () => {
    const jwksDown = await startFailingJwks();
    try {
      const token = await kit.rs();
      const seen: Array<[JwksFailure, string]> = [];
      for (const mode of ['status-500', 'status-503', 'status-429', 'status-404', 'html', 'keys-not-a-list', 'redirect'] as const) {
        jwksDown.fail(mode);
        const verifier = createJwtVerifier({
          keys: { kind: 'jwks', url: jwksDown.url },
          issuer: ISSUER,
          audience: AUDIENCE,
          tenantClaim: 'tenant',
        });
        seen.push([mode, await problemOf(verifier, token)]);
      }
      expect(seen).toEqual([
        ['status-500', 'keys_unavailable'],
        ['status-503', 'keys_unavailable'],
        ['status-429', 'keys_unavailable'],
        ['status-404', 'keys_unavailable'],
        ['html', 'keys_unavailable'],
        ['keys-not-a-list', 'keys_unavailable'],
        ['redirect', 'keys_unavailable'],
      ]);
    } finally {
      await jwksDown.close();
    }
  });

  it('a reset, refused or silent JWKS connection is an outage (keys_unavailable), not a malformed token', async () => {
    const jwksDown = await startFailingJwks();
    try {
      const token = await kit.rs();
      jwksDown.fail('reset');
      const reset = createJwtVerifier({
        keys: { kind: 'jwks', url: jwksDown.url },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
      });
      expect(await refusalOf(reset, token)).toEqual({ problem: 'keys_unavailable', reason: 'jwks_unavailable' });
      const refused = createJwtVerifier({
        keys: { kind: 'jwks', url: jwksDown.refusedUrl },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
      });
      expect(await refusalOf(refused, token)).toEqual({ problem: 'keys_unavailable', reason: 'jwks_unavailable' });
      jwksDown.fail('silent');
      const silent = createJwtVerifier({
        keys: { kind: 'jwks', url: jwksDown.url, timeoutMs: 200 },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
      });
      expect(await refusalOf(silent, token)).toEqual({ problem: 'keys_unavailable', reason: 'jwks_unavailable' });
    } finally {
      await jwksDown.close();
    }
  });

  it("a healthy JWKS without the token's key refuses the token (invalid_token), not an outage", async () => {
    expect(await refusalOf(jwks, await kit.rs({}, { kid: 'k-unknown' }))).toEqual({ problem: 'invalid_token', reason: 'unknown_key' });
  });

  it('refuses a token whose lifetime exceeds the 12 h default (exp in 9999), on both verifiers', async () => {
    const year9999 = 253402300799 - Math.floor(Date.now() / 1000);
    expect(await refusalOf(jwks, await kit.rs({}, { expSecs: year9999 }))).toEqual({
      problem: 'invalid_token',
      reason: 'lifetime_too_long',
    });
    expect(await refusalOf(hs, await kit.hs({}, { expSecs: year9999 }))).toEqual({ problem: 'invalid_token', reason: 'lifetime_too_long' });
    expect(await refusalOf(jwks, await kit.rs({}, { expSecs: 12 * 3600 - 5 }))).toBe('accepted');
    expect(await refusalOf(jwks, await kit.rs({}, { expSecs: 12 * 3600 + 1 }))).toBe('accepted'); // exp read a second after iat
    expect(await refusalOf(jwks, await kit.rs({}, { expSecs: 12 * 3600 + 60 }))).toEqual({
      problem: 'invalid_token',
      reason: 'lifetime_too_long',
    });
  });

  it('honours a configured maximum lifetime and refuses an out-of-range one', async () => {
    const hourly = createJwtVerifier({
      keys: { kind: 'secret', secret: HS_SECRET },
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantClaim: 'tenant',
      maxLifetimeSecs: 3600,
    });
    expect(await refusalOf(hourly, await kit.hs({}, { expSecs: 2 * 3600 }))).toEqual({
      problem: 'invalid_token',
      reason: 'lifetime_too_long',
    });
    expect(await refusalOf(hourly, await kit.hs({}, { expSecs: 3595 }))).toBe('accepted');
    expect(await refusalOf(hourly, await kit.hs({}, { iatSecs: -7200, expSecs: 600 }))).toEqual({
      problem: 'invalid_token',
      reason: 'lifetime_too_long',
    });
    expect(await refusalOf(hourly, await kit.hs({}, { iatSecs: Infinity, expSecs: 2 * 3600 }))).toEqual({
      problem: 'invalid_token',
      reason: 'lifetime_too_long',
    });
    expect(await refusalOf(hourly, await kit.hs({}, { iatSecs: Infinity, expSecs: 3600 }))).toBe('accepted');
    expect(() =>
      createJwtVerifier({
        keys: { kind: 'secret', secret: HS_SECRET },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
        maxLifetimeSecs: 0,
      }),
    ).toThrow('the maximum token lifetime must be a positive whole number of seconds');
  });

  it('refuses a token issued in the future beyond the skew', async () => {
    expect(await refusalOf(jwks, await kit.rs({}, { iatSecs: YEAR_SECS, expSecs: YEAR_SECS + 300 }))).toEqual({
      problem: 'invalid_token',
      reason: 'iat_in_future',
    });
    expect(await refusalOf(jwks, await kit.rs({}, { iatSecs: 120 }))).toEqual({ problem: 'invalid_token', reason: 'iat_in_future' });
    expect(await refusalOf(jwks, await kit.rs({}, { iatSecs: 20 }))).toBe('accepted');
  });

  it('with a required scope, refuses a token without it (a read token never writes)', async () => {
    const writer = createJwtVerifier({
      keys: { kind: 'secret', secret: HS_SECRET },
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantClaim: 'tenant',
      requiredScope: 'pacs:write',
    });
    expect(await refusalOf(writer, await kit.hs({ scope: 'status:read' }))).toEqual({
      problem: 'insufficient_scope',
      reason: 'insufficient_scope',
    });
    expect(await refusalOf(writer, await kit.hs({}))).toEqual({ problem: 'insufficient_scope', reason: 'insufficient_scope' });
    expect(await refusalOf(writer, await kit.hs({ scope: 'pacs:writer status:read' }))).toEqual({
      problem: 'insufficient_scope',
      reason: 'insufficient_scope',
    });
    expect(await refusalOf(writer, await kit.hs({ scope: 'status:read pacs:write' }))).toBe('accepted');
  });

  it('refuses to configure symmetric algorithms for a JWKS, or a short secret', () => {
    expect(() =>
      createJwtVerifier({
        keys: { kind: 'jwks', url: kit.jwksUrl, algorithms: ['HS256'] },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
      }),
    ).toThrow('asymmetric algorithms only');
    expect(() =>
      createJwtVerifier({
        keys: { kind: 'secret', secret: Buffer.from('short') },
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: 'tenant',
      }),
    ).toThrow('at least 32 bytes');
  });

  it('reads only the Bearer scheme', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
