/**
 * Video ids are derived from the source object (bucket, key, version or ETag) with a keyed hash,
 * so a duplicate event maps to the same id, and the id reveals nothing of the (possibly
 * patient-identifying) object name. Formatted as 32 hex characters, like a uuid4 hex.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import type { ObjectCreated } from '#lib/s3/events.js';

export type VideoIdDeriver = (source: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'eTag'>) => string;

export function videoIdDeriver(masterKey: Uint8Array): VideoIdDeriver {
  const idKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'trustworthy-radiomics video id', 32));
  return ({ bucket, key, versionId, eTag }) =>
    createHmac('sha256', idKey)
      .update([bucket, key, versionId ?? '', versionId ? '' : (eTag ?? '')].join('\u0000'))
      .digest('hex')
      .slice(0, 32);
}
