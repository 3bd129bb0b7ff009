/**
 * A rig for job-status tests: dynalite, the Asperathos emulator running the fake worker, a workload server
 * (optionally holding its answers, to keep a job in `created`), and helpers that submit a real emulator job
 * and record its batch row exactly as lib/batch/close.ts leaves it (state submitted, in the active index).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamo, type LocalDynamo } from '#local/dynamodb-local.js';
import { startAsperathosEmulator, type AsperathosEmulator, type AsperathosEmulatorOptions } from '#local/asperathos/index.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { DEFAULT_SYNC_SETTINGS, syncActiveJobs, type SyncSummary } from '#lib/status/sync.js';
import { createLogger } from '#lib/log.js';
import { activeJobKeys, keys, tenantBatchKeys, videoIndexKeys } from '#lib/store/keys.js';
import type { BatchRecord } from '#lib/store/records.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { loadServices, REPO_ROOT } from '#local/service-endpoints.js';

export interface StatusRig {
  dynamo: LocalDynamo;
  /** The current emulator (a restart replaces it on the same port and state dir). */
  asperathos: AsperathosEmulator;
  client: AsperathosClient;
  store: DynamoJobStatusStore;
  /** The local Swift, where workers started with `results: true` write `<id>.json` / `<id>.error.json`. */
  swift: SwiftClient;
  /** Restarts the emulator, as a manager restart: it keeps its jobs but has no Redis client for them. */
  restartAsperathos(): Promise<void>;
  /** While true, workload downloads wait (the job stays `created`). */
  holdWorkloads(hold: boolean): void;
  /** `results`: the fake worker writes results to Swift, as the real worker does. */
  submit(options: {
    tenant?: string;
    items?: number;
    videoIds?: string[];
    env?: Record<string, string>;
    pluginInfo?: Record<string, unknown>;
    createdAt?: string;
    results?: boolean;
  }): Promise<SubmittedJob>;
  putVideo(videoId: string, batchId: string | undefined, tenant: string, stage?: string, reason?: string): Promise<void>;
  /** One sync-status run over the active jobs, as the schedule makes it. */
  sync(): Promise<SyncSummary>;
  close(): Promise<void>;
}

export interface SubmittedJob {
  batchId: string;
  jobId: string;
  videoIds: string[];
}

export const hex32 = () => randomBytes(16).toString('hex');

