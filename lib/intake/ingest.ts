/**
 * Ingests one intake object: validate, seal with the tenant's open-batch key, put it in Swift, record it.
 *
 * A clip costs one S3 read, one S3 tag, one Swift PUT and two table writes (the flow, its invariants and the write
 * that guards each: lib/store/intake-store.ts):
 *   register in the tenant's open batch ─┐
 *   read the object through the checks ──┴─► seal ─► PUT ─► record the video ─┐
 *                                          └─► tag the source accepted ───────┴─► done
 * The registration stays in flight until the batch closer counts it from the video's row (lib/batch/close.ts).
 * The registration and the S3 read run side by side; nothing reaches Swift before the registration holds. An object
 * read whole is tagged as soon as its read has passed the checks, alongside the PUT: its pinned read has just shown
 * that the key holds it, and the tag names the video id, which does not depend on the seal's outcome (a failed
 * seal is retried under the same id; a later rejection replaces the tags). A streamed object is tagged after its
 * record, once the key is checked again.
 * Objects up to `singlePutMaxBytes` are read and sealed in memory and PUT as one object; larger ones stream to Swift
 * as an SLO in constant memory (lib/seal/sealed-upload.ts). Both read back as the same bytes.
 * The tenant's open batch and its unwrapped key are kept per warm container (./open-batches.ts, one per deps'
 * store, which wiring.ts builds once per container); the registration's condition is what makes that guess safe.
 * A delivery that finds the video recorded already (a duplicate) settles its own registration and says so.
 * The read is pinned to the event's object (lib/s3/bucket.ts): when the key was overwritten since, the video is recorded
 * `superseded` and left to the newer object's own event; the object under the key is not tagged.
 * Logs name the object only by its video id, a keyed hash: an unkeyed hash of a name would confirm a guessed name.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { errorFields, type Logger } from '#lib/log.js';
import { MediaCheck, type MediaKind } from './media-check.js';
import type { KeyWrapper } from '#lib/keys.js';
import { SourceSuperseded, type IntakeObjects } from '#lib/s3/bucket.js';
import type { ObjectCreated } from '#lib/s3/events.js';
import { generateBatchKey } from '#lib/seal/cipher.js';
import { DEFAULT_SINGLE_PUT_MAX_BYTES, putSealed, readWhole, segmentsContainerOf, uploadSealed } from '#lib/seal/sealed-upload.js';
import type { SwiftStore } from '#lib/swift/index.js';
import type { IntakeStore, IntakeVideo, JoinOutcome } from '#lib/store/intake-store.js';
import type { BatchRecord } from '#lib/store/records.js';
import { tenantOfKey } from '#lib/tenant.js';
import type { VideoIdDeriver } from './video-id.js';
import type { BatchDueTimer } from '#lib/due-timer.js';
import type { ConvertedObject, DicomConversion } from './dicom-step.js';
import { OpenBatches } from './open-batches.js';

export interface IntakeLimits {
  maxVideoBytes: number;
  batchMaxItems: number;
  batchMaxBytes: number;
  /** Objects up to this size are sealed in memory and PUT once; larger ones stream as an SLO (default: lib/seal). */
  singlePutMaxBytes?: number;
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
/** How long a container trusts its idea of a tenant's open batch before it reads the pointer again. */
const OPEN_BATCH_RECHECK_MS = 30_000;
/** A cached batch key unused this long is zeroed. */
const IDLE_KEY_MS = 10 * 60_000;
const MAX_CACHED_TENANTS = 256;
/** Waits for a batch another intake is making (its containers take a few Swift requests). */
const BATCH_APPEARS_WITHIN_MS = [20, 40, 80];

/** A registration of the video in an open batch, with a copy of that batch's key (zeroed once the seal is done). */
interface Registration {
  batch: BatchRecord;
  key: Buffer;
  startedAtMs: number;
  /** Found in flight already: an earlier delivery's, which may have recorded the video by now. */
  adopted: boolean;
}

