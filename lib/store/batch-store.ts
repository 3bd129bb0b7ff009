/**
 * What the batch closer needs from the table. Every step is a conditional transition on the batch row, so
 * two overlapping runs cannot both take it, and a crash leaves the row in a state the next run continues from:
 *
 *   open ──close──► closing ──workload written──► submitting ──job posted──► submitted
 *                      └──── nothing sealed ────► empty
 *
 * Open and in-progress batches sit in the sparse `active` index among the batches; a submitted batch moves to
 * its jobs (what sync-status polls); terminal ones leave the index (lib/store/keys.ts).
 */
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { ACTIVE_BATCHES, INDEX, keys, partitions } from './keys.js';
import { isConditionFailure, stripKeys } from './table.js';
import type { BatchRecord, VideoRecord } from './records.js';

/** A video recorded sealed in a batch: `sealStartedAtMs` names the registration its seal relied on. */
export type SealedVideo = VideoRecord & { sealStartedAtMs?: number };

/** A registration the closer counts from its video's row. */
export interface RecordedSeal {
  videoId: string;
  startedAtMs: number;
  bytes: number;
}

/** How many registrations one conditional write counts at most (each adds a condition and a REMOVE). */
const SEALS_PER_WRITE = 25;

export interface BatchStore {
  /** Open and in-progress batches, oldest first, a page at a time. */
  activeBatches(limit: number, cursor?: Record<string, unknown>): Promise<{ batches: BatchRecord[]; cursor?: Record<string, unknown> }>;
  /** Sealed videos of a batch, a page at a time. */
  sealedVideos(batchId: string, cursor?: Record<string, unknown>): Promise<{ videos: SealedVideo[]; cursor?: Record<string, unknown> }>;
  /** Moves `state` from `from` to `to`, setting `fields`; false when another run got there first. */
  transition(
    batchId: string,
    from: string,
    to: string,
    fields?: Record<string, unknown>,
    extraCondition?: { expression: string; values: Record<string, unknown> },
  ): Promise<boolean>;
  /** Sets fields while the batch is in `state`; false when it is not. */
  update(
    batchId: string,
    state: string,
    fields: Record<string, unknown>,
    extraCondition?: { expression: string; values: Record<string, unknown> },
  ): Promise<boolean>;
  /** Drops an abandoned in-flight seal, only if it is still the one seen (same start time). */
  dropInflight(batchId: string, videoId: string, startedAtMs: number): Promise<boolean>;
  /**
   * Ends recorded seals' registrations and counts them (sealedItems, sealedBytes), each only if it is still the one
   * seen; returns how many were counted. Many per write; one by one where a write's condition fails.
   */
  countSeals(batchId: string, seals: readonly RecordedSeal[]): Promise<number>;
  /**
   * Gives a stale registration's video up before the registration is dropped: a tombstone row (stage abandoned)
   * naming it, which that registration's own record can no longer overwrite (its intake may still be running).
   * True when the row is now this tombstone; false when the video was recorded first.
   */
  abandonSeal(batch: Pick<BatchRecord, 'batchId' | 'tenant'>, videoId: string, startedAtMs: number, at: string): Promise<boolean>;
}

