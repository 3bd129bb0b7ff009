/** Single-row reads every store shares: the one getVideo and the one getBatch. */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { keys } from './keys.js';
import { stripKeys } from './table.js';
import type { BatchRecord, VideoRecord } from './records.js';

/** The table, as a store reaches it. */
export interface TableHandle {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export interface RowReader extends TableHandle {
  /** Read after the latest write (the intake's conditional steps need it; status reads do not). */
  consistent?: boolean;
}

export async function getRow<T>(reader: RowReader, key: Record<string, string>): Promise<T | undefined> {
  try {
    const { Item } = await reader.doc.send(
      new GetCommand({ TableName: reader.tableName, Key: key, ConsistentRead: reader.consistent || undefined }),
    );
    return Item ? stripKeys<T>(Item) : undefined;
  } catch (error) {
    throw new RetryableError('table read failed', { cause: error });
  }
}

export const getVideo = (reader: RowReader, videoId: string) => getRow<VideoRecord>(reader, keys.video(videoId));

export const getBatch = (reader: RowReader, batchId: string) => getRow<BatchRecord>(reader, keys.batch(batchId));