/** The plaintext, in memory (`whole`) or still to be streamed through its checks during the upload. */
type Plaintext = { whole: Buffer[]; kind: MediaKind } | { object: ConvertedObject; check: MediaCheck };

export async function ingestObject(source: ObjectCreated, deps: IntakeDeps, signal?: AbortSignal): Promise<IngestOutcome> {
  const delivery = new Delivery(source, deps, signal);
  const tenantResult = tenantOfKey(source.key);
  if (!tenantResult.ok)
    return delivery.recordUnsealed('rejected', tenantResult.reason, 'the key does not start with a valid <tenant>/ prefix');
  if (source.size > deps.limits.maxVideoBytes) {
    return delivery.recordUnsealed('rejected', 'too_large', `object exceeds the ${deps.limits.maxVideoBytes}-byte cap`);
  }
  return delivery.seal();
}

/** One delivery of one video, from its registration to its recorded outcome. */
class Delivery {
  readonly videoId: string;
  readonly tenant: string;
  private readonly now: () => Date;
  private readonly receivedAt: string;
  private readonly log: Logger;

  constructor(
    private readonly source: ObjectCreated,
    private readonly deps: IntakeDeps,
    private readonly signal?: AbortSignal,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.receivedAt = this.now().toISOString();
    this.videoId = deps.videoId(source);
    const tenant = tenantOfKey(source.key);
    this.tenant = tenant.ok ? tenant.tenant : '-';
    this.log = deps.log.child({ videoId: this.videoId, tenant: this.tenant });
  }

