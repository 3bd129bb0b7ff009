/**
 * The batch closer against real Swift, real Redis, dynalite, the Palaemon CAS emulator (mTLS) and the
 * Asperathos emulator (running the emulator-test fake worker, so these tests stay about orchestration).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { closeDueBatches, type BatchDeps, type BatchSettings } from '#lib/batch/close.js';
import { WORKLOAD_OBJECT } from '#lib/contract.js';
import { DynamoBatchStore, type BatchStore } from '#lib/store/batch-store.js';
import { AsperathosClient, type JobManager } from '#lib/asperathos/index.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { generateTlsFixtures, type TlsFixtures } from '#local/tls-fixtures.js';
import { startPalaemonEmulator, type PalaemonEmulator } from '#local/palaemon-emulator.js';
import { startAsperathosEmulator, type AsperathosEmulator } from '#local/asperathos/index.js';
import { createLogger } from '#lib/log.js';
import { startIntakeHarness, type IntakeHarness } from '#local/intake-harness.js';
import { startFaultyProxy, type FaultyProxy } from '#test/support/faulty-proxy.js';
import { loadServices, REPO_ROOT } from '#local/service-endpoints.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';

const VIDEOS = new URL('../../../shared/samples/videos/', import.meta.url);
const CLIPS = ['VH020213M4_001418_20160407T115216.MP4', 'VH020213M4_001559_20160429T120845.MP4', 'VH020213M4_001418_20160407T114936.MP4'];
const ENCLAVE = {
  mrenclave: 'a'.repeat(64),
  imageName: 'registry.example.org/radiomics-worker:1',
  fspfTag: 'b'.repeat(32),
  fspfKey: 'c'.repeat(64),
  fspfPath: '/fspf.pb',
};
const REQUIRED_PLUGIN_INFO = [
  'cmd',
  'img',
  'init_size',
  'redis_workload',
  'env_vars',
  'control_plugin',
  'control_parameters',
  'monitor_plugin',
  'monitor_info',
  'enable_visualizer',
  'visualizer_plugin',
  'visualizer_info',
  'username',
  'password',
];

let dir: string;
let tls: TlsFixtures;
let cas: PalaemonEmulator;
let asperathos: AsperathosEmulator;
let asperathosProxy: FaultyProxy;
const submittedJobs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'batch-'));
  tls = await generateTlsFixtures(join(dir, 'tls'), { clients: ['batch'] });
  cas = await startPalaemonEmulator({ tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key } });
  asperathos = await startAsperathosEmulator({
    redis: loadServices().redis,
    pollMs: 100,
    workerCommand: (job) => {
      if (job.workerIndex === 0) submittedJobs.push(job.pluginInfo);
      return { cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'fake-worker.ts')] };
    },
  });
  asperathosProxy = await startFaultyProxy(asperathos.url);
}, 60_000);

afterAll(async () => {
  await asperathosProxy.close();
  await asperathos.close();
  await cas.close();
  rmSync(dir, { recursive: true, force: true });
});

function settings(mode: 'SIM' | 'HW', overrides: Partial<BatchSettings> = {}): BatchSettings {
  return {
    maxItems: 50,
    maxBytes: 1 << 30,
    maxAgeSecs: 600,
    quietSecs: 0,
    staleSealSecs: 1200,
    staleSubmitSecs: 300,
    links: { kind: 'tempurl', key: LOCAL_TEMPURL_KEY, ttlSecs: 3600 },
    submission: {
      mode,
      casAddress: cas.casAddress,
      sessionFormat: '0.3',
      enclave: ENCLAVE,
      workerCmd: ['node', '/app/enclave/worker.mjs'],
      initSize: 1,
      expectedTimeSecs: 200,
      itemLeaseSecs: 15,
      verbosity: 3,
      workerEnv: { ST_AUTH: 'http://swift.example/auth/v1.0', ST_USER: 'test:tester' },
      workerSecretEnv: { ST_KEY: 'worker-swift-key' },
    },
    ...overrides,
  };
}

interface Fixture {
  h: IntakeHarness;
  deps: BatchDeps;
  tenant: string;
  batchId: string;
}

let tenants = 0;
async function sealedBatch(
  mode: 'SIM' | 'HW',
  overrides: Partial<BatchDeps> = {},
  settingsOverrides: Partial<BatchSettings> = {},
  clips = CLIPS,
): Promise<Fixture> {
  const h = await startIntakeHarness();
  const tenant = `hospital${++tenants}`;
  let batchId = '';
  for (const name of clips) {
    const body = readFileSync(new URL(name, VIDEOS));
    const key = `${tenant}/${name}`;
    const summary = await ingestS3Event(h.event(key, body.length, await h.put(key, body)), h.deps);
    expect(summary.sealed).toBe(1);
    batchId = (await h.store.getVideo((summary.outcomes[0] as { videoId: string }).videoId))!.batchId!;
  }
  await h.swift.setAccountTempUrlKey(LOCAL_TEMPURL_KEY, { slot: 2 });
  const deps: BatchDeps = {
    batches: new DynamoBatchStore(h.dynamo.doc, 'radiomics'),
    intake: h.store,
    swift: h.swift,
    keys: h.deps.keys,
    jobs: new AsperathosClient({ submissionsUrl: `${asperathos.url}/submissions` }),
    sessions: new PalaemonClient({
      casAddress: cas.casAddress,
      tls: { ca: tls.ca, cert: tls.clients.batch.cert, key: tls.clients.batch.key },
    }),
    settings: settings(mode, settingsOverrides),
    log: createLogger({}, { level: 'error' }),
    ...overrides,
  };
  return { h, deps, tenant, batchId };
}

async function jobsForWorkload(workloadUrl: string): Promise<Array<Record<string, unknown>>> {
  return submittedJobs.filter((job) => job.redis_workload === workloadUrl);
}

async function waitForJob(jobs: JobManager, jobId: string, status: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if ((await jobs.get(jobId)).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`job ${jobId} did not reach ${status}`);
}

describe('batch: SIM mode', () => {
  it('closes the batch, writes workload.txt with one TempURL per video and a trailing newline, and submits one job', async () => {
    const { h, deps, batchId } = await sealedBatch('SIM');
    try {
      const run = await closeDueBatches(deps, { batchId });
      expect(run.steps[batchId]).toBe('submitted');
      const batch = await h.store.getBatch(batchId);
      expect(batch).toMatchObject({ state: 'submitted', items: 3, jobId: run.submitted[0].jobId });
      expect(batch!.jobId).toMatch(/^kj-[0-9a-f]{7}$/);

      const workload = (await h.swift.getObjectBytes(batch!.container, WORKLOAD_OBJECT)).toString();
      expect(workload.endsWith('\n')).toBe(true);
      const lines = workload.split('\n').slice(0, -1);
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line).toMatch(/\/[0-9a-f]{32}\.mp4\?temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/);
        const anonymous = await fetch(line);
        expect(anonymous.status).toBe(200);
        expect(Number(anonymous.headers.get('content-length'))).toBeGreaterThan(28);
        await anonymous.body?.cancel();
      }
      expect((await fetch(batch!.workloadUrl!)).status).toBe(200);

      await waitForJob(deps.jobs, batch!.jobId!, 'completed');
      const [job] = await jobsForWorkload(batch!.workloadUrl!);
      for (const key of REQUIRED_PLUGIN_INFO) expect(job).toHaveProperty(key);
      const env = job.env_vars as Record<string, string>;
      const batchKey = await h.batchKey(batchId, batch!.tenant);
      expect(env).toMatchObject({
        SCONE_MODE: 'SIM',
        ENCRYPTION_KEY: batchKey.toString('base64'),
        JOB_NAME: batchId,
        ITEM_LEASE_SECS: '15',
        ST_KEY: 'worker-swift-key',
      });
      expect(job.img).toBe(ENCLAVE.imageName);
      expect(job.cmd).toEqual(['node', '/app/enclave/worker.mjs']);
      expect((job.monitor_info as { expected_time: number }).expected_time).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('a young batch with room stays open; a full one closes on the schedule', async () => {
    const { h, deps, batchId } = await sealedBatch('SIM', {}, { maxItems: 3 }, CLIPS);
    try {
      const young = await sealedBatch('SIM', {}, {}, CLIPS.slice(0, 1));
      try {
        expect((await closeDueBatches(young.deps)).steps[young.batchId]).toBe('open');
        expect((await young.h.store.getBatch(young.batchId))?.state).toBe('open');
      } finally {
        await young.h.close();
      }
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('submitted');
    } finally {
      await h.close();
    }
  });

  it('an old batch closes on the schedule', async () => {
    const later = () => new Date(Date.now() + 601_000);
    const { h, deps, batchId } = await sealedBatch('SIM', { now: later }, {}, CLIPS.slice(0, 1));
    try {
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('submitted');
    } finally {
      await h.close();
    }
  });

  it('a quiet batch closes before its window: once no video joined for quietSecs and none is still being sealed', async () => {
    let clock = Date.now();
    const { h, deps, batchId } = await sealedBatch('SIM', { now: () => new Date(clock) }, { quietSecs: 30 }, CLIPS.slice(0, 1));
    const late = 'f'.repeat(32);
    try {
      const joinedAt = (await h.store.getBatch(batchId))!.lastActivityMs!;
      expect(Math.abs(joinedAt - Date.now())).toBeLessThan(60_000);
      clock = joinedAt + 29_999;
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('open');
      expect(await h.store.registerSeal(batchId, late, 10, { maxItems: 50, maxBytes: 1 << 30 }, joinedAt + 20_000)).toBe('registered');
      expect((await h.store.getBatch(batchId))!.lastActivityMs).toBe(joinedAt + 20_000);
      clock = joinedAt + 49_999;
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('open');
      clock = joinedAt + 60_000;
      // a seal still in flight keeps the batch open however long it has been quiet; the recorded one is counted
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('open');
      const waiting = (await h.store.getBatch(batchId))!;
      expect(waiting).toEqual(expect.objectContaining({ state: 'open', claims: 2, sealedItems: 1 }));
      expect(Object.keys(waiting.inflight)).toEqual([late]);
      expect(await h.store.releaseSeal(batchId, late, 10, waiting.inflight[late])).toBe(true);
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('submitted');
      expect(await h.store.getBatch(batchId)).toEqual(
        expect.objectContaining({ state: 'submitted', items: 1, claims: 1, sealedItems: 1, inflight: {} }),
      );
    } finally {
      await h.close();
    }
  });

  it('waits for an in-flight seal, and drops it once it is abandoned', async () => {
    const { h, deps, batchId } = await sealedBatch('SIM', {}, {}, CLIPS.slice(0, 1));
    try {
      expect(await h.store.registerSeal(batchId, 'f'.repeat(32), 10, { maxItems: 50, maxBytes: 1 << 30 }, Date.now())).toBe('registered');
      expect((await closeDueBatches(deps, { batchId })).steps[batchId]).toBe('waiting_for_seals');
      expect((await h.store.getBatch(batchId))?.state).toBe('closing');
      // a closing batch takes no new seal
      expect(await h.store.registerSeal(batchId, 'e'.repeat(32), 10, { maxItems: 50, maxBytes: 1 << 30 }, Date.now())).toBe('not_open');
      const abandoned = { ...deps, settings: { ...deps.settings, staleSealSecs: 0 } };
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await closeDueBatches(abandoned, { batchId })).steps[batchId]).toBe('submitted');
      expect(await h.store.getBatch(batchId)).toMatchObject({ items: 1, inflight: {} });
    } finally {
      await h.close();
    }
  });

  it('two concurrent runs submit one job', async () => {
    const { h, deps, batchId } = await sealedBatch('SIM');
    try {
      const runs = await Promise.all([closeDueBatches(deps, { batchId }), closeDueBatches(deps, { batchId }), closeDueBatches(deps)]);
      const jobIds = runs.flatMap((run) => run.submitted.map((s) => s.jobId));
      expect(new Set(jobIds).size).toBe(1);
      const batch = await h.store.getBatch(batchId);
      expect(batch?.jobId).toBe(jobIds[0]);
      await waitForJob(deps.jobs, batch!.jobId!, 'completed');
      expect(await jobsForWorkload(batch!.workloadUrl!)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('Asperathos answering 500 then 202: the next run submits, once', async () => {
    const { h, deps, batchId } = await sealedBatch(
      'SIM',
      { jobs: new AsperathosClient({ submissionsUrl: `${asperathosProxy.url}/submissions` }) },
      { maxAgeSecs: 0 },
    );
    try {
      asperathosProxy.failNext(1, { status: 500, match: (r) => r.method === 'POST' });
      const first = await closeDueBatches(deps);
      expect(first.steps[batchId]).toBe('retry_later');
      const after = await h.store.getBatch(batchId);
      expect(after).toMatchObject({ state: 'submitting' });
      expect(after?.jobId).toBeUndefined();
      expect(after?.submitStartedAt).toBeUndefined();
      const second = await closeDueBatches(deps);
      expect(second.steps[batchId]).toBe('submitted');
      const batch = await h.store.getBatch(batchId);
      await waitForJob(deps.jobs, batch!.jobId!, 'completed');
      expect(await jobsForWorkload(batch!.workloadUrl!)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

describe('batch: HW mode', () => {
  it('the key goes only into the Palaemon session; the job carries SCONE settings and no key', async () => {
    const { h, deps, batchId } = await sealedBatch('HW');
    try {
      const run = await closeDueBatches(deps, { batchId });
      expect(run.steps[batchId]).toBe('submitted');
      const batch = await h.store.getBatch(batchId);
      expect(batch?.sessionHash).toMatch(/^[0-9a-f]{64}$/);
      const session = parseYaml(await deps.sessions!.read(batchId)) as {
        version: string;
        secrets: Array<{ name: string; kind: string; value: string }>;
        services: Array<{ environment: Record<string, string>; attestation?: { mrenclave: string[] } }>;
      };
      const key = (await h.batchKey(batchId, batch!.tenant)).toString('base64');
      expect(session.version).toBe('0.3');
      expect(session.secrets).toContainEqual({ name: 'ENCRYPTION_KEY', kind: 'ascii', value: key });
      expect(session.services[0].environment).toMatchObject({
        ENCRYPTION_KEY: '$$SCONE::ENCRYPTION_KEY$$',
        JOB_NAME: batchId,
        ITEM_LEASE_SECS: '15',
      });

      await waitForJob(deps.jobs, batch!.jobId!, 'completed');
      const [job] = await jobsForWorkload(batch!.workloadUrl!);
      for (const k of REQUIRED_PLUGIN_INFO) expect(job).toHaveProperty(k);
      const env = job.env_vars as Record<string, string>;
      expect(env).toEqual({
        SCONE_CONFIG_ID: `${batchId}/radiomics`,
        SCONE_CAS_ADDR: `127.0.0.1:${cas.casAddress.split(':')[2]}`,
        SCONE_LAS_ADDR: '172.17.0.1:18766',
        SCONE_ALPINE: '1',
        SCONE_VERSION: '1',
        SCONE_MODE: 'HW',
        SCONE_LOG: '3',
        SCONE_HEAP: '3G',
        SCONE_STACK: '5M',
        SCONE_ALLOW_DLOPEN: '1',
      });
      expect(JSON.stringify(job)).not.toContain(key);
    } finally {
      await h.close();
    }
  });

  it('CAS down, then up: the next run provisions the session and submits', async () => {
    const down = new PalaemonClient({
      baseUrl: 'https://127.0.0.1:1',
      timeoutMs: 500,
      tls: { ca: tls.ca, cert: tls.clients.batch.cert, key: tls.clients.batch.key },
    });
    const { h, deps, batchId } = await sealedBatch('HW', { sessions: down }, { maxAgeSecs: 0 });
    try {
      expect((await closeDueBatches(deps)).steps[batchId]).toBe('retry_later');
      const stuck = await h.store.getBatch(batchId);
      expect(stuck).toMatchObject({ state: 'submitting' });
      expect(stuck?.sessionHash).toBeUndefined();
      expect(await jobsForWorkload(stuck!.workloadUrl!)).toHaveLength(0);
      const up = {
        ...deps,
        sessions: new PalaemonClient({
          casAddress: cas.casAddress,
          tls: { ca: tls.ca, cert: tls.clients.batch.cert, key: tls.clients.batch.key },
        }),
      };
      expect((await closeDueBatches(up)).steps[batchId]).toBe('submitted');
    } finally {
      await h.close();
    }
  });

  it('a crash after the session and before submission resumes without a second session or job', async () => {
    const { h, deps, batchId } = await sealedBatch('HW', {}, { maxAgeSecs: 0 });
    const crashing: BatchStore = Object.create(deps.batches);
    crashing.update = async (id, state, fields, extra) => {
      if ('submitStartedAt' in fields) throw new Error('simulated crash');
      return deps.batches.update(id, state, fields, extra);
    };
    try {
      expect((await closeDueBatches({ ...deps, batches: crashing }, {})).steps[batchId]).toBe('retry_later');
      const mid = await h.store.getBatch(batchId);
      expect(mid?.sessionHash).toMatch(/^[0-9a-f]{64}$/);
      expect(mid?.jobId).toBeUndefined();
      const creates: string[] = [];
      const sessions = deps.sessions!;
      const counting = {
        ...deps,
        sessions: {
          ...sessions,
          check: sessions.check.bind(sessions),
          read: sessions.read.bind(sessions),
          readWithHash: sessions.readWithHash.bind(sessions),
          update: sessions.update.bind(sessions),
          create: async (yaml: string) => {
            creates.push(yaml);
            return sessions.create(yaml);
          },
        },
      };
      expect((await closeDueBatches(counting)).steps[batchId]).toBe('submitted');
      expect(creates).toHaveLength(0);
      const batch = await h.store.getBatch(batchId);
      expect(batch?.sessionHash).toBe(mid?.sessionHash);
      await waitForJob(deps.jobs, batch!.jobId!, 'completed');
      expect(await jobsForWorkload(batch!.workloadUrl!)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
