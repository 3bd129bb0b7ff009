/**
 * `npm run bench -- batch`: how soon after its window closes a batch's job is submitted.
 * Clips are sealed one by one into a batch with a short window (BATCH_MAX_AGE_SECS); the close timer that the
 * intake sets when the batch opens runs the real batch closer (HW mode: Palaemon CAS emulator over mTLS, then
 * the Asperathos emulator). Baseline in the same run: the configured window itself, and the minute schedule's
 * worst case without the timer (60 s). Prints one JSON line:
 *   {clips, window_s, last_intake_to_submit_s, submit_latency_after_window_s, latency_vs_window, schedule_only_worst_case_s}
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIntakeHarness } from '#local/intake-harness.js';
import { generateTlsFixtures } from '#local/tls-fixtures.js';
import { startPalaemonEmulator } from '#local/palaemon-emulator.js';
import { startAsperathosEmulator } from '#local/asperathos/index.js';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { closeDueBatches, type BatchDeps } from '#lib/batch/close.js';
import { LocalDueTimer } from '#lib/due-timer.js';
import { DynamoBatchStore } from '#lib/store/batch-store.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { createLogger } from '#lib/log.js';
import { LOCAL_TEMPURL_KEY, REPO_ROOT, startServices } from '#local/services.js';

const WINDOW_SECS = 5;
const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');

export async function run(): Promise<void> {
  const { services } = await startServices();
  const dir = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  const tls = await generateTlsFixtures(join(dir, 'tls'), { clients: ['batch'] });
  const cas = await startPalaemonEmulator({ tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key } });
  const asperathos = await startAsperathosEmulator({
    redis: services.redis,
    workerCommand: () => ({ cmd: process.execPath, args: ['-e', 'process.exit(0)'] }),
  });
  const h = await startIntakeHarness();
  await h.swift.setAccountTempUrlKey(LOCAL_TEMPURL_KEY, { slot: 2 });
  let submittedAtMs = 0;
  const batchDeps: BatchDeps = {
    batches: new DynamoBatchStore(h.dynamo.doc, 'radiomics'),
    intake: h.store,
    swift: h.swift,
    keys: h.deps.keys,
    jobs: new AsperathosClient({ submissionsUrl: asperathos.submissionsUrl }),
    sessions: new PalaemonClient({
      casAddress: cas.casAddress,
      tls: { ca: tls.ca, cert: tls.clients.batch.cert, key: tls.clients.batch.key },
    }),
    settings: {
      maxItems: 1000,
      maxBytes: 1 << 30,
      maxAgeSecs: WINDOW_SECS,
      quietSecs: 0,
      staleSealSecs: 1200,
      staleSubmitSecs: 300,
      links: { kind: 'tempurl', key: LOCAL_TEMPURL_KEY, ttlSecs: 3600 },
      submission: {
        mode: 'HW',
        casAddress: cas.casAddress,
        sessionFormat: '0.3',
        enclave: {
          mrenclave: 'a'.repeat(64),
          imageName: 'bench/worker:1',
          fspfTag: 'b'.repeat(32),
          fspfKey: 'c'.repeat(64),
          fspfPath: '/fspf.pb',
        },
        workerCmd: ['node', '/app/enclave/worker.mjs'],
        initSize: 1,
        expectedTimeSecs: 200,
        itemLeaseSecs: 15,
        verbosity: 3,
        workerEnv: {},
        workerSecretEnv: {},
      },
    },
    log: createLogger({}, { level: 'error' }),
  };
  const timer = new LocalDueTimer(async (batchId) => {
    const summary = await closeDueBatches(batchDeps, { batchId });
    if (summary.steps[batchId] === 'submitted') submittedAtMs = Date.now();
  });
  h.deps.dueTimer = { timer, maxAgeSecs: WINDOW_SECS };
  try {
    const clips = readdirSync(SAMPLES)
      .filter((name) => /\.mp4$/i.test(name))
      .sort()
      .slice(0, 10);
    let lastIntakeAtMs = 0;
    let batchId = '';
    for (const name of clips) {
      const body = readFileSync(join(SAMPLES, name));
      const key = `bench/${name}`;
      const summary = await ingestS3Event(h.event(key, body.length, await h.put(key, body)), h.deps);
      lastIntakeAtMs = Date.now();
      batchId = (await h.store.getVideo((summary.outcomes[0] as { videoId: string }).videoId))!.batchId!;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const batch = await h.store.getBatch(batchId);
    const windowEndMs = Date.parse(batch!.createdAt) + WINDOW_SECS * 1000;
    for (let i = 0; i < 600 && !submittedAtMs; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!submittedAtMs) throw new Error('the batch was not submitted within 30 s of its window');
    const afterWindow = (submittedAtMs - windowEndMs) / 1000;
    const jobId = (await h.store.getBatch(batchId))!.jobId!;
    for (let i = 0; i < 100 && (await batchDeps.jobs.get(jobId)).status !== 'completed'; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    console.log(
      JSON.stringify({
        clips: clips.length,
        window_s: WINDOW_SECS,
        last_intake_to_submit_s: Number(((submittedAtMs - lastIntakeAtMs) / 1000).toFixed(3)),
        submit_latency_after_window_s: Number(afterWindow.toFixed(3)),
        latency_vs_window: Number((afterWindow / WINDOW_SECS).toFixed(3)),
        schedule_only_worst_case_s: 60,
        baseline: 'the configured batch window (BATCH_MAX_AGE_SECS), and the 1-minute schedule without the close timer',
      }),
    );
  } finally {
    timer.cancelAll();
    await h.close();
    await asperathos.close();
    await cas.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
