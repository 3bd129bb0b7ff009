/**
 * What the intake needs from the table: conditional single-item writes (dynalite has no transactions).
 *
 * A new video takes two writes in the common case (its tenant's open batch known to the container):
 *   1. `joinBatch`     batch row: inflight[v] = startedAtMs, claims += 1, claimedBytes += size, lastActivityMs = now
 *                      IF state = open AND v not in flight AND (claims = 0 OR (claims < maxItems AND claimedBytes <= maxBytes − size))
 *   2. `recordSealed`  video row: stage sealed, batchId, object name, sealedBytes, sealStartedAtMs
 *                      IF the row does not exist (or is a `sealing` row of an older intake, or the closer's tombstone
 *                      of another registration)                                                     — after its object is in Swift
 * The registration then stays in flight until the batch closer counts it from the row (lib/batch/close.ts
 * `settleInflight`: one index query per batch, then `countSeals`, a write per 25 registrations: remove inflight[v],
 * sealedItems += 1, sealedBytes += n, IF inflight[v] = the row's sealStartedAtMs). There is no video row before the
 * seal: `recordSealed` failing is what says "duplicate" (then, and only then, the row is read).
 *
 * Invariants, and the write that guards each:
 * - **Idempotent under duplicate and concurrent deliveries** (one sealed object, one video row, counted once):
 *   `recordSealed`'s condition lets exactly one delivery record the video, and a recorded video never changes batch.
 *   Every registration is settled exactly once, conditionally on inflight[v] still holding that very registration:
 *   the one the row names (`sealStartedAtMs`) is counted (by the closer, or `finishSeal` by a duplicate delivery
 *   that adopted it), any other is released (`releaseSeal`: claims −1, claimedBytes −size). A delivery that adopts
 *   a registration (`already_registered`) whose video is recorded settles it without uploading again. A loser's
 *   object in another batch is deleted.
 * - **Nothing lost in a crash between any two steps**: a registration stays in flight until it is settled, so the
 *   closer waits for it; the retry finds it (`joinBatch` answers `already_registered` with its startedAtMs) and goes
 *   on under it. A registration the closer finds stale (its intake seems dead) is given up with a tombstone row
 *   (`abandonSeal`: stage abandoned, naming it) before it is dropped, so a delivery still sealing under it cannot
 *   record the video into a batch that no longer waits for it: its `recordSealed` fails, and its retry seals under
 *   a new registration, which may replace the tombstone. The video row is written only after its object is in
 *   Swift, so a row the closer counts always has its object, and the closer writes the workload only once inflight
 *   is empty and the index lists as many sealed rows as the batch counted.
 * - **Batch caps**: `joinBatch`'s condition on claims and claimedBytes (the first video is always admitted).
 * - **No video sealed with a closed batch's key**: `joinBatch` requires state = open, the closer's open → closing is
 *   conditional on the same row, and the closer writes the workload only once inflight is empty; a cached open batch
 *   is therefore only a guess, which this write confirms or refutes.
 * - **Rejections never overwrite a seal**: `rejectVideo` writes only a missing (or `sealing`, or tombstone) row.
 */
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { batchIndexKeys, keys, videoIndexKeys } from './keys.js';
import type { SourceNameSealer } from '#lib/source-names.js';
import { getRow, type RowReader } from './rows.js';
import { sourceAttributes, type VideoSource } from './source-lookup.js';
import { isConditionFailure } from './table.js';
import type { BatchRecord, VideoRecord } from './records.js';

export type RegisterOutcome = 'registered' | 'already_registered' | 'not_open' | 'full';

/**
 * The outcome of joining a batch. `startedAtMs` is the registration's value in inflight[v], which a delivery
 * names when it settles: a fresh one for `registered`, the one found for `already_registered`. `nowFull`: this
 * registration filled the batch, so the next video needs another one.
 */
export type JoinOutcome =
  | { outcome: 'registered'; startedAtMs: number; nowFull: boolean }
  | { outcome: 'already_registered'; startedAtMs: number }
  | { outcome: 'not_open' | 'full' };

/** A video row as the intake writes it: a sealed one names the registration its seal relied on. */
export interface IntakeVideo extends VideoRecord {
  sealStartedAtMs?: number;
}

export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
}

