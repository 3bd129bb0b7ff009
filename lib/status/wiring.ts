/** Builds the sync-status and status-api dependencies once per container. */
import { AsperathosClient } from '../asperathos/index.js';
import { createJwtVerifier } from '../auth/jwt.js';
import { documentClient, ssmClient } from '../aws-clients.js';
import { createLogger } from '../log.js';
import { createSecretSource } from '../secrets.js';
import { swiftClientFromConfig } from '../swift-from-config.js';
import type { ApiDeps } from './api/router.js';
import type { ApiConfig, SyncConfig } from './config.js';
import { DynamoJobStatusStore } from './store.js';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from './sync.js';

export async function buildSyncDeps(config: SyncConfig): Promise<SyncDeps> {
  const log = createLogger({ function: 'sync-status' }, { level: config.logLevel });
  const swift = config.swift ? await swiftClientFromConfig(config.swift, createSecretSource(ssmClient(config.aws)), log) : undefined;
  return {
    store: new DynamoJobStatusStore(documentClient(config.aws), config.tableName),
    jobs: new AsperathosClient({ submissionsUrl: config.asperathosUrl, timeoutMs: config.asperathosTimeoutMs }),
    swift,
    settings: {
      ...DEFAULT_SYNC_SETTINGS,
      concurrency: config.concurrency,
      notFoundLimit: config.notFoundLimit,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
      breakerThreshold: config.breakerThreshold,
      heartbeatMs: config.heartbeatMs,
      shredKeysOnTerminal: config.shredKeysOnTerminal,
    },
    log,
  };
}

export async function buildApiDeps(config: ApiConfig): Promise<ApiDeps> {
  const log = createLogger({ function: 'status-api' }, { level: config.logLevel });
  const secrets = createSecretSource(ssmClient(config.aws));
  const auth = config.auth;
  const keys =
    auth.kind === 'jwks'
      ? { kind: 'jwks' as const, url: auth.jwksUrl, algorithms: auth.algorithms }
      : { kind: 'secret' as const, secret: Buffer.from(await secrets.read(auth.secret, 'AUTH_HS256_SECRET'), 'utf8') };
  return {
    verifier: createJwtVerifier({
      keys,
      issuer: auth.issuer,
      audience: auth.audience,
      tenantClaim: auth.tenantClaim,
      clockSkewSecs: auth.clockSkewSecs,
      maxLifetimeSecs: auth.maxLifetimeSecs,
    }),
    store: new DynamoJobStatusStore(documentClient(config.aws), config.tableName),
    swift: await swiftClientFromConfig(config.swift, secrets, log),
    results: { tempUrlKey: await secrets.read(config.results.tempUrlKey, 'TEMPURL_KEY'), ttlSecs: config.results.ttlSecs, maxLinks: config.results.maxLinks },
    pageRefreshSecs: config.pageRefreshSecs,
    log,
  };
}
