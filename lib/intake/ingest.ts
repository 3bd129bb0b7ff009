/**
 * Ingests one intake object: validate, seal with the tenant's open-batch key, put it in Swift, record it.
 *
 * Idempotent and crash-safe through conditional writes only:
 *   video row  absent → sealing(batch B) → sealed       (or → rejected with a reason)
 *   batch row  inflight[videoId] set while sealing; the closer waits for it to empty, and only an
 *              open batch with room accepts a new seal, so a video is never sealed with a closed batch's key.
 * A duplicate event finds the video sealed and only finishes any bookkeeping a crash left behind.
 * The read is pinned to the event's object (lib/s3/bucket.ts): when the key was overwritten since, the video is recorded
 * `superseded` and left to the newer object's own event; the object under the key is not tagged.
 * Logs name the object only by its video id, a keyed hash: an unkeyed hash of a name would confirm a guessed name.
 */
import { randomUUID } from 'node:crypto';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import { MediaCheck, type MediaKind } from './media-check.js';
import type { KeyWrapper } from '#lib/keys.js';
import { SourceSuperseded, type IntakeObjects } from '#lib/s3/bucket.js';
import type { ObjectCreated } from '#lib/s3/events.js';
import { generateBatchKey } from '#lib/seal/cipher.js';
import { segmentsContainerOf, uploadSealed } from '#lib/seal/sealed-upload.js';
import type { SwiftStore } from '#lib/swift/index.js';
import type { IntakeStore } from '#lib/store/intake-store.js';
import type { BatchRecord, VideoRecord } from '#lib/store/records.js';
import { tenantOfKey } from '#lib/tenant.js';
import type { VideoIdDeriver } from './video-id.js';
import type { BatchDueTimer } from '#lib/due-timer.js';
import type { ConvertedObject, DicomConversion } from './dicom-step.js';

export interface IntakeLimits {
  maxVideoBytes: number;
  batchMaxItems: number;
  batchMaxBytes: number;
}

export interface IntakeDeps {
  objects: IntakeObjects;
  store: IntakeStore;
  swift: SwiftStore;
  keys: KeyWrapper;
  videoId: VideoIdDeriver;
  limits: IntakeLimits;
  containerPrefix: string;
  acceptedKinds: readonly MediaKind[];
  /** Closes each new batch when its window ends (maxAge after it opens); without it the schedule does. */
  dueTimer?: { timer: BatchDueTimer; maxAgeSecs: number };
  log: Logger;
  now?: () => Date;
  /** DICOM → de-identified, masked MP4 before sealing (lib/intake/dicom-step.ts); without it DICOM is rejected by kind. */
  convertDicom?: DicomConversion;
  /** Delays between upload attempts within one invocation; Lambda retries beyond these. */
  uploadRetryDelaysMs?: number[];
}

export type IngestOutcome =
  | { status: 'sealed'; videoId: string; batchId: string; sealedBytes: number }
  | { status: 'duplicate'; videoId: string; stage: string }
  | { status: 'rejected'; videoId: string; reason: string }
  | { status: 'superseded'; videoId: string };

const MAX_BATCH_HOPS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function ingestObject(source: ObjectCreated, deps: IntakeDeps, signal?: AbortSignal): Promise<IngestOutcome> {
  const now = deps.now ?? (() => new Date());
  const videoId = deps.videoId(source);
  const tenantResult = tenantOfKey(source.key);
  const tenant = tenantResult.ok ? tenantResult.tenant : '-';
  const log = deps.log.child({ videoId, tenant });

  const existing = await deps.store.getVideo(videoId);
  if (existing && existing.stage !== 'sealing') {
    if (existing.stage === 'sealed' && existing.batchId) {
      await deps.store.finishSeal(existing.batchId, videoId, { bytes: existing.sealedBytes ?? 0 });
      // a crash may have come between the seal and the tag: tagging again is harmless
      await deps.objects.markAccepted(source, videoId);
    }
    log.info('duplicate delivery', { stage: existing.stage });
    return { status: 'duplicate', videoId, stage: existing.stage };
  }

  const recordUnsealed = async (stage: 'rejected' | 'superseded', reason: string, kind?: MediaKind) => {
    const at = now().toISOString();
    await deps.store.rejectVideo({ videoId, tenant, stage, reason, kind, bytes: source.size, receivedAt: existing?.receivedAt ?? at, updatedAt: at });
  };
  const reject = async (reason: string, message: string, kind?: MediaKind): Promise<IngestOutcome> => {
    await deps.objects.markRejected(source, reason);
    await recordUnsealed('rejected', reason, kind);
    log.warn('rejected', { reason, detail: message });
    return { status: 'rejected', videoId, reason };
  };

  if (!tenantResult.ok) return reject(tenantResult.reason, 'the key does not start with a valid <tenant>/ prefix');
  if (source.size > deps.limits.maxVideoBytes) {
    return reject('too_large', `object exceeds the ${deps.limits.maxVideoBytes}-byte cap`);
  }

  const { batch, video } = await joinOpenBatch(tenant, videoId, source.size, existing, deps, now);
  const key = await deps.keys.unwrap(batch.wrappedKey, { tenant, batchId: batch.batchId });
  const objectName = `${videoId}.mp4`;
  const delays = deps.uploadRetryDelaysMs ?? [500, 2000];

  for (let attempt = 0; ; attempt++) {
    const check = new MediaCheck(deps.limits.maxVideoBytes, deps.acceptedKinds);
    try {
      if (attempt > 0) await ensureContainers(deps.swift, batch.container, signal);
      const opened = await deps.objects.open(source, signal);
      const object: ConvertedObject = deps.convertDicom ? await deps.convertDicom(opened, signal) : opened;
      try {
        const sealed = await uploadSealed(deps.swift, { container: batch.container, objectName }, key, object.body, check, object.size, signal);
        const outcome = await recordSealed(video, batch, sealed.sealedBytes, object.kind ?? check.kind ?? 'mp4', deps, now, log);
        if (outcome.status === 'sealed') await deps.objects.markAccepted(source, videoId);
        return outcome;
      } finally {
        await object.dispose?.();
      }
    } catch (error) {
      if (error instanceof SourceSuperseded) {
        await deps.store.finishSeal(batch.batchId, videoId);
        await recordUnsealed('superseded', error.reason);
        log.info('superseded: the key holds a newer object, which its own event seals');
        return { status: 'superseded', videoId };
      }
      if (error instanceof RejectedInput) {
        await deps.store.finishSeal(batch.batchId, videoId);
        return reject(error.reason, error.message, check.kind);
      }
      if (attempt >= delays.length || signal?.aborted) {
        log.error('seal failed; leaving it to the retry', errorFields(error));
        throw error instanceof RetryableError ? error : new RetryableError('sealing failed', { cause: error });
      }
      log.warn('seal attempt failed; trying again', { attempt, ...errorFields(error) });
      await sleep(delays[attempt]);
    }
  }
}

