/** The status-api router served locally over a test's table and Swift, with HS256 tokens from tokens.ts. */
import { createJwtVerifier } from '#lib/auth/jwt.js';
import { createLogger } from '#lib/log.js';
import { routeRequest, type ApiDeps } from '#lib/status/api/router.js';
import type { SourceNameSealer } from '#lib/source-names.js';
import type { JobStatusStore } from '#lib/store/status-store.js';
import type { SwiftStore } from '#lib/swift/index.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';
import { startLocalHttpApi, type LocalHttpApi } from '#local/status-api-server.js';
import { AUDIENCE, HS_SECRET, ISSUER } from './tokens.js';

/** `sourceNames`: opens the source names sealed onto video rows (the store filing lookups under the same key). */
export function localStatusApi(
  store: JobStatusStore,
  swift: SwiftStore,
  options: { sourceNames?: SourceNameSealer } = {},
): Promise<LocalHttpApi> {
  const deps: ApiDeps = {
    verifier: createJwtVerifier({ keys: { kind: 'secret', secret: HS_SECRET }, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' }),
    store,
    swift,
    results: { tempUrlKey: LOCAL_TEMPURL_KEY, ttlSecs: 600, maxLinks: 100 },
    pageRefreshSecs: 1,
    sourceNames: options.sourceNames,
    log: createLogger({}, { level: 'error' }),
  };
  return startLocalHttpApi((event) => routeRequest(event, deps));
}
