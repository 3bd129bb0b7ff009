/** Builds the status-api dependencies once per container (sync-status: lib/status/sync-wiring.ts). */
import { jwtVerifierFromConfig } from '#lib/auth/from-config.js';
import { documentClient, ssmParameters } from '#lib/aws/clients.js';
import { createLogger, type Logger } from '#lib/log.js';
import { createSecretSource } from '#lib/secrets.js';
import { sourceNameSealer } from '#lib/source-names.js';
import { swiftClientFromConfig } from '#lib/swift/from-config.js';
import type { ApiDeps } from '#lib/status/api/router.js';
import type { ApiConfig } from './config.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { DynamoRefusalLog } from '#lib/store/refusals.js';

export async function buildApiDeps(config: ApiConfig, options: { log?: Logger } = {}): Promise<ApiDeps> {
  const log = options.log ?? createLogger({ function: 'status-api' }, { level: config.logLevel });
  const secrets = createSecretSource(ssmParameters(config.aws));
  const sourceNames = config.sourceNameKey && sourceNameSealer(await secrets.read(config.sourceNameKey, 'SOURCE_NAME_KEY'));
  return {
    verifier: await jwtVerifierFromConfig(config.auth, secrets),
    store: new DynamoJobStatusStore(documentClient(config.aws), config.tableName, { sourceNames }),
    swift: await swiftClientFromConfig(config.swift, secrets, log),
    results: {
      tempUrlKey: await secrets.read(config.results.tempUrlKey, 'TEMPURL_KEY'),
      ttlSecs: config.results.ttlSecs,
      maxLinks: config.results.maxLinks,
    },
    pageRefreshSecs: config.pageRefreshSecs,
    sourceNames,
    log,
    refusals: new DynamoRefusalLog(documentClient(config.aws), config.tableName),
  };
}
