/**
 * A source object's latest video, so a hospital can find a video by what it uploaded (status-api
 * `GET /videos?source=<key>` and, for the PACS hook's instances, `?sop=<SOPInstanceUID>`).
 *
 * The video id cannot be recomputed from the key: it is a keyed hash over bucket, key and version or ETag
 * (lib/intake/video-id.ts), and a key may be overwritten. So each video row carries its source in the `bySource`
 * index: partition `SOURCE#<tenant>#<sha256(key)>`, sort `<sequencer>#<at>`. The intake writes these attributes with
 * the row it writes anyway (no extra request per clip), and the latest video of a key is the last of its partition.
 * The key itself is never stored in plaintext. With a source-name key (SOURCE_NAME_KEY, lib/source-names.ts, injected
 * as a `SourceNameSealer`) the row holds the key sealed (`sourceName`, for the owning tenant's status answers) and
 * the index files it under a keyed HMAC; without one, under its SHA-256 and with no name. A lookup with the key
 * tries the HMAC first, then the SHA-256, so rows written before the key was configured are still found.
 *
 * "Latest" follows the S3 events' `sequencer` for the key, as S3 recommends for an index kept from its events
 * (left-padded with zeros, compared as strings): an older event delivered late sorts before the newer object's row,
 * so it never points the key back at the older object. Without a sequencer, rows sort by time after any sequencer 0.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '#lib/errors.js';
import type { SourceNameSealer } from '#lib/source-names.js';
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

/** The unkeyed digest: the index's only one without a source-name key, and its fallback with one. */
export const sourceDigest = (sourceKey: string) => createHash('sha256').update(sourceKey, 'utf8').digest('hex');

/** The index attributes a video row carries for its source object. */
export function sourceIndexKeys(source: VideoSource, sourceNames?: SourceNameSealer) {
  const sequencer = source.sequencer && SEQUENCER.test(source.sequencer) ? source.sequencer.toUpperCase() : '';
  const digest = sourceNames ? sourceNames.indexDigest(source.sourceKey) : sourceDigest(source.sourceKey);
  return {
    gsi4pk: partitions.sourceVideos(source.tenant, digest),
    gsi4sk: `${sequencer.padStart(64, '0')}#${source.at}`,
  };
}

/** What a video row carries for its source object: the index attributes and, with a sealer, the sealed name. */
export function sourceAttributes(videoId: string, source: VideoSource, sourceNames?: SourceNameSealer) {
  return {
    ...sourceIndexKeys(source, sourceNames),
    ...(sourceNames ? { sourceName: sourceNames.seal(source.sourceKey, { tenant: source.tenant, videoId }) } : {}),
  };
}

/** Indexes an existing video row under its source object, as the intake does (false when there is no such row). */
export async function recordSourceLookup(table: TableHandle, entry: SourceLookupEntry, sourceNames?: SourceNameSealer): Promise<boolean> {
  const attributes: Record<string, string> = sourceAttributes(entry.videoId, entry, sourceNames);
  const names = Object.keys(attributes);
  try {
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: keys.video(entry.videoId),
        UpdateExpression: `SET ${names.map((name) => `${name} = :${name}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: Object.fromEntries(names.map((name) => [`:${name}`, attributes[name]])),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw new RetryableError('table write failed', { cause: error });
  }
}

/** The video id of the latest object recorded under the tenant's `sourceKey`. */
export async function videoIdOfSource(
  table: TableHandle,
  tenant: string,
  sourceKey: string,
  sourceNames?: SourceNameSealer,
): Promise<string | undefined> {
  const digests = sourceNames ? [sourceNames.indexDigest(sourceKey), sourceDigest(sourceKey)] : [sourceDigest(sourceKey)];
  for (const digest of digests) {
    const answer = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: INDEX.bySource,
        KeyConditionExpression: 'gsi4pk = :source',
        ExpressionAttributeValues: { ':source': partitions.sourceVideos(tenant, digest) },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const videoId = answer.Items?.[0]?.videoId;
    if (typeof videoId === 'string') return videoId;
  }
  return undefined;
}
