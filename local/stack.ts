/**
 * The whole system on one machine, for `npm start` and the end-to-end tests:
 *   intake side (local/intake-stack.ts: Swift, Redis, memcached, dynalite, s3rver → the real intake handler),
 *   the real batch handler on a local schedule (every `tickMs`, standing in for rate(1 minute)),
 *   the Palaemon CAS emulator (mTLS) for HW mode, and the Asperathos emulator running this project's enclave
 *   worker as local processes (SIM: the key in env_vars; HW: the worker's key comes from the session).
 * Every handler is configured only through its environment, as in the cloud.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTlsFixtures } from './tls-fixtures.js';
import { startPalaemonEmulator, type PalaemonEmulator } from './palaemon-emulator.js';
import { startAsperathosEmulator, type AsperathosEmulator, type AsperathosEmulatorOptions } from '#local/asperathos/index.js';
import { startIntakeStack, type IntakeStack } from './intake-stack.js';
import { invokeAsync } from './lambda-local.js';
import { LOCAL_TEMPURL_KEY, REPO_ROOT } from './services.js';
import type { BatchRunSummary } from '#lib/batch/close.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { startLocalHttpApi, type LocalHttpApi } from './status-api-server.js';

export interface StackOptions {
  mode?: 'SIM' | 'HW';
  /** The batch window (BATCH_MAX_AGE_SECS). */
  windowSecs?: number;
  /** Close a batch this long after its last seal, before its window ends (BATCH_QUIET_SECS; 0: window only). */
  quietSecs?: number;
  /** How often the local schedule runs `batch`. */
  tickMs?: number;
  workers?: number;
  /** Port of the local status API and page; default a free one. */
  statusPort?: number;
  /** Reach Swift through this base URL (e.g. a fault-injecting proxy) instead of the proxy server itself. */
  swiftUrl?: string;
  /** Keep the Asperathos emulator's jobs on disk, so that `restartAsperathos` resumes them. */
  asperathosStateDir?: string;
  itemLeaseSecs?: number;
  log?: (line: string) => void;
}

export interface Stack extends IntakeStack {
  mode: 'SIM' | 'HW';
  asperathos: AsperathosEmulator;
  /** Stops the Asperathos emulator (its workers die) and starts it again on the same port and state. */
  restartAsperathos(): Promise<void>;
  /** Holds the local sync-status schedule (no tick runs while paused), e.g. to let a job end unobserved. */
  pauseSync(paused: boolean): void;
  cas?: PalaemonEmulator;
  /** The CAS client credentials the batch function uses (HW). */
  casClientTls?: { ca: string; cert: string; key: string };
  /** The status API and page, served locally by the real handler. */
  statusApi: LocalHttpApi;
  /** A bearer token for tenant `tenant` (12 hours), signed with the local HS256 secret. */
  statusToken(tenant: string): Promise<string>;
  /** plugin_info of every job the emulator started, as submitted. */
  submittedJobs: Array<Record<string, unknown>>;
  batchRuns: BatchRunSummary[];
  stop(): Promise<void>;
}

