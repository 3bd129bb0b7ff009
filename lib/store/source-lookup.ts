/**
 * A source object's latest video, so a hospital can find a video by what it uploaded (status-api
 * `GET /videos?source=<key>` and, for the PACS hook's instances, `?sop=<SOPInstanceUID>`).
 *
 * The video id cannot be recomputed from the key: it is a keyed hash over bucket, key and version or ETag
 * (lib/intake/video-id.ts), and a key may be overwritten. So the intake records, per tenant and key, the video of
 * the latest object under it: one row `SOURCE#<tenant>#<sha256(key)>` holding the video id. The key itself is never
 * stored, only its SHA-256.
 *
 * "Latest" follows the S3 events' `sequencer` for the key, as S3 recommends for an index kept from its events
 * (left-padded with zeros, compared as strings): a write with a lower sequencer than the stored one is a no-op, so an
 * older event delivered late never points the key back at the older object. Without a sequencer the last write wins.
 */
import { createHash } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { keys } from './keys.js';
import { getRow, type RowReader, type TableHandle } from './rows.js';
import { isConditionFailure } from './table.js';

export interface SourceLookupEntry {
  tenant: string;
  /** The object key in the intake bucket, `<tenant>/<name>`. */
  sourceKey: string;
  videoId: string;
  /** The S3 event's `s3.object.sequencer` (hex); anything else counts as none. */
  sequencer?: string;
  at: string;
}

const SEQUENCER = /^[0-9A-Fa-f]{1,64}$/;

export const sourceDigest = (sourceKey: string) => createHash('sha256').update(sourceKey, 'utf8').digest('hex');

/** Points the source at `videoId` unless a later event's video is recorded already (false then). */
export async function recordSourceLookup(table: TableHandle, entry: SourceLookupEntry): Promise<boolean> {
  const sequencer = entry.sequencer && SEQUENCER.test(entry.sequencer) ? entry.sequencer.toUpperCase().padStart(64, '0') : undefined;
  try {
    await table.doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...keys.source(entry.tenant, sourceDigest(entry.sourceKey)),
          videoId: entry.videoId,
          recordedAt: entry.at,
          ...(sequencer ? { sequencer } : {}),
        },
        ...(sequencer
          ? {
              ConditionExpression: 'attribute_not_exists(pk) OR attribute_not_exists(sequencer) OR sequencer <= :sequencer',
              ExpressionAttributeValues: { ':sequencer': sequencer },
            }
          : {}),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw new RetryableError('table write failed', { cause: error });
  }
}

/** The video id of the latest object recorded under the tenant's `sourceKey`. */
export async function videoIdOfSource(table: RowReader, tenant: string, sourceKey: string): Promise<string | undefined> {
  return (await getRow<{ videoId: string }>(table, keys.source(tenant, sourceDigest(sourceKey))))?.videoId;
}
