/**
 * What sync-status and status-api need from the table.
 *
 * sync-status reads only the sparse `active` index under JOB#ACTIVE (submitted batches); every write is a
 * conditional update on the batch row: still `submitted`, still the same job, and `observedAtMs` growing, so a
 * slower, older poll never overwrites a newer state. A terminal write also leaves the index (REMOVE gsi2pk, gsi2sk).
 *
 * status-api reads single rows and the tenant's batches newest first (byTenant, TENANT#<t>#BATCHES).
 */
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { ACTIVE_JOBS } from '#lib/store/batch-store.js';
import { INDEX, isConditionFailure, keys, stripKeys } from '#lib/store/table.js';
import type { BatchRecord, JobState, VideoRecord } from '#lib/store/records.js';

export type Cursor = Record<string, unknown>;

export interface ObservationWrite {
  batchId: string;
  jobId: string;
  observedAtMs: number;
  jobState: JobState;
  /** Ends polling: the batch becomes `completed` or `failed` and leaves the active index. */
  terminal?: { state: 'completed' | 'failed'; reason?: string; shredKey: boolean };
  notFoundCount?: number;
}

export interface StaleWrite {
  batchId: string;
  jobId: string;
  observedAtMs: number;
  staleSince: string;
  pollFailures: number;
  nextPollAtMs: number;
  notFoundCount?: number;
}

export interface JobStatusStore {
  activeJobs(limit: number, cursor?: Cursor): Promise<{ batches: BatchRecord[]; cursor?: Cursor }>;
  /** False when the row moved on (terminal already, or a newer observation is stored). */
  recordObservation(write: ObservationWrite): Promise<boolean>;
  /** Keeps the last known state and only marks it stale; false as above. */
  recordUnreachable(write: StaleWrite): Promise<boolean>;
  getBatch(batchId: string): Promise<BatchRecord | undefined>;
  getVideo(videoId: string): Promise<VideoRecord | undefined>;
  /** The video ids the batch's workload listed (its sealed videos). */
  batchItemIds(batchId: string): Promise<string[]>;
  tenantBatches(tenant: string, limit: number, cursor?: Cursor): Promise<{ batches: BatchRecord[]; cursor?: Cursor }>;
}

const tenantBatchesKey = (tenant: string) => `TENANT#${tenant}#BATCHES`;

export class DynamoJobStatusStore implements JobStatusStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async activeJobs(limit: number, cursor?: Cursor) {
    const answer = await this.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX.active,
        KeyConditionExpression: 'gsi2pk = :active',
        ExpressionAttributeValues: { ':active': ACTIVE_JOBS },
        Limit: limit,
        ExclusiveStartKey: cursor,
      }),
    );
    return { batches: (answer.Items ?? []).map((item) => stripKeys<BatchRecord>(item)), cursor: answer.LastEvaluatedKey };
  }

  async tenantBatches(tenant: string, limit: number, cursor?: Cursor) {
    const answer = await this.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX.byTenant,
        KeyConditionExpression: 'gsi3pk = :tenant',
        ExpressionAttributeValues: { ':tenant': tenantBatchesKey(tenant) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: cursor,
      }),
    );
    return { batches: (answer.Items ?? []).map((item) => stripKeys<BatchRecord>(item)), cursor: answer.LastEvaluatedKey };
  }

  async getBatch(batchId: string) {
    const { Item } = await this.send(new GetCommand({ TableName: this.tableName, Key: keys.batch(batchId) }));
    return Item ? stripKeys<BatchRecord>(Item) : undefined;
  }

  async getVideo(videoId: string) {
    const { Item } = await this.send(new GetCommand({ TableName: this.tableName, Key: keys.video(videoId) }));
    return Item ? stripKeys<VideoRecord>(Item) : undefined;
  }

  async batchItemIds(batchId: string) {
    const ids: string[] = [];
    let cursor: Cursor | undefined;
    do {
      const answer = await this.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: INDEX.byBatch,
          KeyConditionExpression: 'gsi1pk = :batch',
          FilterExpression: 'stage = :sealed',
          ProjectionExpression: 'videoId',
          ExpressionAttributeValues: { ':batch': `BATCH#${batchId}`, ':sealed': 'sealed' },
          ExclusiveStartKey: cursor,
        }),
      );
      for (const item of answer.Items ?? []) if (typeof item.videoId === 'string') ids.push(item.videoId);
      cursor = answer.LastEvaluatedKey;
    } while (cursor);
    return ids;
  }

  recordObservation(write: ObservationWrite) {
    const sets = ['jobState = :jobState', 'observedAtMs = :t', 'observedAt = :at', 'pollFailures = :zero'];
    const removes = ['staleSince', 'nextPollAtMs'];
    const values: Record<string, unknown> = { ':jobState': write.jobState, ':t': write.observedAtMs, ':at': new Date(write.observedAtMs).toISOString(), ':zero': 0 };
    if (write.notFoundCount !== undefined) {
      sets.push('notFoundCount = :nf');
      values[':nf'] = write.notFoundCount;
    } else removes.push('notFoundCount');
    if (write.terminal) {
      sets.push('#state = :final');
      values[':final'] = write.terminal.state;
      removes.push('gsi2pk', 'gsi2sk');
      if (write.terminal.reason) {
        sets.push('reason = :reason');
        values[':reason'] = write.terminal.reason;
      }
      if (write.terminal.shredKey) {
        removes.push('wrappedKey');
        sets.push('keyShreddedAt = :at');
      }
    }
    return this.conditionalUpdate(write.batchId, write.jobId, write.observedAtMs, `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`, values);
  }

  recordUnreachable(write: StaleWrite) {
    const values: Record<string, unknown> = {
      ':t': write.observedAtMs,
      ':since': write.staleSince,
      ':failures': write.pollFailures,
      ':next': write.nextPollAtMs,
    };
    let expression = 'SET observedAtMs = :t, staleSince = if_not_exists(staleSince, :since), pollFailures = :failures, nextPollAtMs = :next';
    if (write.notFoundCount !== undefined) {
      expression += ', notFoundCount = :nf';
      values[':nf'] = write.notFoundCount;
    }
    return this.conditionalUpdate(write.batchId, write.jobId, write.observedAtMs, expression, values);
  }

  private async conditionalUpdate(batchId: string, jobId: string, observedAtMs: number, expression: string, values: Record<string, unknown>) {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: expression,
          ConditionExpression: '#state = :submitted AND jobId = :jobId AND (attribute_not_exists(observedAtMs) OR observedAtMs < :t)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ...values, ':submitted': 'submitted', ':jobId': jobId, ':t': observedAtMs },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw new RetryableError('table write failed', { cause: error });
    }
  }

  private async send(command: QueryCommand | GetCommand): Promise<{ Items?: Record<string, unknown>[]; Item?: Record<string, unknown>; LastEvaluatedKey?: Cursor }> {
    try {
      return (await this.doc.send(command as QueryCommand)) as never;
    } catch (error) {
      throw new RetryableError('table read failed', { cause: error });
    }
  }
}