export class DynamoBatchStore implements BatchStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async query(input: ConstructorParameters<typeof QueryCommand>[0]) {
    try {
      return await this.doc.send(new QueryCommand(input));
    } catch (error) {
      throw new RetryableError('table query failed', { cause: error });
    }
  }

  async activeBatches(limit: number, cursor?: Record<string, unknown>) {
    const answer = await this.query({
      TableName: this.tableName,
      IndexName: INDEX.active,
      KeyConditionExpression: 'gsi2pk = :active',
      ExpressionAttributeValues: { ':active': ACTIVE_BATCHES },
      Limit: limit,
      ExclusiveStartKey: cursor,
    });
    return { batches: (answer.Items ?? []).map((item) => stripKeys<BatchRecord>(item)), cursor: answer.LastEvaluatedKey };
  }

  async sealedVideos(batchId: string, cursor?: Record<string, unknown>) {
    const answer = await this.query({
      TableName: this.tableName,
      IndexName: INDEX.byBatch,
      KeyConditionExpression: 'gsi1pk = :batch',
      FilterExpression: 'stage = :sealed',
      ExpressionAttributeValues: { ':batch': partitions.batchVideos(batchId), ':sealed': 'sealed' },
      ExclusiveStartKey: cursor,
    });
    return { videos: (answer.Items ?? []).map((item) => stripKeys<SealedVideo>(item)), cursor: answer.LastEvaluatedKey };
  }

  async transition(
    batchId: string,
    from: string,
    to: string,
    fields: Record<string, unknown> = {},
    extra?: { expression: string; values: Record<string, unknown> },
  ) {
    return this.write(batchId, { ...fields, state: to }, `#state = :from${extra ? ` AND (${extra.expression})` : ''}`, {
      ':from': from,
      ...extra?.values,
    });
  }

  async update(
    batchId: string,
    state: string,
    fields: Record<string, unknown>,
    extra?: { expression: string; values: Record<string, unknown> },
  ) {
    return this.write(batchId, fields, `#state = :from${extra ? ` AND (${extra.expression})` : ''}`, { ':from': state, ...extra?.values });
  }

  private async write(batchId: string, fields: Record<string, unknown>, condition: string, conditionValues: Record<string, unknown>) {
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, unknown> = { ...conditionValues };
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(fields).forEach(([name, value], i) => {
      names[`#f${i}`] = name;
      if (value === undefined) {
        removes.push(`#f${i}`);
      } else {
        values[`:f${i}`] = value;
        sets.push(`#f${i} = :f${i}`);
      }
    });
    const expression = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : '']
      .filter(Boolean)
      .join(' ');
    return this.updateIf(batchId, { update: expression, condition, names, values });
  }

  /** Updates the batch row if `condition` holds; false when it does not. */
  private async updateIf(
    batchId: string,
    expression: { update: string; condition: string; names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.batch(batchId),
          UpdateExpression: expression.update,
          ConditionExpression: expression.condition,
          ExpressionAttributeNames: expression.names,
          ExpressionAttributeValues: expression.values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw new RetryableError('table write failed', { cause: error });
    }
  }

  async countSeals(batchId: string, seals: readonly RecordedSeal[]) {
    let counted = 0;
    for (let start = 0; start < seals.length; start += SEALS_PER_WRITE) {
      const chunk = seals.slice(start, start + SEALS_PER_WRITE);
      if (await this.countTogether(batchId, chunk)) counted += chunk.length;
      else if (chunk.length > 1) for (const seal of chunk) if (await this.countTogether(batchId, [seal])) counted++;
    }
    return counted;
  }

  private async countTogether(batchId: string, seals: readonly RecordedSeal[]) {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':items': seals.length, ':bytes': seals.reduce((sum, seal) => sum + seal.bytes, 0) };
    seals.forEach((seal, i) => {
      names[`#v${i}`] = seal.videoId;
      values[`:s${i}`] = seal.startedAtMs;
    });
    const slots = seals.map((_, i) => i);
    return this.updateIf(batchId, {
      update: `REMOVE ${slots.map((i) => `inflight.#v${i}`).join(', ')} ADD sealedItems :items, sealedBytes :bytes`,
      condition: slots.map((i) => `inflight.#v${i} = :s${i}`).join(' AND '),
      names,
      values,
    });
  }

  async abandonSeal(batch: Pick<BatchRecord, 'batchId' | 'tenant'>, videoId: string, startedAtMs: number, at: string) {
    const tombstone = { videoId, tenant: batch.tenant, stage: 'abandoned', batchId: batch.batchId, sealStartedAtMs: startedAtMs };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.video(videoId), ...tombstone, receivedAt: at, updatedAt: at },
          ConditionExpression: 'attribute_not_exists(pk) OR stage = :abandoned',
          ExpressionAttributeValues: { ':abandoned': 'abandoned' },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw new RetryableError('table write failed', { cause: error });
    }
  }

  dropInflight(batchId: string, videoId: string, startedAtMs: number) {
    return this.updateIf(batchId, {
      update: 'REMOVE inflight.#video',
      condition: 'inflight.#video = :started',
      names: { '#video': videoId },
      values: { ':started': startedAtMs },
    });
  }
}
