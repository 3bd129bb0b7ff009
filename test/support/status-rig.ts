/**
 * A rig for job-status tests: dynalite, the Asperathos emulator running the fake worker, a workload server
 * (optionally holding its answers, to keep a job in `created`), and helpers that submit a real emulator job
 * and record its batch row exactly as lib/batch/close.ts leaves it (state submitted, in the active index).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamo, type LocalDynamo } from '../../local/dynamodb-local.js';
import { startAsperathosEmulator, type AsperathosEmulator } from '../../local/asperathos-emulator.js';
import { AsperathosClient } from '../../lib/asperathos/index.js';
import { DynamoJobStatusStore } from '../../lib/status/store.js';
import { keys } from '../../lib/store/table.js';
import { ACTIVE_JOBS } from '../../lib/store/batch-store.js';
import type { BatchRecord } from '../../lib/store/records.js';
import { loadServices, REPO_ROOT } from './services.js';

export interface StatusRig {
  dynamo: LocalDynamo;
  asperathos: AsperathosEmulator;
  client: AsperathosClient;
  store: DynamoJobStatusStore;
  /** While true, workload downloads wait (the job stays `created`). */
  holdWorkloads(hold: boolean): void;
  submit(options: { tenant?: string; items?: number; videoIds?: string[]; env?: Record<string, string>; pluginInfo?: Record<string, unknown>; createdAt?: string }): Promise<SubmittedJob>;
  putVideo(videoId: string, batchId: string | undefined, tenant: string, stage?: string, reason?: string): Promise<void>;
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
  const asperathos = await startAsperathosEmulator({
    redis: loadServices().redis,
    pollMs: 100,
    workerCommand: () => ({ cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', 'fake-worker.ts')] }),
  });
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
    asperathos,
    client,
    store,
    holdWorkloads(next) {
      hold = next;
      if (!next) {
        const waiting = held;
        held = [];
        waiting.forEach((send) => send());
      }
    },
    async submit({ tenant = 'hospital-a', items = 3, videoIds: givenIds, env = {}, pluginInfo = {}, createdAt = new Date().toISOString() }) {
      const batchId = hex32();
      const videoIds = givenIds ?? Array.from({ length: items }, hex32);
      items = videoIds.length;
      workloads.set(`/${batchId}/workload.txt`, videoIds.map((id) => `http://swift.invalid/v1/AUTH_test/${batchId}/${id}.mp4?temp_url_sig=x\n`).join(''));
      const { jobId } = await client.submit({
        plugin: 'kubejobs',
        enable_auth: false,
        plugin_info: {
          username: 'admin', password: 'grafana', cmd: ['node', 'worker.mjs'], img: 'worker:1', init_size: 1,
          redis_workload: `${workloadBase}/${batchId}/workload.txt`,
          control_plugin: 'kubejobs', control_parameters: { min_rep: 1, max_rep: 1 },
          monitor_plugin: 'kubejobs', monitor_info: { expected_time: 200 },
          enable_visualizer: false, visualizer_plugin: 'k8s-grafana', visualizer_info: {},
          env_vars: { JOB_NAME: batchId, ...env },
          ...pluginInfo,
        },
      } as never);
      const submittedAt = new Date().toISOString();
      const batch: BatchRecord = {
        batchId, tenant, state: 'submitted', container: `c-${batchId}`, wrappedKey: 'wrapped-key-material', createdAt,
        claims: items, claimedBytes: 1000 * items, sealedItems: items, sealedBytes: 1000 * items, inflight: {},
        items, workloadUrl: `${workloadBase}/${batchId}/workload.txt?temp_url_sig=secret`, jobId, submittedAt,
      };
      await dynamo.doc.send(new PutCommand({
        TableName: 'radiomics',
        Item: {
          ...keys.batch(batchId), ...batch,
          gsi2pk: ACTIVE_JOBS, gsi2sk: `${submittedAt}#${batchId}`,
          gsi3pk: `TENANT#${tenant}#BATCHES`, gsi3sk: `${createdAt}#${batchId}`,
        },
      }));
      for (const id of videoIds) await rig.putVideo(id, batchId, tenant, 'sealed');
      return { batchId, jobId, videoIds };
    },
    async putVideo(videoId, batchId, tenant, stage = 'sealed', reason) {
      const now = new Date().toISOString();
      await dynamo.doc.send(new PutCommand({
        TableName: 'radiomics',
        Item: {
          ...keys.video(videoId), videoId, tenant, stage, batchId, reason, kind: 'mp4', container: batchId ? `c-${batchId}` : undefined,
          objectName: `${videoId}.mp4`, receivedAt: now, sealedAt: stage === 'sealed' ? now : undefined, updatedAt: now,
          ...(batchId ? { gsi1pk: `BATCH#${batchId}`, gsi1sk: `VIDEO#${videoId}` } : {}),
          gsi3pk: `TENANT#${tenant}#VIDEOS`, gsi3sk: `${now}#${videoId}`,
        },
      }));
    },
    async close() {
      hold = false;
      held.forEach((send) => send());
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await asperathos.close();
      await dynamo.close();
    },
  };
  return rig;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
