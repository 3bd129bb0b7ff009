/** The status-api router served locally over a test's table and Swift, with HS256 tokens from tokens.ts. */
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { createLogger } from '#lib/log.js';
import { routeRequest, type ApiDeps } from '#lib/status/api/router.js';
import type { JobStatusStore } from '#lib/store/status-store.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';
import { startLocalHttpApi, type LocalHttpApi } from '#local/status-api-server.js';
import { AUDIENCE, HS_SECRET, ISSUER } from './tokens.js';

export function localStatusApi(store: JobStatusStore, swift: SwiftStore): Promise<LocalHttpApi> {
  const deps: ApiDeps = {
    verifier: createJwtVerifier({ keys: { kind: 'secret', secret: HS_SECRET }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' }),
    store,
    swift,
    results: { tempUrlKey: LOCAL_TEMPURL_KEY, ttlSecs: 600, maxLinks: 100 },
    pageRefreshSecs: 1,
    log: createLogger({}, { level: 'error' }),
  };
  return startLocalHttpApi((event) => routeRequest(event, deps));
}
