/**
 * What sync-status and status-api need from the table.
 *
 * sync-status reads only the `active` index's jobs (submitted batches); every write is a conditional update on
 * the batch row: still `submitted`, still the same job, and `observedAtMs` growing, so a slower, older poll never
 * overwrites a newer state. A terminal write also takes the batch out of the active index.
 *
 * status-api reads single rows (a video also by its source object: lib/store/source-lookup.ts), and the tenant's
 * batches newest first a page at a time, behind opaque cursors bound to the tenant (lib/store/page-cursor.ts).
 */
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { ACTIVE_JOBS, INDEX, keys, LEAVE_ACTIVE, partitions } from './keys.js';
import { decodeBatchCursor, encodeBatchCursor } from './page-cursor.js';
import type { BatchRecord, JobState, VideoRecord } from './records.js';
import { getBatch, getVideo, type RowReader } from './rows.js';
import type { SourceNameSealer } from '#lib/source-names.js';
import { videoIdOfSource } from './source-lookup.js';
import { isConditionFailure, stripKeys } from './table.js';

/** Where a page of the active jobs stopped; only ever handed back to `activeJobs`. */
export type ActiveJobsPosition = Record<string, unknown>;

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
  activeJobs(limit: number, after?: ActiveJobsPosition): Promise<{ batches: BatchRecord[]; cursor?: ActiveJobsPosition }>;
  /** False when the row moved on (terminal already, or a newer observation is stored). */
  recordObservation(write: ObservationWrite): Promise<boolean>;
  /** Keeps the last known state and only marks it stale; false as above. */
  recordUnreachable(write: StaleWrite): Promise<boolean>;
  getBatch(batchId: string): Promise<BatchRecord | undefined>;
  getVideo(videoId: string): Promise<VideoRecord | undefined>;
  /** The video of the latest object the intake recorded under the tenant's source key (lib/store/source-lookup.ts). */
  videoIdOfSource(tenant: string, sourceKey: string): Promise<string | undefined>;
  /** The video ids the batch's workload listed (its sealed videos). */
  batchItemIds(batchId: string): Promise<string[]>;
  /**
   * The tenant's batches, newest first; `cursor` continues after the page that returned it. A cursor that is not
   * one this store gave the same tenant throws InvalidCursor.
   */
  tenantBatches(tenant: string, limit: number, cursor?: string): Promise<{ batches: BatchRecord[]; cursor?: string }>;
}

export class DynamoJobStatusStore implements JobStatusStore {
  private readonly rows: RowReader;

  /** `sourceNames`: the key the intake filed source objects under (lib/store/source-lookup.ts), if it had one. */
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: { sourceNames?: SourceNameSealer } = {},
  ) {
    this.rows = { doc, tableName };
  }

  async activeJobs(limit: number, after?: ActiveJobsPosition) {
    const answer = await this.query({
      IndexName: INDEX.active,
      KeyConditionExpression: 'gsi2pk = :active',
      ExpressionAttributeValues: { ':active': ACTIVE_JOBS },
      Limit: limit,
      ExclusiveStartKey: after,
    });
    return { batches: (answer.Items ?? []).map((item) => stripKeys<BatchRecord>(item)), cursor: answer.LastEvaluatedKey };
  }

  async tenantBatches(tenant: string, limit: number, cursor?: string) {
    const answer = await this.query({
      IndexName: INDEX.byTenant,
      KeyConditionExpression: 'gsi3pk = :tenant',
      ExpressionAttributeValues: { ':tenant': partitions.tenantBatches(tenant) },
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: cursor === undefined ? undefined : decodeBatchCursor(tenant, cursor),
    });
    const batches = (answer.Items ?? []).map((item) => stripKeys<BatchRecord>(item));
    return { batches, cursor: answer.LastEvaluatedKey ? encodeBatchCursor(tenant, answer.LastEvaluatedKey) : undefined };
  }

  getBatch(batchId: string) {
    return getBatch(this.rows, batchId);
  }

  getVideo(videoId: string) {
    return getVideo(this.rows, videoId);
  }

  videoIdOfSource(tenant: string, sourceKey: string) {
    return videoIdOfSource(this.rows, tenant, sourceKey, this.options.sourceNames);
  }

  async batchItemIds(batchId: string) {
    const ids: string[] = [];
    let after: Record<string, unknown> | undefined;
    do {
      const answer = await this.query({
        IndexName: INDEX.byBatch,
        KeyConditionExpression: 'gsi1pk = :batch',
        FilterExpression: 'stage = :sealed',
        ProjectionExpression: 'videoId',
        ExpressionAttributeValues: { ':batch': partitions.batchVideos(batchId), ':sealed': 'sealed' },
        ExclusiveStartKey: after,
      });
      for (const item of answer.Items ?? []) if (typeof item.videoId === 'string') ids.push(item.videoId);
      after = answer.LastEvaluatedKey;
    } while (after);
    return ids;
  }

  recordObservation(write: ObservationWrite) {
    const sets = ['jobState = :jobState', 'observedAtMs = :t', 'observedAt = :at', 'pollFailures = :zero'];
    const removes = ['staleSince', 'nextPollAtMs'];
    const values: Record<string, unknown> = {
      ':jobState': write.jobState,
      ':t': write.observedAtMs,
      ':at': new Date(write.observedAtMs).toISOString(),
      ':zero': 0,
    };
    if (write.notFoundCount !== undefined) {
      sets.push('notFoundCount = :nf');
      values[':nf'] = write.notFoundCount;
    } else removes.push('notFoundCount');
    if (write.terminal) {
      sets.push('#state = :final');
      values[':final'] = write.terminal.state;
      removes.push(...Object.keys(LEAVE_ACTIVE));
      if (write.terminal.reason) {
        sets.push('reason = :reason');
        values[':reason'] = write.terminal.reason;
      }
      if (write.terminal.shredKey) {
        removes.push('wrappedKey');
        sets.push('keyShreddedAt = :at');
      }
    }
    return this.conditionalUpdate(
      write.batchId,
      write.jobId,
      write.observedAtMs,
      `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      values,
    );
  }

  recordUnreachable(write: StaleWrite) {
    const values: Record<string, unknown> = {
      ':t': write.observedAtMs,
      ':since': write.staleSince,
      ':failures': write.pollFailures,
      ':next': write.nextPollAtMs,
    };
    let expression =
      'SET observedAtMs = :t, staleSince = if_not_exists(staleSince, :since), pollFailures = :failures, nextPollAtMs = :next';
    if (write.notFoundCount !== undefined) {
      expression += ', notFoundCount = :nf';
      values[':nf'] = write.notFoundCount;
    }
    return this.conditionalUpdate(write.batchId, write.jobId, write.observedAtMs, expression, values);
  }

  private async conditionalUpdate(
    batchId: string,
    jobId: string,
    observedAtMs: number,
    expression: string,
    values: Record<string, unknown>,
  ) {
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

  private async query(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
    try {
      return await this.doc.send(new QueryCommand({ TableName: this.tableName, ...input }));
    } catch (error) {
      throw new RetryableError('table read failed', { cause: error });
    }
  }
}
