/**
 * Builds the sync-status dependencies once per container. No SSM client: the function's role reads no parameter, so
 * Swift credentials (PROGRESS_FROM_RESULTS=true only) come from `_FILE`, or from `options.parameters` where one is given.
 */
import { AsperathosClient } from '../asperathos/client.js';
import { documentClient } from '../aws-clients.js';
import { createLogger, type Logger } from '../log.js';
import { createSecretSource, type ParameterStore } from '../secrets.js';
import { swiftClientFromConfig } from '../swift-from-config.js';
import type { SyncConfig } from './config.js';
import { DynamoJobStatusStore } from './store.js';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from './sync.js';

export async function buildSyncDeps(config: SyncConfig, options: { log?: Logger; parameters?: ParameterStore } = {}): Promise<SyncDeps> {
  const log = options.log ?? createLogger({ function: 'sync-status' }, { level: config.logLevel });
  const swift = config.swift ? await swiftClientFromConfig(config.swift, createSecretSource(options.parameters), log) : undefined;
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
