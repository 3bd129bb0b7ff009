/**
 * Drives clips through a running local stack: uploads them into the intake bucket as one tenant (and, given a
 * PACS route, has Orthanc send others through the PACS hook at the same time), waits for every one to be
 * sealed, for its batch's job to end, and collects each clip's result from Swift.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '#lib/s3/bucket.js';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { videoIdDeriver } from '#lib/intake/video-id.js';
import { decodeMasterKey } from '#lib/keys.js';
import { AsperathosClient, TERMINAL_STATUSES } from '#lib/asperathos/index.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import type { VideoRecord } from '#lib/store/records.js';
import { LOCAL_INTAKE_BUCKET, LOCAL_TABLE } from './intake-stack.js';
import type { Stack } from './stack.js';
import type { PacsRoute } from './orthanc-route.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ClipOutcome {
  clip: string;
  /** How it was sent: uploaded into the bucket (`s3`) or exported by Orthanc through the PACS hook (`pacs`). */
  sentBy: 's3' | 'pacs';
  /** Its key in the intake bucket. */
  source: string;
  video?: VideoRecord;
  /** The video's stage and route as the status API tells them (`done`, `failed` with a reason, …; `s3` or `pacs`). */
  apiStage?: { stage: string; reason: string | null; route: string | null };
  /** The worker's `<id>.json`, when there is one. */
  result?: Record<string, unknown>;
  resultsContainer?: string;
}

export interface RunReport {
  clips: ClipOutcome[];
  jobs: Array<{ batchId: string; jobId: string; status: string; apiStatus?: string; apiProgress?: unknown }>;
  statusPageUrl: string;
  storageUrl: string;
  timings: { sealedAtMs: number; submittedAtMs: number; doneAtMs: number; startedAtMs: number };
}

export interface RunProgress {
  stage: 'sealing' | 'processing';
  done: number;
  total: number;
  jobIds: string[];
}

const UPLOAD_CONCURRENCY = 4;
/** How often this driver looks at the table, the manager and the status API (it only observes; nothing waits on it). */
const POLL_MS = 100;

export interface RunOptions {
  tenant?: string;
  /** These clips go through the PACS route instead of being uploaded. */
  pacs?: { route: PacsRoute; clips: string[] };
  onProgress?: (p: RunProgress) => void;
  timeoutMs?: number;
}

