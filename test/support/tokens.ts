/** Test tokens: an RSA key pair served as a JWKS by a local HTTP server, an HS256 secret, and token makers. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const ISSUER = 'https://login.radiomics.test/';
export const AUDIENCE = 'radiomics-status';
export const HS_SECRET = Buffer.from('a-shared-hs256-secret-of-at-least-32-bytes!', 'utf8');

/** Seconds from now; `Infinity` leaves the claim out. */
export interface TokenOptions {
  expSecs?: number;
  iatSecs?: number;
  issuer?: string;
  audience?: string;
  kid?: string;
}

export interface TokenKit {
  jwksUrl: string;
  publicPem: string;
  jwksFetches: () => number;
  rs(claims?: Record<string, unknown>, options?: TokenOptions): Promise<string>;
  hs(claims?: Record<string, unknown>, options?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenKit(): Promise<TokenKit> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer((_request, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const sign = async (key: CryptoKey | Uint8Array, alg: string, claims: Record<string, unknown>, o: TokenOptions) => {
    const jwt = new SignJWT({ tenant: 'hospital-a', ...claims })
      .setProtectedHeader(alg === 'RS256' ? { alg, kid: o.kid ?? 'k1' } : { alg })
      .setIssuer(o.issuer ?? ISSUER)
      .setAudience(o.audience ?? AUDIENCE)
      .setSubject('user-1');
    if (o.iatSecs !== Infinity) jwt.setIssuedAt(Math.floor(Date.now() / 1000) + (o.iatSecs ?? 0));
    if (o.expSecs !== Infinity) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (o.expSecs ?? 300));
    return jwt.sign(key);
  };
  return {
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    publicPem: await exportSPKI(publicKey),
    jwksFetches: () => fetches,
    rs: (claims = {}, o = {}) => sign(privateKey, 'RS256', claims, o),
    hs: (claims = {}, o = {}) => sign(HS_SECRET, 'HS256', claims, o),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An unsecured JWT (`alg: none`). */
export function unsecuredToken(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300, tenant: 'hospital-a', ...claims })}.`;
}

/** HS/RS confusion: an HS256 token whose HMAC key is the RSA public key (PEM), as an attacker would forge it. */
export async function confusedToken(publicPem: string): Promise<string> {
  const { createHmac } = await import('node:crypto');
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64({ iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300, tenant: 'hospital-a' })}`;
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
}