export interface IntakeStore {
  getVideo(videoId: string): Promise<IntakeVideo | undefined>;
  /** Records a sealed video unless it is recorded already (false). Its object must be in Swift. */
  recordSealed(video: IntakeVideo & { stage: 'sealed'; batchId: string; sealStartedAtMs: number }, source?: VideoSource): Promise<boolean>;
  /** Records a rejection (or a superseded source) unless the video is recorded already (false). */
  rejectVideo(video: VideoRecord & { stage: 'rejected' | 'superseded' }, source?: VideoSource): Promise<boolean>;
  getOpenBatchId(tenant: string): Promise<string | undefined>;
  /** Points the tenant at `batchId` unless another batch is pointed at already; returns the winner. */
  pointOpenBatch(tenant: string, batchId: string): Promise<string>;
  clearOpenBatch(tenant: string, batchId: string): Promise<void>;
  getBatch(batchId: string): Promise<BatchRecord | undefined>;
  /** Creates the batch unless it exists; returns the stored one. */
  createBatch(batch: BatchRecord): Promise<BatchRecord>;
  /** Registers a seal of `videoId` in the open batch, within its caps. */
  joinBatch(batchId: string, videoId: string, bytes: number, limits: BatchLimits, nowMs: number): Promise<JoinOutcome>;
  /** `joinBatch`, answering only the outcome. */
  registerSeal(batchId: string, videoId: string, bytes: number, limits: BatchLimits, nowMs: number): Promise<RegisterOutcome>;
  /**
   * Ends an in-flight seal; with `sealed`, counts it and records the activity time (the quiet-period close starts
   * then). With `startedAtMs`, only that registration. False when it was not in flight.
   */
  finishSeal(batchId: string, videoId: string, sealed?: { bytes: number; atMs?: number }, startedAtMs?: number): Promise<boolean>;
  /** Withdraws a registration that sealed nothing: claims −1, claimedBytes −bytes. False when it was not in flight. */
  releaseSeal(batchId: string, videoId: string, bytes: number, startedAtMs: number): Promise<boolean>;
}

async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw new RetryableError('table write failed', { cause: error });
  }
}

/**
 * A registration's value: its start time in epoch ms (the closer's staleness clock) with a random sub-millisecond
 * part, so that two registrations of one video in one batch never hold the same value.
 */
function registrationValue(nowMs: number): number {
  return Math.floor(nowMs) + (1 + Math.floor(Math.random() * 999)) / 1000;
}

export class DynamoIntakeStore implements IntakeStore {
  private readonly reader: RowReader;

