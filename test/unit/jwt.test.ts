import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { AuthError, bearerToken, createJwtVerifier, type TokenVerifier } from '../../lib/auth/jwt.js';
import { AUDIENCE, confusedToken, HS_SECRET, ISSUER, startTokenKit, unsecuredToken, type TokenKit } from '../support/tokens.js';

let kit: TokenKit;
let jwks: TokenVerifier;
let hs: TokenVerifier;

beforeAll(async () => {
  kit = await startTokenKit();
  jwks = createJwtVerifier({ keys: { kind: 'jwks', url: kit.jwksUrl }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant', clockSkewSecs: 30 });
  hs = createJwtVerifier({ keys: { kind: 'secret', secret: HS_SECRET }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant', clockSkewSecs: 30 });
});
afterAll(() => kit.close());

async function problemOf(verifier: TokenVerifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return 'accepted';
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    if (token) expect((error as Error).message).not.toContain(token);
    return (error as AuthError).problem;
  }
}

describe('JWT verifier', () => {
  it('accepts an RS256 token from the JWKS and an HS256 token with the shared secret, taking the tenant claim', async () => {
    expect(await jwks.verify(await kit.rs())).toEqual({ tenant: 'hospital-a', subject: 'user-1' });
    expect(await hs.verify(await kit.hs({ tenant: 'hospital-b' }))).toEqual({ tenant: 'hospital-b', subject: 'user-1' });
  });

  it('caches the JWKS: many verifications, one fetch', async () => {
    const fresh = createJwtVerifier({ keys: { kind: 'jwks', url: kit.jwksUrl }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' });
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
    const down = createJwtVerifier({ keys: { kind: 'jwks', url: 'http://127.0.0.1:1/jwks.json', timeoutMs: 500 }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' });
    expect(await problemOf(down, await kit.rs())).toBe('keys_unavailable');
  });

  it('refuses to configure symmetric algorithms for a JWKS, or a short secret', () => {
    expect(() => createJwtVerifier({ keys: { kind: 'jwks', url: kit.jwksUrl, algorithms: ['HS256'] }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' })).toThrow('asymmetric algorithms only');
    expect(() => createJwtVerifier({ keys: { kind: 'secret', secret: Buffer.from('short') }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' })).toThrow('at least 32 bytes');
  });

  it('reads only the Bearer scheme', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