/** Illustrative enclave facts for local runs: no enclave is measured here (see enclave/README.md). */
const LOCAL_ENCLAVE = {
  mrenclave: `${'0'.repeat(63)}1`,
  'image-name': 'local/radiomics-worker:dev',
  'fspf-tag': '0'.repeat(32),
  'fspf-key': '0'.repeat(64),
  'fspf-path': '/fspf.pb',
};

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const mode = options.mode ?? 'SIM';
  const log = options.log ?? (() => undefined);
  const intake = await startIntakeStack({ log, swiftUrl: options.swiftUrl });
  const local = join(REPO_ROOT, '.local');
  const secret = (name: string, value: string) => {
    const path = join(local, 'secrets', name);
    writeFileSync(path, value, { mode: 0o600 });
    return path;
  };

  let cas: PalaemonEmulator | undefined;
  const tls = mode === 'HW' ? await generateTlsFixtures(join(local, 'tls'), { clients: ['batch'] }) : undefined;
  if (tls) {
    cas = await startPalaemonEmulator({ tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key }, attestationPort: 0 });
  }
  const swift = intake.services.swift;
  const submittedJobs: Array<Record<string, unknown>> = [];
  const asperathosOptions = (port: number): AsperathosEmulatorOptions => ({
    port,
    redis: intake.services.redis,
    stateDir: options.asperathosStateDir,
    workerCommand: (job: { pluginInfo: Record<string, unknown>; workerIndex: number }) => {
      if (job.workerIndex === 0 && !submittedJobs.includes(job.pluginInfo)) submittedJobs.push(job.pluginInfo);
      // plays /entrypoint.sh and the SCONE runtime (HW: the session's environment only), then the worker's main
      return { cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'local', 'worker-entry.ts')], cwd: REPO_ROOT };
    },
    workerEnv: cas ? { LOCAL_CAS_CA_FILE: tls!.caPath, LOCAL_EMULATED_MRENCLAVE: LOCAL_ENCLAVE.mrenclave } : {},
  });
  let asperathos = await startAsperathosEmulator(asperathosOptions(0));
  const swiftAuthUrl = options.swiftUrl ? `${options.swiftUrl}/auth/v1.0` : swift.authUrl;

  const ffmpeg = (process.env.PATH ?? '')
    .split(':')
    .map((dir) => join(dir, 'ffmpeg'))
    .find((path) => path.startsWith('/') && existsSync(path));
  Object.assign(process.env, {
    // the intake converts DICOM (the PACS route) with it; in the cloud it comes from a Lambda layer
    ...(ffmpeg ? { FFMPEG_PATH: ffmpeg } : {}),
    BATCH_MAX_AGE_SECS: String(options.windowSecs ?? 10),
    BATCH_QUIET_SECS: String(options.quietSecs ?? 1),
    ASPERATHOS_URL: asperathos.submissionsUrl,
    SGX_MODE: mode,
    WORKLOAD_LINKS: 'tempurl',
    TEMPURL_KEY_FILE: secret('tempurl-key', LOCAL_TEMPURL_KEY),
    ENCLAVE_CONFIG_FILE: secret('enclave-config.json', JSON.stringify(LOCAL_ENCLAVE)),
    WORKER_CMD: 'node --import tsx local/worker-entry.ts',
    WORKER_ENV: JSON.stringify({ ST_AUTH: swiftAuthUrl, ST_USER: swift.user }),
    ITEM_LEASE_SECS: String(options.itemLeaseSecs ?? 15),
    WORKER_SECRET_ENV_FILE: secret('worker-secret-env.json', JSON.stringify({ ST_KEY: swift.key })),
    JOB_INIT_SIZE: String(options.workers ?? 2),
    ...(cas && tls
      ? {
          CAS_ADDRESS: cas.casAddress,
          CAS_CLIENT_CERT_FILE: tls.clients.batch.certPath,
          CAS_CLIENT_KEY_FILE: tls.clients.batch.keyPath,
          CAS_CA_FILE: tls.caPath,
        }
      : {}),
  });
  const hs256Path = join(local, 'secrets', 'status-hs256');
  if (!existsSync(hs256Path)) writeFileSync(hs256Path, randomBytes(32).toString('base64'), { mode: 0o600 });
  Object.assign(process.env, {
    AUTH_ISSUER: 'trustworthy-radiomics-local',
    AUTH_AUDIENCE: 'radiomics-status',
    AUTH_HS256_SECRET_FILE: hs256Path,
    PAGE_REFRESH_SECS: '2',
    SYNC_BACKOFF_BASE_SECS: '2',
    SYNC_BACKOFF_MAX_SECS: '10',
  });
  const { handler: batch } = await import('#functions/batch.js');
  const { handler: syncStatus } = await import('#functions/sync-status.js');
  const { handler: statusApiHandler } = await import('#functions/status-api.js');
  const statusApi = await startLocalHttpApi(statusApiHandler as never, { port: options.statusPort ?? 0 });
  const statusToken = async (tenant: string) =>
    new SignJWT({ tenant })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('trustworthy-radiomics-local')
      .setAudience('radiomics-status')
      .setSubject('local-operator')
      .setIssuedAt()
      .setExpirationTime('12h')
      .sign(new TextEncoder().encode(readFileSync(hs256Path, 'utf8').trim()));

  const batchRuns: BatchRunSummary[] = [];
  const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event' };
  // two independent schedules, as in the cloud: a slow sync-status run never delays a batch run, and a run that is
  // still going when its next tick comes is skipped (the cloud's batch has reserved concurrency 1)
  const everyTick = (name: string, run: () => Promise<void>, isPaused: () => boolean = () => false) => {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (isPaused()) return;
      running ??= run()
        .catch((error: unknown) => log(`[stack] ${name} run failed: ${(error as Error).message}`))
        .finally(() => (running = undefined));
    }, options.tickMs ?? 1000);
    return {
      stop: async () => {
        clearInterval(timer);
        await running;
      },
    };
  };
  const batchSchedule = everyTick('batch', async () => {
    const result = await invokeAsync('batch', batch, scheduled, { maximumRetryAttempts: 0 });
    if (!result.ok) throw result.error;
    batchRuns.push(result.result);
  });
  let syncPaused = false;
  const syncSchedule = everyTick(
    'sync-status',
    async () => {
      const synced = await invokeAsync('sync-status', syncStatus, scheduled, { maximumRetryAttempts: 0 });
      if (!synced.ok) throw synced.error;
    },
    () => syncPaused,
  );
  log(
    `[stack] ${mode} mode; Asperathos ${asperathos.submissionsUrl}${cas ? `, CAS ${cas.casAddress}` : ''}; status page ${statusApi.url}/`,
  );

  return {
    ...intake,
    mode,
    get asperathos() {
      return asperathos;
    },
    async restartAsperathos() {
      const port = asperathos.port;
      await asperathos.close();
      asperathos = await startAsperathosEmulator(asperathosOptions(port));
    },
    pauseSync(paused: boolean) {
      syncPaused = paused;
    },
    cas,
    casClientTls: tls ? { ca: String(tls.ca), cert: String(tls.clients.batch.cert), key: String(tls.clients.batch.key) } : undefined,
    submittedJobs,
    statusApi,
    statusToken,
    batchRuns,
    async stop() {
      await Promise.all([batchSchedule.stop(), syncSchedule.stop()]);
      await statusApi.close();
      await asperathos.close();
      await cas?.close();
      await intake.close();
    },
  };
}