  /** `sourceNames`: seals each video's source name onto its row and keys its index entry (lib/source-names.ts). */
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: { sourceNames?: SourceNameSealer } = {},
  ) {
    this.reader = { doc, tableName, consistent: true };
  }

  private sourceOf(videoId: string, source: VideoSource | undefined) {
    return source ? sourceAttributes(videoId, source, this.options.sourceNames) : {};
  }

  getVideo(videoId: string) {
    return getRow<IntakeVideo>(this.reader, keys.video(videoId));
  }

  getBatch(batchId: string) {
    return getRow<BatchRecord>(this.reader, keys.batch(batchId));
  }

  async getOpenBatchId(tenant: string) {
    return (await getRow<{ batchId: string }>(this.reader, keys.openBatch(tenant)))?.batchId;
  }

  recordSealed(video: IntakeVideo & { stage: 'sealed'; batchId: string; sealStartedAtMs: number }, source?: VideoSource) {
    return conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.video(video.videoId), ...video, ...videoIndexKeys(video), ...this.sourceOf(video.videoId, source) },
          ConditionExpression: 'attribute_not_exists(pk) OR stage = :sealing OR (stage = :abandoned AND sealStartedAtMs <> :started)',
          ExpressionAttributeValues: { ':sealing': 'sealing', ':abandoned': 'abandoned', ':started': video.sealStartedAtMs },
        }),
      ),
    );
  }

  rejectVideo(video: VideoRecord & { stage: 'rejected' | 'superseded' }, source?: VideoSource) {
    return conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.video(video.videoId),
            ...video,
            ...videoIndexKeys({ ...video, batchId: undefined }),
            ...this.sourceOf(video.videoId, source),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR stage IN (:sealing, :abandoned)',
          ExpressionAttributeValues: { ':sealing': 'sealing', ':abandoned': 'abandoned' },
        }),
      ),
    );
  }

  async pointOpenBatch(tenant: string, batchId: string): Promise<string> {
    const won = await conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.openBatch(tenant), batchId },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (won) return batchId;
    return (await this.getOpenBatchId(tenant)) ?? this.pointOpenBatch(tenant, batchId);
  }

  async clearOpenBatch(tenant: string, batchId: string) {
    await conditional(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.openBatch(tenant),
          ConditionExpression: 'batchId = :batchId',
          ExpressionAttributeValues: { ':batchId': batchId },
        }),
      ),
    );
  }

  async createBatch(batch: BatchRecord) {
    const created = await conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.batch(batch.batchId), ...batch, ...batchIndexKeys(batch) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (created) return batch;
    const stored = await this.getBatch(batch.batchId);
    if (!stored) throw new RetryableError('batch vanished after creation');
    return stored;
  }

  async joinBatch(batchId: string, videoId: string, bytes: number, limits: BatchLimits, nowMs: number): Promise<JoinOutcome> {
    const startedAtMs = registrationValue(nowMs);
    let after: Record<string, unknown> | undefined;
    const registered = await conditional(async () => {
      const answer = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: 'SET inflight.#video = :started, lastActivityMs = :now ADD claims :one, claimedBytes :bytes',
          ConditionExpression:
            '#state = :open AND attribute_not_exists(inflight.#video) AND (claims = :zero OR (claims < :maxItems AND claimedBytes <= :room))',
          ExpressionAttributeNames: { '#state': 'state', '#video': videoId },
          ExpressionAttributeValues: {
            ':started': startedAtMs,
            ':now': nowMs,
            ':one': 1,
            ':bytes': bytes,
            ':open': 'open',
            ':zero': 0,
            ':maxItems': limits.maxItems,
            ':room': limits.maxBytes - bytes,
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      after = answer.Attributes;
    });
    if (registered) {
      const claims = Number(after?.claims ?? 0);
      const claimedBytes = Number(after?.claimedBytes ?? 0);
      return { outcome: 'registered', startedAtMs, nowFull: claims >= limits.maxItems || claimedBytes >= limits.maxBytes };
    }
    const batch = await this.getBatch(batchId);
    if (!batch) return { outcome: 'not_open' };
    const inflight = batch.inflight?.[videoId];
    if (inflight !== undefined) return { outcome: 'already_registered', startedAtMs: inflight };
    return { outcome: batch.state === 'open' ? 'full' : 'not_open' };
  }

  async registerSeal(batchId: string, videoId: string, bytes: number, limits: BatchLimits, nowMs: number): Promise<RegisterOutcome> {
    return (await this.joinBatch(batchId, videoId, bytes, limits, nowMs)).outcome;
  }

  finishSeal(batchId: string, videoId: string, sealed?: { bytes: number; atMs?: number }, startedAtMs?: number) {
    const activity = sealed?.atMs !== undefined ? 'SET lastActivityMs = :at ' : '';
    const values = {
      ...(sealed ? { ':one': 1, ':bytes': sealed.bytes } : {}),
      ...(sealed?.atMs !== undefined ? { ':at': sealed.atMs } : {}),
      ...(startedAtMs !== undefined ? { ':started': startedAtMs } : {}),
    };
    return conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: sealed
            ? `${activity}REMOVE inflight.#video ADD sealedItems :one, sealedBytes :bytes`
            : 'REMOVE inflight.#video',
          ConditionExpression: startedAtMs === undefined ? 'attribute_exists(inflight.#video)' : 'inflight.#video = :started',
          ExpressionAttributeNames: { '#video': videoId },
          ExpressionAttributeValues: Object.keys(values).length > 0 ? values : undefined,
        }),
      ),
    );
  }

  releaseSeal(batchId: string, videoId: string, bytes: number, startedAtMs: number) {
    return conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: 'REMOVE inflight.#video ADD claims :minusOne, claimedBytes :minusBytes',
          ConditionExpression: 'inflight.#video = :started',
          ExpressionAttributeNames: { '#video': videoId },
          ExpressionAttributeValues: { ':minusOne': -1, ':minusBytes': -bytes, ':started': startedAtMs },
        }),
      ),
    );
  }
}
