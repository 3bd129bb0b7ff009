/**
 * Parses S3 event notification records. Real S3 URL-encodes keys with `+` for spaces.
 * A record that lacks what we need is reported as malformed instead of throwing, so one bad
 * record never sinks the others delivered with it.
 */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  eTag?: string;
  versionId?: string;
  /** Orders the events of one key (hex, compared after left-padding); s3rver sends a number. */
  sequencer?: string;
  eventName: string;
}

export type ParsedRecord = { ok: true; object: ObjectCreated } | { ok: false; reason: 'malformed_event'; detail: string };

export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

export function parseS3Record(record: unknown): ParsedRecord {
  const malformed = (detail: string): ParsedRecord => ({ ok: false, reason: 'malformed_event', detail });
  if (!isObject(record) || !isObject(record.s3)) return malformed('record has no s3 section');
  const eventName = typeof record.eventName === 'string' ? record.eventName : '';
  if (!eventName.startsWith('ObjectCreated:')) return malformed('not an ObjectCreated event');
  const { bucket, object } = record.s3;
  if (!isObject(bucket) || typeof bucket.name !== 'string' || !bucket.name) return malformed('missing bucket name');
  if (!isObject(object) || typeof object.key !== 'string' || !object.key) return malformed('missing object key');
  let key: string;
  try {
    key = decodeS3Key(object.key);
  } catch {
    return malformed('object key is not valid URL encoding');
  }
  const size = object.size === undefined ? 0 : Number(object.size);
  if (!Number.isSafeInteger(size) || size < 0) return malformed('object size is not a whole number');
  return {
    ok: true,
    object: {
      bucket: bucket.name,
      key,
      size,
      eTag: typeof object.eTag === 'string' && object.eTag ? object.eTag.replace(/"/g, '') : undefined,
      versionId: typeof object.versionId === 'string' && object.versionId ? object.versionId : undefined,
      sequencer: sequencerOf(object.sequencer),
      eventName,
    },
  };
}

function sequencerOf(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value.toString(16) : value;
  return typeof text === 'string' && /^[0-9A-Fa-f]{1,64}$/.test(text) ? text : undefined;
}

export function s3Records(event: unknown): unknown[] {
  if (isObject(event) && Array.isArray(event.Records)) return event.Records;
  return [event];
}
