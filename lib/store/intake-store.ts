/**
 * What the intake needs from the table, as conditional single-item writes:
 * claiming a video into a batch, counting in-flight seals, and recording outcomes.
 */
import { GetCommand, PutCommand, UpdateCommand, DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { keys } from './keys.js';
import { isConditionFailure, stripKeys } from './table.js';
import type { BatchRecord, VideoRecord } from './records.js';
import { getBatch, getVideo } from './rows.js';

export type RegisterOutcome = 'registered' | 'already_registered' | 'not_open' | 'full';

export interface IntakeStore {
  getVideo(videoId: string): Promise<VideoRecord | undefined>;
  /** Puts the video in `sealing` for `batchId`, if it is new or still sealing elsewhere. False when it moved on. */
  claimVideo(video: VideoRecord, previousBatchId?: string): Promise<boolean>;
  markSealed(videoId: string, batchId: string, sealed: { container: string; objectName: string; sealedBytes: number; at: string }): Promise<boolean>;
  /** Records a rejection (or a superseded source) unless the video already got further than sealing. */
  rejectVideo(video: VideoRecord & { stage: 'rejected' | 'superseded' }): Promise<void>;
  getOpenBatchId(tenant: string): Promise<string | undefined>;
  /** Points the tenant at `batchId` unless another batch is pointed at already; returns the winner. */
  pointOpenBatch(tenant: string, batchId: string): Promise<string>;
  clearOpenBatch(tenant: string, batchId: string): Promise<void>;
  getBatch(batchId: string): Promise<BatchRecord | undefined>;
  /** Creates the batch unless it exists; returns the stored one. */
  createBatch(batch: BatchRecord): Promise<BatchRecord>;
  registerSeal(batchId: string, videoId: string, bytes: number, limits: { maxItems: number; maxBytes: number }, nowMs: number): Promise<RegisterOutcome>;
  /** Ends an in-flight seal; counts it when `sealedBytes` is given. False when it was not in flight. */
  /** Ends a seal; with `sealed`, counts it and records the activity time (the quiet-period close starts then). */
  finishSeal(batchId: string, videoId: string, sealed?: { bytes: number; atMs?: number }): Promise<boolean>;
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


export class DynamoIntakeStore implements IntakeStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async get<T>(key: Record<string, string>): Promise<T | undefined> {
    try {
      const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      return Item ? stripKeys<T>(Item) : undefined;
    } catch (error) {
      throw new RetryableError('table read failed', { cause: error });
    }
  }

  getVideo(videoId: string) {
    return getVideo({ doc: this.doc, tableName: this.tableName, consistent: true }, videoId);
  }

  getBatch(batchId: string) {
    return getBatch({ doc: this.doc, tableName: this.tableName, consistent: true }, batchId);
  }

  async getOpenBatchId(tenant: string) {
    return (await this.get<{ batchId: string }>(keys.openBatch(tenant)))?.batchId;
  }

  claimVideo(video: VideoRecord, previousBatchId?: string) {
    const item = {
      ...keys.video(video.videoId),
      ...video,
      gsi1pk: `BATCH#${video.batchId}`,
      gsi1sk: `VIDEO#${video.videoId}`,
      gsi3pk: `TENANT#${video.tenant}#VIDEOS`,
      gsi3sk: `${video.receivedAt}#${video.videoId}`,
    };
    return conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: previousBatchId
            ? 'stage = :sealing AND batchId = :previous'
            : 'attribute_not_exists(pk)',
          ExpressionAttributeValues: previousBatchId ? { ':sealing': 'sealing', ':previous': previousBatchId } : undefined,
        }),
      ),
    );
  }

  markSealed(videoId: string, batchId: string, sealed: { container: string; objectName: string; sealedBytes: number; at: string }) {
    return conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.video(videoId),
          UpdateExpression:
            'SET stage = :sealed, container = :container, objectName = :objectName, sealedBytes = :sealedBytes, sealedAt = :at, updatedAt = :at',
          ConditionExpression: 'stage = :sealing AND batchId = :batchId',
          ExpressionAttributeValues: {
            ':sealed': 'sealed',
            ':sealing': 'sealing',
            ':batchId': batchId,
            ':container': sealed.container,
            ':objectName': sealed.objectName,
            ':sealedBytes': sealed.sealedBytes,
            ':at': sealed.at,
          },
        }),
      ),
    );
  }

  async rejectVideo(video: VideoRecord & { stage: 'rejected' | 'superseded' }) {
    await conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.video(video.videoId),
            ...video,
            gsi3pk: `TENANT#${video.tenant}#VIDEOS`,
            gsi3sk: `${video.receivedAt}#${video.videoId}`,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR stage = :sealing',
          ExpressionAttributeValues: { ':sealing': 'sealing' },
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
    await conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.batch(batch.batchId),
            ...batch,
            gsi2pk: 'BATCH#ACTIVE',
            gsi2sk: `${batch.createdAt}#${batch.batchId}`,
            gsi3pk: `TENANT#${batch.tenant}#BATCHES`,
            gsi3sk: `${batch.createdAt}#${batch.batchId}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    const stored = await this.getBatch(batch.batchId);
    if (!stored) throw new RetryableError('batch vanished after creation');
    return stored;
  }

  async registerSeal(batchId: string, videoId: string, bytes: number, limits: { maxItems: number; maxBytes: number }, nowMs: number): Promise<RegisterOutcome> {
    const registered = await conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: 'SET inflight.#video = :now, lastActivityMs = :now ADD claims :one, claimedBytes :bytes',
          ConditionExpression:
            '#state = :open AND attribute_not_exists(inflight.#video) AND (claims = :zero OR (claims < :maxItems AND claimedBytes <= :room))',
          ExpressionAttributeNames: { '#state': 'state', '#video': videoId },
          ExpressionAttributeValues: {
            ':now': nowMs,
            ':one': 1,
            ':bytes': bytes,
            ':open': 'open',
            ':zero': 0,
            ':maxItems': limits.maxItems,
            ':room': limits.maxBytes - bytes,
          },
        }),
      ),
    );
    if (registered) return 'registered';
    const batch = await this.getBatch(batchId);
    if (!batch) return 'not_open';
    if (batch.inflight[videoId] !== undefined) return 'already_registered';
    return batch.state === 'open' ? 'full' : 'not_open';
  }

  finishSeal(batchId: string, videoId: string, sealed?: { bytes: number; atMs?: number }) {
    const activity = sealed?.atMs !== undefined ? 'SET lastActivityMs = :at ' : '';
    return conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: sealed ? `${activity}REMOVE inflight.#video ADD sealedItems :one, sealedBytes :bytes` : 'REMOVE inflight.#video',
          ConditionExpression: 'attribute_exists(inflight.#video)',
          ExpressionAttributeNames: { '#video': videoId },
          ExpressionAttributeValues: sealed
            ? { ':one': 1, ':bytes': sealed.bytes, ...(sealed.atMs !== undefined ? { ':at': sealed.atMs } : {}) }
            : undefined,
        }),
      ),
    );
  }
}

