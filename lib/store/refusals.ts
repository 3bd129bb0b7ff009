/**
 * The PACS hook's refusals, per tenant, so a hospital can see why an instance was refused (Orthanc shows only
 * "HTTP status 409"). One item per refusal in the tenant's refusal partition, sorted by time (lib/store/keys.ts):
 * route, SOPInstanceUID (validated UIDs only), reason code, status.
 * They expire through the table's TTL attribute `expiresAt` (DynamoDB deletes them within days of it).
 * Holds no object name, tag value or credential.
 */
import { randomBytes } from 'node:crypto';
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { keys, partitions } from './keys.js';

export interface RefusalEntry {
  route: 'stow' | 'instances' | 'uploads';
  sopInstanceUid?: string;
  reason: string;
  status: number;
}

export interface Refusal extends RefusalEntry {
  at: string;
}

export interface RefusalLog {
  record(tenant: string, refusals: RefusalEntry[]): Promise<void>;
  /** The tenant's latest refusals, newest first. */
  recent(tenant: string, limit: number): Promise<Refusal[]>;
}

/** Refusals kept per request: a STOW of many bad parts records its first ones. */
export const MAX_REFUSALS_PER_REQUEST = 100;

export class DynamoRefusalLog implements RefusalLog {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: { keepDays: number; now?: () => Date } = { keepDays: 30 },
  ) {}

  async record(tenant: string, refusals: RefusalEntry[]): Promise<void> {
    const now = (this.options.now ?? (() => new Date()))();
    const at = now.toISOString();
    const expiresAt = Math.floor(now.getTime() / 1000) + this.options.keepDays * 86_400;
    const items = refusals.slice(0, MAX_REFUSALS_PER_REQUEST).map((refusal, i) => ({
      PutRequest: {
        Item: { ...keys.refusal(tenant, at, `${String(i).padStart(3, '0')}${randomBytes(4).toString('hex')}`), at, expiresAt, ...refusal },
      },
    }));
    try {
      for (let i = 0; i < items.length; i += 25) {
        let pending: typeof items | undefined = items.slice(i, i + 25);
        for (let attempt = 0; pending?.length && attempt < 5; attempt++) {
          const answer = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
          pending = answer.UnprocessedItems?.[this.tableName] as typeof items | undefined;
        }
      }
    } catch (error) {
      throw new RetryableError('refusal not recorded', { cause: error });
    }
  }

  async recent(tenant: string, limit: number): Promise<Refusal[]> {
    try {
      const { Items } = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': partitions.refusals(tenant) },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (Items ?? []).map((item) => ({
        at: item.at,
        route: item.route,
        ...(item.sopInstanceUid ? { sopInstanceUid: item.sopInstanceUid } : {}),
        reason: item.reason,
        status: item.status,
      }));
    } catch (error) {
      throw new RetryableError('table read failed', { cause: error });
    }
  }
}
