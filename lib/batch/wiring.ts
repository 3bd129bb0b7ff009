/** Builds the batch function's dependencies once per container. */
import type { BatchConfig } from './config.js';
import { AsperathosClient } from '#lib/asperathos/client.js';
import { documentClient, ssmParameters } from '#lib/aws/clients.js';
import { parseEnclaveConfig, parseSecretEnv } from '#lib/enclave-image/config.js';
import { decodeMasterKey, JweKeyWrapper } from '#lib/keys.js';
import { createLogger, type Logger } from '#lib/log.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { createSecretSource } from '#lib/secrets.js';
import { DynamoBatchStore } from '#lib/store/batch-store.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { swiftClientFromConfig } from '#lib/swift/from-config.js';
import type { BatchDeps } from './close.js';

/** TempURLs are signed with the account's second key slot, leaving slot 1 to the operator. */
export const TEMPURL_KEY_SLOT = 2;

export async function buildBatchDeps(config: BatchConfig, options: { log?: Logger } = {}): Promise<BatchDeps> {
  const log = options.log ?? createLogger({ function: 'batch' }, { level: config.logLevel });
  const secrets = createSecretSource(ssmParameters(config.aws));
  const masterKey = decodeMasterKey(await secrets.read(config.masterKey, 'MASTER_KEY'));
  const doc = documentClient(config.aws);
  const swift = await swiftClientFromConfig(config.swift, secrets, log);
  let links: BatchDeps['settings']['links'] = { kind: 'public' };
  if (config.links.kind === 'tempurl') {
    const key = await secrets.read(config.links.key, 'TEMPURL_KEY');
    await swift.setAccountTempUrlKey(key, { slot: TEMPURL_KEY_SLOT });
    links = { kind: 'tempurl', key, ttlSecs: config.links.ttlSecs };
  }
  const sessions = config.cas
    ? new PalaemonClient({
        casAddress: config.cas.address,
        tls: {
          ca: await secrets.read(config.cas.ca, 'CAS_CA'),
          cert: await secrets.read(config.cas.clientCert, 'CAS_CLIENT_CERT'),
          key: await secrets.read(config.cas.clientKey, 'CAS_CLIENT_KEY'),
          servername: config.cas.serverName,
        },
        logger: log,
      })
    : undefined;
  return {
    batches: new DynamoBatchStore(doc, config.tableName),
    intake: new DynamoIntakeStore(doc, config.tableName),
    swift,
    keys: new JweKeyWrapper(masterKey),
    jobs: new AsperathosClient({ submissionsUrl: config.asperathosUrl }),
    sessions,
    settings: {
      maxItems: config.maxItems,
      maxBytes: config.maxBytes,
      maxAgeSecs: config.maxAgeSecs,
      quietSecs: config.quietSecs,
      staleSealSecs: config.staleSealSecs,
      staleSubmitSecs: config.staleSubmitSecs,
      links,
      submission: {
        mode: config.mode,
        casAddress: config.cas?.address,
        sessionFormat: config.sessionFormat,
        enclave: parseEnclaveConfig(await secrets.read(config.enclaveConfig, 'ENCLAVE_CONFIG')),
        workerCmd: config.workerCmd,
        sessionCommand: config.sessionCommand,
        sessionVersion: config.sessionVersion,
        tolerate: config.tolerate,
        ignoreAdvisories: config.ignoreAdvisories,
        initSize: config.initSize,
        expectedTimeSecs: config.expectedTimeSecs,
        resourcesLifetimeSecs: config.resourcesLifetimeSecs,
        visualizer: config.visualizer
          ? { username: config.visualizer.username, password: await secrets.read(config.visualizer.password, 'GRAFANA_PASSWORD') }
          : undefined,
        itemLeaseSecs: config.itemLeaseSecs,
        verbosity: config.verbosity,
        workerEnv: config.workerEnv,
        workerSecretEnv: config.workerSecretEnv
          ? parseSecretEnv(await secrets.read(config.workerSecretEnv, 'WORKER_SECRET_ENV'), 'WORKER_SECRET_ENV')
          : {},
      },
    },
    log,
  };
}
