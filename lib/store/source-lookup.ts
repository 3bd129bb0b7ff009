/**
 * A source object's latest video, so a hospital can find a video by what it uploaded (status-api
 * `GET /videos?source=<key>` and, for the PACS hook's instances, `?sop=<SOPInstanceUID>`).
 *
 * The video id cannot be recomputed from the key: it is a keyed hash over bucket, key and version or ETag
 * (lib/intake/video-id.ts), and a key may be overwritten. So each video row carries its source in the `bySource`
 * index: partition `SOURCE#<tenant>#<sha256(key)>`, sort `<sequencer>#<at>`. The intake writes these attributes with
 * the row it writes anyway (no extra request per clip), and the latest video of a key is the last of its partition.
 * The key itself is never stored, only its SHA-256.
 *
 * "Latest" follows the S3 events' `sequencer` for the key, as S3 recommends for an index kept from its events
 * (left-padded with zeros, compared as strings): an older event delivered late sorts before the newer object's row,
 * so it never points the key back at the older object. Without a sequencer, rows sort by time after any sequencer 0.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import { INDEX, keys, partitions } from './keys.js';
import type { TableHandle } from './rows.js';
import { isConditionFailure } from './table.js';

export interface VideoSource {
  tenant: string;
  /** The object key in the intake bucket, `<tenant>/<name>`. */
  sourceKey: string;
  /** The S3 event's `s3.object.sequencer` (hex); anything else counts as none. */
  sequencer?: string;
  at: string;
}

export interface SourceLookupEntry extends VideoSource {
  videoId: string;
}

const SEQUENCER = /^[0-9A-Fa-f]{1,64}$/;

export const sourceDigest = (sourceKey: string) => createHash('sha256').update(sourceKey, 'utf8').digest('hex');

/** The index attributes a video row carries for its source object. */
export function sourceIndexKeys(source: VideoSource) {
  const sequencer = source.sequencer && SEQUENCER.test(source.sequencer) ? source.sequencer.toUpperCase() : '';
  return {
    gsi4pk: partitions.sourceVideos(source.tenant, sourceDigest(source.sourceKey)),
    gsi4sk: `${sequencer.padStart(64, '0')}#${source.at}`,
  };
}

/** Indexes an existing video row under its source object (false when there is no such row). */
export async function recordSourceLookup(table: TableHandle, entry: SourceLookupEntry): Promise<boolean> {
  const { gsi4pk, gsi4sk } = sourceIndexKeys(entry);
  try {
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: keys.video(entry.videoId),
        UpdateExpression: 'SET gsi4pk = :pk, gsi4sk = :sk',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':pk': gsi4pk, ':sk': gsi4sk },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw new RetryableError('table write failed', { cause: error });
  }
}

/** The video id of the latest object recorded under the tenant's `sourceKey`. */
export async function videoIdOfSource(table: TableHandle, tenant: string, sourceKey: string): Promise<string | undefined> {
  const answer = await table.doc.send(
    new QueryCommand({
      TableName: table.tableName,
      IndexName: INDEX.bySource,
      KeyConditionExpression: 'gsi4pk = :source',
      ExpressionAttributeValues: { ':source': partitions.sourceVideos(tenant, sourceDigest(sourceKey)) },
      ScanIndexForward: false,
      Limit: 1,
    }),
  );
  const videoId = answer.Items?.[0]?.videoId;
  return typeof videoId === 'string' ? videoId : undefined;
}
