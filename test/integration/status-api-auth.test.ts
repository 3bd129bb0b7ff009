/**
 * status-api authentication outcomes: a JWKS outage is 503 with Retry-After, every refusal is logged with a reason
 * code (never the token), and a misconfigured function answers 500 and says which variable is wrong. The router runs
 * with the real verifier against a real local JWKS (and one that fails); refusals never reach the table.
 */
import { describe, it, expect, beforeAll, afterAll, jest } from '@jest/globals';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { createLogger } from '#lib/log.js';
import { routeRequest, type ApiDeps } from '#lib/status/api/router.js';
import type { JobStatusStore } from '#lib/store/status-store.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { lambdaContext } from '#local/lambda-local.js';
import { startFailingJwks, type FailingJwks } from '#test/support/jwks-outage.js';
import { AUDIENCE, ISSUER, startTokenKit, type TokenKit } from '#test/support/tokens.js';

let kit: TokenKit;
let jwksDown: FailingJwks;

beforeAll(async () => {
  kit = await startTokenKit();
  jwksDown = await startFailingJwks();
});
afterAll(async () => {
  await kit.close();
  await jwksDown.close();
});

function apiWith(jwksUrl: string) {
  const lines: string[] = [];
  const deps: ApiDeps = {
    verifier: createJwtVerifier({ keys: { kind: 'jwks', url: jwksUrl }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' }),
    store: {} as JobStatusStore, // never reached: every request here is refused before the table
    swift: {} as SwiftStore,
    results: { tempUrlKey: 'unused', ttlSecs: 60, maxLinks: 10 },
    pageRefreshSecs: 10,
    log: createLogger({ function: 'status-api' }, { level: 'debug', sink: (line) => lines.push(line) }),
  };
  const get = (authorization?: string) =>
    routeRequest(
      {
        rawPath: '/jobs',
        requestContext: { http: { method: 'GET' } },
        headers: authorization ? { authorization } : {},
      } as unknown as APIGatewayProxyEventV2,
      deps,
    );
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).map(({ time: _time, ...rest }) => rest);
  return { get, logged, lines };
}

describe('status-api: authentication outcomes', () => {
  it('a JWKS outage answers 503 with Retry-After, not 401, and logs it', async () => {
    jwksDown.fail('status-503');
    const api = apiWith(jwksDown.url);
    const token = await kit.rs();
    const res = await api.get(`Bearer ${token}`);
    expect(res).toEqual({
      statusCode: 503,
      headers: expect.objectContaining({ 'retry-after': '5' }),
      body: JSON.stringify({ error: 'unavailable', message: 'the token cannot be verified right now' }),
    });
    expect(api.logged()).toEqual([
      {
        level: 'error',
        message: 'token not verifiable: signing keys unavailable',
        function: 'status-api',
        route: 'jobs',
        reason: 'jwks_unavailable',
      },
    ]);
    expect(api.lines.join('\n')).not.toContain(token);
  });

  it('logs each refused token with its reason code, never the token', async () => {
    const api = apiWith(kit.jwksUrl);
    const year9999 = 253402300799 - Math.floor(Date.now() / 1000);
    const cases: Array<[string | undefined, string, string]> = [
      [undefined, 'missing_token', 'missing_token'],
      ['Basic dXNlcjpwYXNz', 'missing_token', 'not_bearer'],
      ['Bearer garbage', 'malformed_token', 'malformed_token'],
      [`Bearer ${await kit.rs({}, { expSecs: -600 })}`, 'expired_token', 'exp_check_failed'],
      [`Bearer ${await kit.rs({}, { audience: 'radiomics-pacs' })}`, 'invalid_token', 'aud_check_failed'],
      [`Bearer ${await kit.rs({}, { expSecs: year9999 })}`, 'invalid_token', 'lifetime_too_long'],
      [`Bearer ${await kit.rs({}, { iatSecs: 365 * 24 * 3600, expSecs: 365 * 24 * 3600 + 300 })}`, 'invalid_token', 'iat_in_future'],
      [`Bearer ${await kit.rs({}, { kid: 'k-unknown' })}`, 'invalid_token', 'unknown_key'],
    ];
    for (const [authorization] of cases) expect((await api.get(authorization)).statusCode).toBe(401);
    expect(api.logged()).toEqual(
      cases.map(([, problem, reason]) => ({
        level: 'warn',
        message: 'token refused',
        function: 'status-api',
        route: 'jobs',
        problem,
        reason,
      })),
    );
    for (const [authorization] of cases) if (authorization) expect(api.lines.join('\n')).not.toContain(authorization.split(' ')[1]);
  });

  it('a misconfigured status-api answers 500 and logs which variable is missing', async () => {
    const savedEnv = { ...process.env };
    const written: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      written.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    };
    const writes = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    try {
      for (const name of Object.keys(process.env)) if (name.startsWith('AUTH_') || name === 'TABLE_NAME') delete process.env[name];
      process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
      const { handler } = await import('#functions/status-api.js');
      const context: Context = lambdaContext('status-api', 10_000);
      const res = await handler(
        { rawPath: '/jobs', requestContext: { http: { method: 'GET' } }, headers: {} } as unknown as APIGatewayProxyEventV2,
        context,
      );
      expect(res).toEqual({
        statusCode: 500,
        headers: expect.any(Object),
        body: JSON.stringify({ error: 'internal', message: 'the service is misconfigured' }),
      });
      const errors = written.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.level === 'ERROR');
      expect(errors).toEqual([
        expect.objectContaining({
          level: 'ERROR',
          message: 'status-api is misconfigured',
          function: 'status-api',
          error_name: 'ConfigError',
          error_message: expect.stringContaining('TABLE_NAME is missing; AUTH_ISSUER is missing; AUTH_AUDIENCE is missing'),
        }),
      ]);
    } finally {
      for (const write of writes) write.mockRestore();
      process.env = savedEnv;
    }
  });
});