export async function runClips(stack: Stack, clipPaths: string[], options: RunOptions = {}): Promise<RunReport> {
  const tenant = options.tenant ?? 'demo';
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  const startedAtMs = Date.now();
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: stack.s3.endpoint, credentials: stack.s3.credentials });
  const delivered = stack.deliveries.length;
  const sent: Array<{ clip: string; sentBy: 's3' | 'pacs'; key: string; eTag?: string }> = [];
  const total = clipPaths.length + (options.pacs?.clips.length ?? 0);
  try {
    // four uploads at a time, as an upload tool would push a study's clips
    const queue = [...clipPaths];
    const uploader = async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        const key = `${tenant}/${basename(path)}`;
        const answer = await s3.send(
          new PutObjectCommand({ Bucket: LOCAL_INTAKE_BUCKET, Key: key, Body: createReadStream(path), ContentLength: statSync(path).size }),
        );
        sent.push({ clip: path, sentBy: 's3', key, eTag: (answer.ETag ?? '').replace(/"/g, '') });
      }
    };
    const exported = async () => {
      for (const delivery of options.pacs ? await options.pacs.route.send(options.pacs.clips) : []) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: LOCAL_INTAKE_BUCKET, Key: delivery.key }));
        sent.push({ clip: delivery.clip, sentBy: 'pacs', key: delivery.key, eTag: (head.ETag ?? '').replace(/"/g, '') });
      }
    };
    await Promise.all([...Array.from({ length: UPLOAD_CONCURRENCY }, uploader), exported()]);
  } finally {
    s3.destroy();
  }
  while (stack.deliveries.length - delivered < total) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the intake');
    options.onProgress?.({ stage: 'sealing', done: stack.deliveries.length - delivered, total, jobIds: [] });
    await sleep(POLL_MS);
  }
  await stack.idle();
  const sealedAtMs = Date.now();
  options.onProgress?.({ stage: 'sealing', done: total, total, jobIds: [] });

  const masterKey = decodeMasterKey(readFileSync(stack.env.MASTER_KEY_FILE, 'utf8'));
  const ids = videoIdDeriver(masterKey);
  const store = new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE);
  const order = [...clipPaths, ...(options.pacs?.clips ?? [])];
  sent.sort((a, b) => order.indexOf(a.clip) - order.indexOf(b.clip));
  const videos = await Promise.all(sent.map(({ key, eTag }) => store.getVideo(ids({ bucket: LOCAL_INTAKE_BUCKET, key, eTag }))));
  const batchIds = [
    ...new Set(videos.map((v) => (v?.stage === 'sealed' ? v.batchId : undefined)).filter((id): id is string => Boolean(id))),
  ];

  const manager = new AsperathosClient({ submissionsUrl: stack.asperathos.submissionsUrl });
  // the status as the table has it once sync-status ran, read through the status API as a person would
  const token = await stack.statusToken(tenant);
  const api = async (path: string) => {
    const answer = await fetch(`${stack.statusApi.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (answer.status !== 200) throw new Error(`status API ${path} answered ${answer.status}`);
    return (await answer.json()) as Record<string, unknown>;
  };
  const jobs = new Map<string, { jobId: string; status: string; apiStatus?: string; apiProgress?: unknown }>();
  let submittedAtMs = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the jobs');
    let items = 0;
    let processed = 0;
    let finished = 0;
    for (const batchId of batchIds) {
      const batch = await store.getBatch(batchId);
      if (!batch?.jobId) {
        items += batch?.claims ?? 0;
        continue;
      }
      submittedAtMs ||= Date.now();
      const status = await manager.get(batch.jobId).catch(() => undefined);
      if (!status) continue; // the manager is unreachable for a moment (restarting): ask again next round
      jobs.set(batchId, { jobId: batch.jobId, status: String(status.status) });
      // the real manager reports no progress: sync-status counts results, and the API shows it
      const progress = (await api(`/jobs/${batchId}`).catch(() => undefined))?.progress as
        | { done: number; total: number }
        | null
        | undefined;
      items += progress?.total ?? batch.items ?? 0;
      processed += progress?.done ?? 0;
      if (TERMINAL_STATUSES.has(String(status.status))) finished++;
    }
    options.onProgress?.({ stage: 'processing', done: processed, total: items, jobIds: [...jobs.values()].map((j) => j.jobId) });
    if (finished === batchIds.length) break;
    await sleep(POLL_MS);
  }
  const doneAtMs = Date.now();

  for (const [batchId, job] of jobs) {
    for (;;) {
      const view = await api(`/jobs/${batchId}`);
      if (TERMINAL_STATUSES.has(String(view.status)) || Date.now() > deadline) {
        Object.assign(job, { apiStatus: String(view.status), apiProgress: view.progress });
        break;
      }
      await sleep(POLL_MS);
    }
  }

  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: stack.services.swift.authUrl, user: stack.services.swift.user, key: stack.services.swift.key }),
  });
  const clips: ClipOutcome[] = [];
  for (const [i, { clip, sentBy, key }] of sent.entries()) {
    const video = videos[i];
    const outcome: ClipOutcome = { clip: basename(clip), sentBy, source: key, video };
    if (video) {
      const view = await api(`/videos/${video.videoId}`);
      outcome.apiStage = {
        stage: String(view.stage),
        reason: (view.reason as string | null) ?? null,
        route: (view.route as string | undefined) ?? null,
      };
    }
    if (video?.stage === 'sealed' && video.batchId) {
      outcome.resultsContainer = `${video.batchId}-results`;
      try {
        outcome.result = JSON.parse((await swift.getObjectBytes(outcome.resultsContainer, `${video.videoId}.json`)).toString()) as Record<
          string,
          unknown
        >;
      } catch {
        // no result: the clip failed in the worker (see the job's errors)
      }
    }
    clips.push(outcome);
  }
  return {
    clips,
    jobs: [...jobs.entries()].map(([batchId, job]) => ({ batchId, ...job })),
    storageUrl: await swift.storageUrl(),
    statusPageUrl: `${stack.statusApi.url}/`,
    timings: { startedAtMs, sealedAtMs, submittedAtMs, doneAtMs },
  };
}