  async seal(): Promise<IngestOutcome> {
    const newCheck = () => new MediaCheck(this.deps.limits.maxVideoBytes, this.deps.acceptedKinds);
    let check = newCheck();
    let reading = observed(this.readPlaintext(check));
    let registration: Registration;
    try {
      registration = await joinOpenBatch(this.tenant, this.videoId, this.source.size, this.deps, this.now);
    } catch (error) {
      await discard(reading);
      throw error;
    }
    if (registration.adopted && (await this.recordedAlready(registration, reading))) {
      return this.duplicateOf(registration, { uploaded: false });
    }
    const { batch, key } = registration;
    const target = { container: batch.container, objectName: `${this.videoId}.mp4` };
    const delays = this.deps.uploadRetryDelaysMs ?? [500, 2000];
    let tagging: Promise<void> | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        let plaintext: Plaintext | undefined;
        try {
          plaintext = await reading;
          if (attempt > 0) await ensureContainers(this.deps.swift, batch.container, this.signal);
          let sealedBytes: number;
          let kind: MediaKind;
          if ('whole' in plaintext) {
            tagging ??= observed(this.deps.objects.markAccepted(this.source, this.videoId, { readJustNow: true }));
            ({ sealedBytes } = await putSealed(this.deps.swift, target, key, plaintext.whole, this.signal));
            kind = plaintext.kind;
          } else {
            try {
              ({ sealedBytes } = await uploadSealed(
                this.deps.swift,
                target,
                key,
                plaintext.object.body,
                plaintext.check,
                plaintext.object.size,
                this.signal,
              ));
            } finally {
              await plaintext.object.dispose?.();
            }
            kind = plaintext.object.kind ?? plaintext.check.kind ?? 'mp4';
          }
          return await this.recordSealed(registration, sealedBytes, kind, tagging);
        } catch (error) {
          await settled(tagging);
          if (error instanceof SourceSuperseded) {
            return await this.recordUnsealed(
              'superseded',
              error.reason,
              'the key holds a newer object, which its own event seals',
              registration,
            );
          }
          if (error instanceof RejectedInput)
            return await this.recordUnsealed('rejected', error.reason, error.message, registration, check.kind);
          if (attempt >= delays.length || this.signal?.aborted) {
            this.log.error('seal failed; leaving it to the retry', errorFields(error));
            throw error instanceof RetryableError ? error : new RetryableError('sealing failed', { cause: error });
          }
          this.log.warn('seal attempt failed; trying again', { attempt, ...errorFields(error) });
          await sleep(delays[attempt]);
          if (plaintext && 'whole' in plaintext) {
            reading = Promise.resolve(plaintext);
          } else {
            check = newCheck();
            reading = observed(this.readPlaintext(check));
          }
        }
      }
    } finally {
      key.fill(0);
    }
  }

  /**
   * Whether the video is recorded already under a registration this delivery adopted (a duplicate delivered before
   * the closer counted the seal): it is then settled by that record, with no second upload.
   */
  private async recordedAlready(registration: Registration, reading: Promise<Plaintext>): Promise<boolean> {
    const letGo = async () => {
      registration.key.fill(0);
      await discard(reading);
    };
    let current: IntakeVideo | undefined;
    try {
      current = await this.deps.store.getVideo(this.videoId);
      if (current?.stage === 'abandoned' && current.sealStartedAtMs === registration.startedAtMs) this.refuseAbandoned(current);
    } catch (error) {
      await letGo();
      throw error;
    }
    const recorded = current !== undefined && current.stage !== 'abandoned';
    if (recorded) await letGo();
    return recorded;
  }

  /**
   * The closer gave this delivery's registration up as stale (its tombstone names it, and refused the record), so
   * its batch no longer waits for the video: the retry registers anew. A tombstone of another registration is no
   * obstacle, and callers do not come here for one.
   */
  private refuseAbandoned(tombstone: IntakeVideo): never {
    this.log.warn('the batch gave this seal up as stale; leaving it to the retry', { batchId: tombstone.batchId });
    throw new RetryableError('the batch gave this seal up as stale; the retry registers anew');
  }

  /** Opens the event's object (DICOM converted); reads it into memory through `check` when it is small enough. */
  private async readPlaintext(check: MediaCheck): Promise<Plaintext> {
    const opened = await this.deps.objects.open(this.source, this.signal);
    let object: ConvertedObject;
    try {
      object = this.deps.convertDicom ? await this.deps.convertDicom(opened, this.signal) : opened;
    } catch (error) {
      opened.body.destroy();
      throw error;
    }
    if (object.size > (this.deps.limits.singlePutMaxBytes ?? DEFAULT_SINGLE_PUT_MAX_BYTES)) return { object, check };
    try {
      const whole = await readWhole(object.body, check, object.size, this.signal);
      return { whole, kind: object.kind ?? check.kind ?? 'mp4' };
    } finally {
      await object.dispose?.();
    }
  }

  /** Where GET /videos?source= finds this video: its key's digest, ordered by the event's sequencer. */
  private videoSource() {
    return { tenant: this.tenant, sourceKey: this.source.key, sequencer: this.source.sequencer, at: this.receivedAt };
  }

  /**
   * Records the seal and sees the source tagged (`tagging`, when it is under way). The registration stays in flight:
   * the batch closer counts it from the row, so no further write delays the clip (lib/store/intake-store.ts).
   */
  private async recordSealed(
    registration: Registration,
    sealedBytes: number,
    kind: MediaKind,
    tagging?: Promise<void>,
  ): Promise<IngestOutcome> {
    const { batch, startedAtMs } = registration;
    const at = this.now();
    const recorded = await this.deps.store.recordSealed(
      {
        videoId: this.videoId,
        tenant: this.tenant,
        stage: 'sealed',
        kind,
        batchId: batch.batchId,
        container: batch.container,
        objectName: `${this.videoId}.mp4`,
        bytes: this.source.size,
        sealedBytes,
        receivedAt: this.receivedAt,
        sealedAt: at.toISOString(),
        updatedAt: at.toISOString(),
        sealStartedAtMs: startedAtMs,
      },
      this.videoSource(),
    );
    if (!recorded) {
      await settled(tagging);
      return this.duplicateOf(registration, { uploaded: true });
    }
    await (tagging ?? this.deps.objects.markAccepted(this.source, this.videoId));
    this.log.info('sealed', { batchId: batch.batchId, kind, sealedBytes });
    return { status: 'sealed', videoId: this.videoId, batchId: batch.batchId, sealedBytes };
  }

  /**
   * Records a rejected (or superseded) video, and settles the registration it may have made. A video recorded
   * already is a duplicate: its own record stands.
   */
  async recordUnsealed(
    stage: 'rejected' | 'superseded',
    reason: string,
    detail: string,
    registration?: Registration,
    kind?: MediaKind,
  ): Promise<IngestOutcome> {
    const at = this.now().toISOString();
    const recorded = await this.deps.store.rejectVideo(
      {
        videoId: this.videoId,
        tenant: this.tenant,
        stage,
        reason,
        kind,
        bytes: this.source.size,
        receivedAt: this.receivedAt,
        updatedAt: at,
      },
      this.videoSource(),
    );
    if (!recorded) return this.duplicateOf(registration, { uploaded: false });
    if (registration)
      await this.deps.store.releaseSeal(registration.batch.batchId, this.videoId, this.source.size, registration.startedAtMs);
    if (stage === 'superseded') {
      this.log.info('superseded: the key holds a newer object, which its own event seals');
      return { status: 'superseded', videoId: this.videoId };
    }
    await this.deps.objects.markRejected(this.source, reason);
    this.log.warn('rejected', { reason, detail });
    return { status: 'rejected', videoId: this.videoId, reason };
  }

  /**
   * The video is recorded already: settle this delivery's registration by that record (lib/store/intake-store.ts),
   * finish the record's own bookkeeping that a crash may have cut short (tagging again is harmless), and say so.
   */
  private async duplicateOf(registration: Registration | undefined, options: { uploaded: boolean }): Promise<IngestOutcome> {
    const current = await this.deps.store.getVideo(this.videoId);
    if (!current) throw new RetryableError('the video row vanished under a concurrent delivery');
    if (current.stage === 'abandoned') this.refuseAbandoned(current);
    if (registration) await this.settle(registration, current, options.uploaded);
    if (current.stage === 'sealed' && current.batchId && current.batchId !== registration?.batch.batchId) {
      await this.deps.store.finishSeal(current.batchId, this.videoId, { bytes: current.sealedBytes ?? 0 }, current.sealStartedAtMs);
    }
    if (current.stage === 'sealed') await this.deps.objects.markAccepted(this.source, this.videoId);
    if (current.stage === 'rejected' && current.reason) await this.deps.objects.markRejected(this.source, current.reason);
    this.log.info('duplicate delivery', { stage: current.stage });
    return { status: 'duplicate', videoId: this.videoId, stage: current.stage };
  }

  /**
   * A registration the recorded seal relied on is counted; any other is released, and what this delivery put in
   * its batch is removed unless it is the recorded object's own name there.
   */
  private async settle({ batch, startedAtMs }: Registration, current: IntakeVideo, uploaded: boolean): Promise<void> {
    const sameBatch = current.batchId === batch.batchId;
    if (sameBatch && current.stage === 'sealed' && (current.sealStartedAtMs ?? startedAtMs) === startedAtMs) {
      await this.deps.store.finishSeal(batch.batchId, this.videoId, { bytes: current.sealedBytes ?? 0 }, current.sealStartedAtMs);
      return;
    }
    if (uploaded && !sameBatch) {
      await this.deps.swift.deleteObject(batch.container, `${this.videoId}.mp4`, { ignoreMissing: true }).catch(() => undefined);
    }
    await this.deps.store.releaseSeal(batch.batchId, this.videoId, this.source.size, startedAtMs);
  }
}

