/**
 * The intake bucket, behind a small interface. Clients are built with checksum calculation
 * WHEN_REQUIRED: the default aws-chunked uploads are mishandled by s3rver and Swift's s3api.
 *
 * Reads are pinned to the object the event names: its VersionId where the event has one, else `If-Match` on its
 * ETag; the answer's ETag is compared as well, for stores that ignore `If-Match` (s3rver). A key overwritten since
 * the event is `SourceSuperseded`: the newer object's own event seals the newer bytes.
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectTaggingCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import type { ObjectCreated } from './events.js';
import { traced } from '#lib/aws/tracing.js';

/** The object an event names. */
export type SourceRef = Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'eTag'>;

export class SourceSuperseded extends RejectedInput {
  constructor() {
    super('superseded', 'the key holds a newer object than the event names');
  }
}

export interface SourceObject {
  body: Readable;
  size: number;
  eTag?: string;
}

export interface IntakeObjects {
  /** The event's own object; `SourceSuperseded` when the key holds another one now. */
  open(source: SourceRef, signal?: AbortSignal): Promise<SourceObject>;
  /**
   * Marks a rejected source in place with a machine-readable reason (the bucket's lifecycle expires it later). A
   * key that holds another object by now is left untagged: the tag would expire the newer upload.
   */
  markRejected(source: SourceRef, reason: string): Promise<void>;
  /**
   * Marks an accepted source with the id its results carry (`radiomics-video-id`), so that a hospital can tell
   * which result belongs to which upload. Left untagged when the key holds another object by now; `readJustNow`: the
   * caller's pinned read has just confirmed that it does not, so no request asks again.
   */
  markAccepted(source: SourceRef, videoId: string, options?: { readJustNow?: boolean }): Promise<void>;
}

export function createS3Client(options: {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): S3Client {
  return traced(
    new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: Boolean(options.endpoint),
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  );
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

export class S3IntakeObjects implements IntakeObjects {
  constructor(private readonly s3: S3Client) {}

  async open(source: SourceRef, signal?: AbortSignal): Promise<SourceObject> {
    const pin = source.versionId ? { VersionId: source.versionId } : source.eTag ? { IfMatch: `"${source.eTag}"` } : {};
    try {
      const answer = await this.s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key, ...pin }), { abortSignal: signal });
      const body = answer.Body;
      if (!(body instanceof Readable)) throw new RetryableError('S3 GetObject returned no stream');
      const eTag = answer.ETag?.replace(/"/g, '');
      if (!source.versionId && source.eTag && eTag !== source.eTag) {
        body.destroy();
        throw new SourceSuperseded();
      }
      return { body, size: Number(answer.ContentLength ?? 0), eTag };
    } catch (error) {
      if (error instanceof RetryableError || error instanceof SourceSuperseded) throw error;
      const status = statusOf(error);
      if (status === 412 || (error as { name?: string }).name === 'PreconditionFailed') throw new SourceSuperseded();
      if (status === 404 || (error as { name?: string }).name === 'NoSuchKey') {
        throw new RejectedInput('source_missing', 'the source object no longer exists');
      }
      throw new RetryableError(`S3 GetObject failed${status ? ` (${status})` : ''}`, { cause: error });
    }
  }

  markRejected(source: SourceRef, reason: string): Promise<void> {
    return this.tag(source, { 'radiomics-status': 'rejected', 'radiomics-reason': reason });
  }

  markAccepted(source: SourceRef, videoId: string, options: { readJustNow?: boolean } = {}): Promise<void> {
    return this.tag(source, { 'radiomics-status': 'accepted', 'radiomics-video-id': videoId }, options.readJustNow ?? false);
  }

  /** Replaces the event's object's tags; a key that holds another object by now, or none, is left alone. */
  private async tag(source: SourceRef, tags: Record<string, string>, readJustNow = false): Promise<void> {
    try {
      if (!source.versionId && source.eTag && !readJustNow && !(await this.stillHolds(source))) return;
      await this.s3.send(
        new PutObjectTaggingCommand({
          Bucket: source.bucket,
          Key: source.key,
          VersionId: source.versionId,
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 || (error as { name?: string }).name === 'NoSuchKey') return;
      throw new RetryableError(`S3 PutObjectTagging failed${status ? ` (${status})` : ''}`, { cause: error });
    }
  }

  /** Whether the key still holds the event's object (If-Match, and the ETag compared for stores that ignore it). */
  private async stillHolds(source: SourceRef): Promise<boolean> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key, IfMatch: `"${source.eTag}"` }));
      return head.ETag?.replace(/"/g, '') === source.eTag;
    } catch (error) {
      if (statusOf(error) === 412) return false;
      throw error;
    }
  }
}
