/**
 * `npm run bench -- sync`: one sync-status tick over 10,000 active jobs, against the schedule interval (60 s).
 * Table: dynalite (in memory) in a child process, bench/sync-table.ts. Manager: bench/sync-manager.ts, a fake Asperathos in a child
 * process (the emulator cannot hold 10,000 active jobs: one Redis database and real workers per job). Every
 * job's progress moves on every poll (worst case: each job costs GET status + GET errors + one conditional write).
 * Then 10,000 finished jobs are added (completed, out of the active index) and the tick is measured again:
 * its cost follows the active jobs only. Prints JSON lines {active_jobs, finished_jobs, tick_seconds, jobs_per_s,
 * schedule_interval_s, tick_vs_interval, outcomes}.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClients } from '#local/dynamodb-local.js';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { createLogger } from '#lib/log.js';
import { DynamoJobStatusStore } from '#lib/store/status-store.js';
import { DEFAULT_SYNC_SETTINGS, mapBounded, syncActiveJobs } from '#lib/status/sync.js';
import { activeJobKeys, keys, tenantBatchKeys } from '#lib/store/keys.js';

const JOBS = Number(process.env.BENCH_SYNC_JOBS ?? 10_000);
const INTERVAL_SECS = 60;
const here = dirname(fileURLToPath(import.meta.url));

function batchItem(i: number, active: boolean) {
  const batchId = randomBytes(16).toString('hex');
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    ...keys.batch(batchId),
    batchId,
    tenant: `hospital-${i % 20}`,
    state: active ? 'submitted' : 'completed',
    container: `c-${batchId}`,
    wrappedKey: 'x',
    createdAt: at,
    claims: 50,
    claimedBytes: 1,
    sealedItems: 50,
    sealedBytes: 1,
    inflight: {},
    items: 50,
    jobId: `kj-${batchId.slice(0, 7)}`,
    submittedAt: at,
    ...(active ? activeJobKeys(at, batchId) : { jobState: { status: 'completed' } }),
    ...tenantBatchKeys({ tenant: `hospital-${i % 20}`, createdAt: at, batchId }),
  };
}

async function insert(dynamo: { doc: ReturnType<typeof dynamoClients>['doc'] }, count: number, active: boolean, offset: number) {
  const chunks = Array.from({ length: Math.ceil(count / 25) }, (_, c) =>
    Array.from({ length: Math.min(25, count - c * 25) }, (_, k) => batchItem(offset + c * 25 + k, active)),
  );
  await mapBounded(chunks, 8, async (chunk) => {
    let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length) {
      const out = await dynamo.doc.send(new BatchWriteCommand({ RequestItems: { radiomics: pending } }));
      pending = (out.UnprocessedItems?.radiomics ?? []) as typeof pending;
    }
  });
}

export async function run(): Promise<void> {
  const child = async (file: string) => {
    const proc = fork(join(here, file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    const [first] = (await once(proc.stdout!, 'data')) as [Buffer];
    return { proc, line: first.toString().trim() };
  };
  const { proc: manager, line } = await child('sync-manager.ts');
  const table = await child('sync-table.ts');
  const dynamo = dynamoClients(table.line);
  try {
    const deps = {
      store: new DynamoJobStatusStore(dynamo.doc, 'radiomics'),
      jobs: new AsperathosClient({ submissionsUrl: `http://127.0.0.1:${line}/submissions`, timeoutMs: 5000 }),
      settings: DEFAULT_SYNC_SETTINGS,
      log: createLogger({}, { level: 'error' }),
    };
    await insert(dynamo, JOBS, true, 0);
    let finished = 0;
    for (const phase of ['active only', 'plus finished']) {
      if (phase === 'plus finished') {
        await insert(dynamo, JOBS, false, JOBS);
        finished = JOBS;
      }
      const start = performance.now();
      const summary = await syncActiveJobs(deps);
      const tickSecs = (performance.now() - start) / 1000;
      process.stdout.write(
        `${JSON.stringify({
          active_jobs: summary.active,
          finished_jobs: finished,
          tick_seconds: Number(tickSecs.toFixed(2)),
          jobs_per_s: Math.round(summary.active / tickSecs),
          schedule_interval_s: INTERVAL_SECS,
          tick_vs_interval: Number((tickSecs / INTERVAL_SECS).toFixed(3)),
          concurrency: DEFAULT_SYNC_SETTINGS.concurrency,
          outcomes: Object.fromEntries(Object.entries(summary.outcomes).filter(([, n]) => n > 0)),
        })}\n`,
      );
    }
  } finally {
    dynamo.client.destroy();
    table.proc.kill();
    manager.kill();
  }
}
