/**
 * The real start-up path, checked locally (no Docker, no SGX): the image's file system is laid out from the
 * Dockerfile into a temporary root (local/image-root.ts: the esbuild bundle in <root>/app, the entry point, /env,
 * /spool; image paths rooted by one documented prefix rule), and the job's `cmd` is started the way kubejobs starts
 * a pod: `command` overrides ENTRYPOINT, cwd is WORKDIR, and the environment is the image's ENV, the job's env_vars
 * and REDIS_HOST. `node` on the image's PATH is the emulated SCONE runtime: in HW mode it attests to the Palaemon
 * emulator and the program gets the session's environment only.
 *
 * Local differences, all pod-provided names the entry point copies to /env: REDIS_PORT (the local redis is not on
 * 6379) and REDIS_QUEUE (a fresh prefix, so parallel suites never share keys). Job and session are the product's
 * (lib/batch/job-spec.ts with the default settings of lib/enclave-image/layout.ts), against the real redis and Swift.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { buildBatchJob, buildBatchSession, type SubmissionSettings } from '#lib/batch/job-spec.js';
import { JOB_WORKER_CMD } from '#lib/enclave-image/layout.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { sealBuffer } from '#lib/seal/cipher.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { layOutImage, rooted } from '#local/image-root.js';
import { startPalaemonEmulator, type PalaemonEmulator } from '#local/palaemon-emulator.js';
import { generateTlsFixtures, type TlsFixtures } from '#local/tls-fixtures.js';
import { readZip } from '#test/fixtures/enclave/zip-reader.js';
import { loadServices, REPO_ROOT, SHARED_DIR, type LocalServices } from '#local/service-endpoints.js';
import { removeContainers } from '#local/swift-cleanup.js';

const run = promisify(execFile);
const CLIP = join(SHARED_DIR, 'samples', 'videos', 'VH020213M4_001390_20160406T111534.MP4'); // 10 frames
const NODE_MRENCLAVE = 'e'.repeat(64);
const FFMPEG_MRENCLAVE = 'f'.repeat(64);

let services: LocalServices;
let swift: SwiftClient;
let redis: Redis;
let dir: string;
let tls: TlsFixtures;
let cas: PalaemonEmulator;
let reference: { analysis: Record<string, unknown>; pngs: Buffer[] };
const tempUrlKey = randomBytes(16).toString('hex');
const sourceContainer = `su-src-${randomBytes(6).toString('hex')}`;
const containers = [sourceContainer];
const queues: string[] = [];

beforeAll(async () => {
  services = loadServices();
  swift = new SwiftClient({ auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }) });
  redis = new Redis({ host: services.redis.host, port: services.redis.port, db: 0, maxRetriesPerRequest: 2 });
  dir = mkdtempSync(join(tmpdir(), 'enclave-startup-'));
  tls = await generateTlsFixtures(join(dir, 'tls'), { clients: ['batch'] });
  cas = await startPalaemonEmulator({ tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key }, attestationPort: 0 });
  await swift.createContainer(sourceContainer);
  await swift.setContainerTempUrlKey(sourceContainer, tempUrlKey);
  const out = join(dir, 'reference');
  const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'bin', 'radiomics.js'), 'analyze', CLIP, '--json', '--anonymise', out], {
    cwd: REPO_ROOT,
  });
  reference = {
    analysis: JSON.parse(stdout) as Record<string, unknown>,
    pngs: readdirSync(out).map((_, i) => readFileSync(join(out, `${i}.png`))),
  };
}, 120_000);

afterAll(async () => {
  await removeContainers(swift, containers);
  for (const queue of queues) {
    const keys = await redis.keys(`${queue}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  await cas?.close();
  rmSync(dir, { recursive: true, force: true });
});

function settingsFor(mode: 'HW' | 'SIM'): SubmissionSettings {
  return {
    mode,
    casAddress: cas.casAddress,
    sessionFormat: '0.3',
    enclave: {
      mrenclave: [NODE_MRENCLAVE, FFMPEG_MRENCLAVE],
      imageName: 'registry.local/radiomics-worker:1',
      fspfTag: 'b'.repeat(32),
      fspfKey: 'c'.repeat(64),
      fspfPath: '/fspf.pb',
    },
    workerCmd: [...JOB_WORKER_CMD],
    initSize: 1,
    expectedTimeSecs: 200,
    itemLeaseSecs: 15,
    verbosity: 3,
    workerEnv: { ST_AUTH: services.swift.authUrl, ST_USER: services.swift.user },
    workerSecretEnv: { ST_KEY: services.swift.key },
  };
}

interface PodRun {
  batchId: string;
  code: number | null;
  output: string;
  root: string;
  envVarNames: string[];
  itemId: string;
  resultsContainer: string;
}

/** Seals the clip, provisions the session (HW), queues the item, and starts the job's cmd as kubejobs would. */
async function startPod(mode: 'HW' | 'SIM', cmd?: string[]): Promise<PodRun> {
  const tag = randomBytes(5).toString('hex');
  const batchId = `su-${mode.toLowerCase()}-${tag}`;
  const queue = `su-q-${tag}`;
  queues.push(queue);
  containers.push(`${batchId}-results`);
  const key = randomBytes(16);
  const itemId = randomBytes(16).toString('hex');
  await swift.putObject(sourceContainer, `${itemId}.mp4`, sealBuffer(key, readFileSync(CLIP)));
  const url = await swift.tempUrl({
    method: 'GET',
    container: sourceContainer,
    object: `${itemId}.mp4`,
    expiresAtSec: Math.floor(Date.now() / 1000) + 3600,
    key: tempUrlKey,
  });
  await redis.rpush(queue, url);

  const settings = settingsFor(mode);
  if (mode === 'HW') {
    const client = new PalaemonClient({
      casAddress: cas.casAddress,
      tls: { ca: tls.ca, cert: tls.clients.batch.cert, key: tls.clients.batch.key },
    });
    await client.create(buildBatchSession(batchId, key, settings));
  }
  const job = buildBatchJob(batchId, 'https://swift.invalid/workload.txt', key, settings).plugin_info;
  const root = join(dir, `root-${tag}`);
  const layout = await layOutImage(root, {
    nodeRuntimeArgs: ['--ca-file', tls.caPath, '--mrenclave', NODE_MRENCLAVE],
    ffmpegRuntimeArgs: ['--ca-file', tls.caPath, '--mrenclave', FFMPEG_MRENCLAVE],
  });
  const env: Record<string, string> = {
    ...layout.env,
    PATH: layout.path,
    ...(job.env_vars as Record<string, string>),
    REDIS_HOST: services.redis.host,
    REDIS_PORT: String(services.redis.port),
    REDIS_QUEUE: queue,
  };
  const [command, ...args] = (cmd ?? (job.cmd as string[])).map((part) => rooted(root, part));
  const child = spawn(command, args, { cwd: layout.workdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return {
    batchId,
    code,
    output,
    root,
    envVarNames: Object.keys(job.env_vars as object).sort(),
    itemId,
    resultsContainer: `${batchId}-results`,
  };
}

async function expectResults(pod: PodRun): Promise<void> {
  const json = JSON.parse((await swift.getObjectBytes(pod.resultsContainer, `${pod.itemId}.json`)).toString('utf8')) as Record<
    string,
    unknown
  >;
  const { item_id, ...analysis } = json;
  expect(item_id).toBe(pod.itemId);
  expect(analysis).toEqual(reference.analysis);
  const entries = readZip(await swift.getObjectBytes(pod.resultsContainer, `${pod.itemId}.zip`));
  expect(entries.map((e) => e.data)).toEqual(reference.pngs);
}

const logLines = (output: string, message: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.message === message);
const doneLines = (output: string) => logLines(output, 'item done').map((entry) => entry.item_id);

describe('the enclave start-up path, as kubejobs and SCONE run it', () => {
  it('SIM: the job cmd starts the bundled worker with env_vars plus REDIS_HOST, which processes one sealed item end to end', async () => {
    const pod = await startPod('SIM');
    expect([pod.code, doneLines(pod.output)]).toEqual([0, [pod.itemId]]);
    await expectResults(pod);
    expect(pod.envVarNames).toContain('ENCRYPTION_KEY');
  }, 120_000);

  it('HW: the worker sees only the session environment, reads REDIS_HOST from /env as the entry point wrote it, runs ffmpeg as its own attested service, and processes one sealed item', async () => {
    const pod = await startPod('HW');
    expect([pod.code, doneLines(pod.output)]).toEqual([0, [pod.itemId]]);
    await expectResults(pod);
    expect(readFileSync(join(pod.root, 'env', 'REDIS_HOST'), 'utf8')).toBe(`${services.redis.host}\n`);
    // node attested as the worker service, then the ffmpeg child as its own service (its MRENCLAVE, its command)
    expect(cas.attested.filter((id) => id.startsWith(`${pod.batchId}/`))).toEqual([`${pod.batchId}/radiomics`, `${pod.batchId}/ffmpeg`]);
    expect(pod.envVarNames).toEqual(
      [
        'SCONE_ALLOW_DLOPEN',
        'SCONE_ALPINE',
        'SCONE_CAS_ADDR',
        'SCONE_CONFIG_ID',
        'SCONE_HEAP',
        'SCONE_LAS_ADDR',
        'SCONE_LOG',
        'SCONE_MODE',
        'SCONE_STACK',
        'SCONE_VERSION',
      ].sort(),
    );
  }, 120_000);

  it('HW without the entry point: REDIS_HOST is in the pod but not in the session, so the worker exits 2 naming it', async () => {
    const pod = await startPod('HW', ['node', '/app/worker.mjs']);
    expect([pod.code, logLines(pod.output, 'invalid configuration').map((entry) => entry.error_message)]).toEqual([
      2,
      ['missing configuration: REDIS_HOST (environment or /env/REDIS_HOST)'],
    ]);
  }, 120_000);

  it('the former WORKER_CMD names no file in the image: node exits 1 before the worker starts', async () => {
    const pod = await startPod('SIM', ['node', '/app/enclave/worker.mjs']);
    expect([pod.code, pod.output.includes(`Cannot find module '${join(pod.root, 'app', 'enclave', 'worker.mjs')}'`)]).toEqual([1, true]);
  }, 120_000);
});
