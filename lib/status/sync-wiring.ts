/** Builds the sync-status dependencies once per container: its own file, so the bundle holds no JWT or API code. */
import { AsperathosClient } from '#lib/asperathos/client.js';
import { documentClient, ssmParameters } from '#lib/aws/clients.js';
import { createLogger, type Logger } from '#lib/log.js';
import { createSecretSource } from '#lib/secrets.js';
import { swiftClientFromConfig } from '#lib/swift/from-config.js';
import type { SyncConfig } from './config.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import type { SyncDeps } from './sync.js';

export async function buildSyncDeps(config: SyncConfig, options: { log?: Logger } = {}): Promise<SyncDeps> {
  const log = options.log ?? createLogger({ function: 'sync-status' }, { level: config.logLevel });
  const swift = config.swift ? await swiftClientFromConfig(config.swift, createSecretSource(ssmParameters(config.aws)), log) : undefined;
  return {
    store: new DynamoJobStatusStore(documentClient(config.aws), config.tableName),
    jobs: new AsperathosClient({ submissionsUrl: config.asperathosUrl, timeoutMs: config.asperathosTimeoutMs }),
    swift,
    settings: config.settings,
    log,
  };
}
