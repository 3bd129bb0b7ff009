/** The bearer-token verifier a function's JWT settings describe (lib/config.ts `jwtSettings`), its HS256 secret read once. */
import type { JwtSettings } from '#lib/config.js';
import type { SecretSource } from '#lib/secrets.js';
import { createJwtVerifier, type TokenVerifier } from './jwt.js';

export async function jwtVerifierFromConfig(settings: JwtSettings, secrets: SecretSource): Promise<TokenVerifier> {
  const keys =
    settings.kind === 'jwks'
      ? { kind: 'jwks' as const, url: settings.jwksUrl, algorithms: settings.algorithms }
      : { kind: 'secret' as const, secret: Buffer.from(await secrets.read(settings.secret, 'AUTH_HS256_SECRET'), 'utf8') };
  return createJwtVerifier({
    keys,
    issuer: settings.issuer,
    audience: settings.audience,
    requiredScope: settings.requiredScope,
    tenantClaim: settings.tenantClaim,
    clockSkewSecs: settings.clockSkewSecs,
    maxLifetimeSecs: settings.maxLifetimeSecs,
  });
}