export async function startStatusRig(): Promise<StatusRig> {
  const dynamo = await startLocalDynamo({ tableName: 'radiomics' });
  const services = loadServices();
  const stateDir = await mkdtemp(join(tmpdir(), 'status-rig-'));
  const emulatorOptions = (port: number): AsperathosEmulatorOptions => ({
    port,
    redis: services.redis,
    pollMs: 100,
    stateDir,
    // Few replacements of a failed worker: each is a tsx start, slow on a loaded machine.
    backoffLimit: 1,
    restartDelayMs: 100,
    workerCommand: () => ({ cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'fake-worker.ts')] }),
  });
  let asperathos = await startAsperathosEmulator(emulatorOptions(0));
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  const resultsEnv = {
    FAKE_WORKER_SWIFT_AUTH: services.swift.authUrl,
    FAKE_WORKER_SWIFT_USER: services.swift.user,
    FAKE_WORKER_SWIFT_KEY: services.swift.key,
  };
  const workloads = new Map<string, string>();
  let held: Array<() => void> = [];
  let hold = false;
  const server: Server = createServer((req, res) => {
    const send = () => {
      const body = workloads.get(req.url ?? '');
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain' });
      res.end(body ?? '');
    };
    if (hold) held.push(send);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const workloadBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new AsperathosClient({ submissionsUrl: asperathos.submissionsUrl, timeoutMs: 2000 });
  const store = new DynamoJobStatusStore(dynamo.doc, 'radiomics');

  const rig: StatusRig = {
    dynamo,
    get asperathos() {
      return asperathos;
    },
    client,
    store,
    swift,
    async restartAsperathos() {
      const port = asperathos.port;
      await asperathos.close();
      asperathos = await startAsperathosEmulator(emulatorOptions(port));
    },
    holdWorkloads(next) {
      hold = next;
      if (!next) {
        const waiting = held;
        held = [];
        for (const send of waiting) send();
      }
    },
    async submit({
      tenant = 'hospital-a',
      items = 3,
      videoIds: givenIds,
      env = {},
      pluginInfo = {},
      createdAt = new Date().toISOString(),
      results = false,
    }) {
      const batchId = hex32();
      const videoIds = givenIds ?? Array.from({ length: items }, hex32);
      items = videoIds.length;
      workloads.set(
        `/${batchId}/workload.txt`,
        videoIds.map((id) => `http://swift.invalid/v1/AUTH_test/${batchId}/${id}.mp4?temp_url_sig=x\n`).join(''),
      );
      const { jobId } = await client.submit({
        plugin: 'kubejobs',
        enable_auth: false,
        plugin_info: {
          username: 'admin',
          password: 'grafana',
          cmd: ['node', 'worker.mjs'],
          img: 'worker:1',
          init_size: 1,
          redis_workload: `${workloadBase}/${batchId}/workload.txt`,
          control_plugin: 'kubejobs',
          control_parameters: { min_rep: 1, max_rep: 1 },
          monitor_plugin: 'kubejobs',
          monitor_info: { expected_time: 200 },
          enable_visualizer: false,
          visualizer_plugin: 'k8s-grafana',
          visualizer_info: {},
          env_vars: { JOB_NAME: batchId, ...(results ? resultsEnv : {}), ...env },
          ...pluginInfo,
        },
      } as never);
      const submittedAt = new Date().toISOString();
      const batch: BatchRecord = {
        batchId,
        tenant,
        state: 'submitted',
        container: `c-${batchId}`,
        wrappedKey: 'wrapped-key-material',
        createdAt,
        claims: items,
        claimedBytes: 1000 * items,
        sealedItems: items,
        sealedBytes: 1000 * items,
        inflight: {},
        items,
        workloadUrl: `${workloadBase}/${batchId}/workload.txt?temp_url_sig=secret`,
        jobId,
        submittedAt,
      };
      await dynamo.doc.send(
        new PutCommand({
          TableName: 'radiomics',
          Item: {
            ...keys.batch(batchId),
            ...batch,
            ...activeJobKeys(submittedAt, batchId),
            ...tenantBatchKeys(batch),
          },
        }),
      );
      for (const id of videoIds) await rig.putVideo(id, batchId, tenant, 'sealed');
      return { batchId, jobId, videoIds };
    },
    async putVideo(videoId, batchId, tenant, stage = 'sealed', reason) {
      const now = new Date().toISOString();
      await dynamo.doc.send(
        new PutCommand({
          TableName: 'radiomics',
          Item: {
            ...keys.video(videoId),
            videoId,
            tenant,
            stage,
            batchId,
            reason,
            kind: 'mp4',
            container: batchId ? `c-${batchId}` : undefined,
            objectName: `${videoId}.mp4`,
            receivedAt: now,
            sealedAt: stage === 'sealed' ? now : undefined,
            updatedAt: now,
            ...videoIndexKeys({ videoId, tenant, receivedAt: now, batchId }),
          },
        }),
      );
    },
    sync() {
      return syncActiveJobs({
        store: rig.store,
        jobs: rig.client,
        swift: rig.swift,
        settings: DEFAULT_SYNC_SETTINGS,
        log: createLogger({}, { level: 'error' }),
      });
    },
    async close() {
      hold = false;
      for (const send of held) send();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await asperathos.close();
      await dynamo.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Polls `probe` until it gives a value; the ceiling is generous, for a loaded CI machine, and never a pass condition. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