/** Finds the tenant's open batch with room, creating one if needed, and claims the video into it. */
async function joinOpenBatch(
  tenant: string,
  videoId: string,
  bytes: number,
  existing: VideoRecord | undefined,
  deps: IntakeDeps,
  now: () => Date,
): Promise<{ batch: BatchRecord; video: VideoRecord }> {
  let claimedIn = existing?.batchId;
  for (let hop = 0; hop < MAX_BATCH_HOPS; hop++) {
    const batch = await openBatchOf(tenant, deps, now);
    const at = now().toISOString();
    const video: VideoRecord = {
      videoId,
      tenant,
      stage: 'sealing',
      batchId: batch.batchId,
      bytes,
      receivedAt: existing?.receivedAt ?? at,
      updatedAt: at,
    };
    if (claimedIn !== batch.batchId) {
      if (!(await deps.store.claimVideo(video, claimedIn))) {
        throw new RetryableError('the video changed under a concurrent delivery; retrying');
      }
      claimedIn = batch.batchId;
    }
    const outcome = await deps.store.registerSeal(batch.batchId, videoId, bytes, { maxItems: deps.limits.batchMaxItems, maxBytes: deps.limits.batchMaxBytes }, now().getTime());
    if (outcome === 'registered' || outcome === 'already_registered') return { batch, video };
    await deps.store.clearOpenBatch(tenant, batch.batchId);
  }
  throw new RetryableError('could not join an open batch');
}

async function openBatchOf(tenant: string, deps: IntakeDeps, now: () => Date): Promise<BatchRecord> {
  const pointed = (await deps.store.getOpenBatchId(tenant)) ?? (await deps.store.pointOpenBatch(tenant, randomUUID().replace(/-/g, '')));
  const stored = await deps.store.getBatch(pointed);
  if (stored) return stored;
  await ensureContainers(deps.swift, `${deps.containerPrefix}${pointed}`);
  const key = generateBatchKey();
  try {
    const created = await deps.store.createBatch({
      batchId: pointed,
      tenant,
      state: 'open',
      container: `${deps.containerPrefix}${pointed}`,
      wrappedKey: await deps.keys.wrap(key, { tenant, batchId: pointed }),
      createdAt: now().toISOString(),
      claims: 0,
      claimedBytes: 0,
      sealedItems: 0,
      sealedBytes: 0,
      inflight: {},
    });
    if (deps.dueTimer) {
      await deps.dueTimer.timer.closeAt(created.batchId, new Date(Date.parse(created.createdAt) + deps.dueTimer.maxAgeSecs * 1000));
    }
    return created;
  } finally {
    key.fill(0);
  }
}

/** A batch's containers are made when the batch is, and again on a retry in case they went missing. */
async function ensureContainers(swift: SwiftStore, container: string, signal?: AbortSignal): Promise<void> {
  await swift.createContainer(container, { signal });
  await swift.createContainer(segmentsContainerOf(container), { signal });
}

async function recordSealed(
  video: VideoRecord,
  batch: BatchRecord,
  sealedBytes: number,
  kind: MediaKind,
  deps: IntakeDeps,
  now: () => Date,
  log: Logger,
): Promise<IngestOutcome> {
  const objectName = `${video.videoId}.mp4`;
  const marked = await deps.store.markSealed(video.videoId, batch.batchId, {
    container: batch.container,
    objectName,
    sealedBytes,
    at: now().toISOString(),
  });
  if (!marked) {
    const current = await deps.store.getVideo(video.videoId);
    if (current?.batchId !== batch.batchId) {
      await deps.swift.deleteObject(batch.container, objectName, { ignoreMissing: true }).catch(() => undefined);
      await deps.store.finishSeal(batch.batchId, video.videoId);
    }
    log.info('a concurrent delivery finished first', { stage: current?.stage });
    return { status: 'duplicate', videoId: video.videoId, stage: current?.stage ?? 'unknown' };
  }
  await deps.store.finishSeal(batch.batchId, video.videoId, { bytes: sealedBytes, atMs: now().getTime() });
  log.info('sealed', { batchId: batch.batchId, kind, sealedBytes });
  return { status: 'sealed', videoId: video.videoId, batchId: batch.batchId, sealedBytes };
}