/** A read started before its result is awaited: its failure is seen where it is awaited, never as unhandled. */
function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Waits for a tag under way to land (or fail), so that no later tag of this delivery is overtaken by it. */
async function settled(tagging: Promise<void> | undefined): Promise<void> {
  await tagging?.catch(() => undefined);
}

async function discard(reading: Promise<Plaintext>): Promise<void> {
  try {
    const plaintext = await reading;
    if ('object' in plaintext) {
      plaintext.object.body.destroy();
      await plaintext.object.dispose?.();
    }
  } catch {
    // the registration's failure is the one to report
  }
}

const warmBatches = new WeakMap<IntakeStore, { keys: KeyWrapper; batches: OpenBatches }>();

/** This warm container's open batches: one cache per store and key wrapper (built once per container). */
function openBatchesOf(deps: IntakeDeps): OpenBatches {
  let warm = warmBatches.get(deps.store);
  if (!warm || warm.keys !== deps.keys) {
    warm = {
      keys: deps.keys,
      batches: new OpenBatches(deps.keys, { recheckMs: OPEN_BATCH_RECHECK_MS, idleKeyMs: IDLE_KEY_MS, maxTenants: MAX_CACHED_TENANTS }),
    };
    warmBatches.set(deps.store, warm);
  }
  return warm.batches;
}

/** Registers the video in the tenant's open batch with room, moving on (and creating one) when it is closed or full. */
async function joinOpenBatch(tenant: string, videoId: string, bytes: number, deps: IntakeDeps, now: () => Date): Promise<Registration> {
  const batches = openBatchesOf(deps);
  const limits = { maxItems: deps.limits.batchMaxItems, maxBytes: deps.limits.batchMaxBytes };
  const source = { pointed: (t: string) => deps.store.getOpenBatchId(t), resolve: (t: string) => openBatchOf(t, deps, now) };
  for (let hop = 0; hop < MAX_BATCH_HOPS; hop++) {
    const { batch, key } = await batches.current(tenant, source);
    let joined: JoinOutcome;
    try {
      joined = await deps.store.joinBatch(batch.batchId, videoId, bytes, limits, now().getTime());
    } catch (error) {
      key.fill(0);
      throw error;
    }
    if (joined.outcome === 'registered' || joined.outcome === 'already_registered') {
      if (joined.outcome === 'registered' && joined.nowFull && batches.drop(tenant, batch.batchId)) {
        await deps.store.clearOpenBatch(tenant, batch.batchId);
      }
      return { batch, key, startedAtMs: joined.startedAtMs, adopted: joined.outcome === 'already_registered' };
    }
    key.fill(0);
    if (batches.drop(tenant, batch.batchId)) await deps.store.clearOpenBatch(tenant, batch.batchId);
  }
  throw new RetryableError('could not join an open batch');
}

/**
 * The tenant's pointed batch, or a new one (its key, containers and close timer made first). A batch pointed at by
 * another intake is given a moment to appear before this one makes it too, so that a burst that fills a batch does
 * not make the next one's containers once per intake.
 */
async function openBatchOf(tenant: string, deps: IntakeDeps, now: () => Date): Promise<{ batch: BatchRecord; key?: Buffer }> {
  const proposed = randomUUID().replace(/-/g, '');
  const pointed = (await deps.store.getOpenBatchId(tenant)) ?? (await deps.store.pointOpenBatch(tenant, proposed));
  for (const waitMs of pointed === proposed ? [] : [0, ...BATCH_APPEARS_WITHIN_MS]) {
    if (waitMs > 0) await sleep(waitMs);
    const stored = await deps.store.getBatch(pointed);
    if (stored) return { batch: stored };
  }
  await ensureContainers(deps.swift, `${deps.containerPrefix}${pointed}`);
  const key = generateBatchKey();
  try {
    const wrappedKey = await deps.keys.wrap(key, { tenant, batchId: pointed });
    const created = await deps.store.createBatch({
      batchId: pointed,
      tenant,
      state: 'open',
      container: `${deps.containerPrefix}${pointed}`,
      wrappedKey,
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
    if (created.wrappedKey === wrappedKey) return { batch: created, key };
    key.fill(0);
    return { batch: created };
  } catch (error) {
    key.fill(0);
    throw error;
  }
}

/** A batch's containers are made when the batch is, and again on a retry in case they went missing. */
async function ensureContainers(swift: SwiftStore, container: string, signal?: AbortSignal): Promise<void> {
  await swift.createContainer(container, { signal });
  await swift.createContainer(segmentsContainerOf(container), { signal });
}
