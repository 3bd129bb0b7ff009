/**
 * The hook's side of the intake bucket: DICOM instances keyed by SOPInstanceUID, and presigned uploads.
 *
 * Keys: `<tenant>/dicom/<SOPInstanceUID>.dcm`, so a re-send (Orthanc re-sends whole studies) overwrites the
 * same object with the same bytes, and the intake sees the same ETag and treats it as a duplicate.
 * Writes are all-or-nothing: the object appears only after its whole stream passed the DICOM checks (see put).
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { dicomKeyOf } from './instance-key.js';

export const PART_BYTES = 8 * 1024 * 1024;

export { dicomKeyOf };

export interface DicomObjects {
  put(key: string, body: Readable, contentLength: number | undefined, signal?: AbortSignal): Promise<void>;
}

/** Rethrows the body's own error (e.g. a RejectedInput) in preference to the SDK's wrapper of it. */
function bodyErrorOr(body: Readable, error: unknown): unknown {
  return (body as Readable & { errored?: Error | null }).errored ?? error;
}

export class S3DicomObjects implements DicomObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * All-or-nothing on any S3, including emulators that write a PUT's bytes in place (s3rver): an instance up to
   * PART_BYTES is buffered and PUT once its whole stream has passed the checks; a bigger one goes up as a
   * multipart upload (one part buffered, one in flight) that is completed only after the stream ended cleanly,
   * and aborted otherwise.
   */
  async put(key: string, body: Readable, contentLength: number | undefined, signal?: AbortSignal): Promise<void> {
    let parts: Buffer[] = [];
    let partBytes = 0;
    let uploadId: string | undefined;
    let inFlight: Promise<unknown> = Promise.resolve();
    const done: { ETag?: string; PartNumber: number }[] = [];
    let partCount = 0;
    let total = 0;
    const send = async (partNumber: number, part: Buffer) => {
      const answer = await this.s3.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: part,
          ContentLength: part.length,
        }),
        {
          abortSignal: signal,
        },
      );
      done[partNumber - 1] = { ETag: answer.ETag, PartNumber: partNumber };
    };
    const flush = async () => {
      uploadId ??= (
        await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/dicom' }), {
          abortSignal: signal,
        })
      ).UploadId;
      const part = Buffer.concat(parts);
      parts = [];
      partBytes = 0;
      await inFlight;
      inFlight = send(++partCount, part);
      inFlight.catch(() => undefined);
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        parts.push(chunk);
        partBytes += chunk.length;
        total += chunk.length;
        if (partBytes >= PART_BYTES) await flush();
      }
      if (contentLength !== undefined && contentLength !== total) {
        throw new RejectedInput('length_mismatch', 'the instance is shorter or longer than its declared length');
      }
      if (!uploadId) {
        await this.s3.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.concat(parts), ContentType: 'application/dicom' }),
          { abortSignal: signal },
        );
        return;
      }
      if (partBytes > 0) await flush();
      await inFlight;
      await this.s3.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } }),
        { abortSignal: signal },
      );
    } catch (error) {
      await inFlight.catch(() => undefined);
      if (uploadId)
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw asStoreError(bodyErrorOr(body, error));
    }
  }
}

function asStoreError(error: unknown): unknown {
  if (error instanceof RejectedInput || error instanceof RetryableError) return error;
  if (error instanceof Error && error.name === 'MultipartError') return error;
  return new RetryableError('the intake bucket did not take the object', { cause: error });
}

export interface UploadRequest {
  studyUid: string;
  sopUid: string;
  size: number;
  /** Hex SHA-256 of the file, pinned in the URL (x-amz-checksum-sha256); or */
  sha256?: string;
  /** hex MD5 (what Orthanc stores for each attachment), pinned as Content-MD5. One of the two is required. */
  md5?: string;
}

/**
 * A GET of bytes 128–131 of the uploaded object ("DICM" once it is there). Orthanc's Lua HttpPut answers the same
 * empty string for an S3 success and for an HTTP error, so the Lua recipe confirms its PUT with this.
 */
export const UPLOAD_CHECK_RANGE = 'bytes=128-131';

export type UploadTicket =
  | {
      method: 'PUT';
      key: string;
      url: string;
      headers: Record<string, string>;
      check: { method: 'GET'; url: string; headers: { Range: string } };
      expiresInSecs: number;
    }
  | {
      method: 'MULTIPART';
      key: string;
      uploadId: string;
      partBytes: number;
      parts: { partNumber: number; url: string }[];
      complete: { method: 'POST'; url: string };
      abort: { method: 'DELETE'; url: string };
      expiresInSecs: number;
    };

export interface UploadPresigner {
  presign(tenant: string, request: UploadRequest): Promise<UploadTicket>;
}

/** Single presigned PUT up to `multipartAboveBytes` (pinned length and SHA-256), presigned multipart above it. */
export class S3UploadPresigner implements UploadPresigner {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly options: { expiresInSecs: number; multipartAboveBytes: number; multipartPartBytes: number },
  ) {}

  async presign(tenant: string, request: UploadRequest): Promise<UploadTicket> {
    const key = dicomKeyOf(tenant, request.sopUid);
    const expiresIn = this.options.expiresInSecs;
    if (request.size <= this.options.multipartAboveBytes) {
      const integrity: Record<string, string> = request.sha256
        ? { 'x-amz-checksum-sha256': Buffer.from(request.sha256, 'hex').toString('base64') }
        : { 'Content-MD5': Buffer.from(request.md5!, 'hex').toString('base64') };
      const url = await getSignedUrl(
        this.s3,
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ContentLength: request.size,
          ContentType: 'application/dicom',
          ChecksumSHA256: integrity['x-amz-checksum-sha256'],
          ContentMD5: integrity['Content-MD5'],
        }),
        {
          expiresIn,
          signableHeaders: new Set(['content-length', 'content-type', ...Object.keys(integrity).map((h) => h.toLowerCase())]),
          unhoistableHeaders: new Set(Object.keys(integrity).map((h) => h.toLowerCase())),
        },
      );
      const checkUrl = await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
      return {
        method: 'PUT',
        key,
        url,
        headers: { 'Content-Type': 'application/dicom', 'Content-Length': String(request.size), ...integrity },
        check: { method: 'GET', url: checkUrl, headers: { Range: UPLOAD_CHECK_RANGE } },
        expiresInSecs: expiresIn,
      };
    }
    const partBytes = Math.max(this.options.multipartPartBytes, Math.ceil(request.size / 10_000));
    const created = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/dicom' }),
    );
    const uploadId = created.UploadId!;
    const count = Math.ceil(request.size / partBytes);
    const parts = await Promise.all(
      Array.from({ length: count }, async (_, i) => ({
        partNumber: i + 1,
        url: await getSignedUrl(this.s3, new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1 }), {
          expiresIn,
        }),
      })),
    );
    const complete = await getSignedUrl(
      this.s3,
      new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      { expiresIn },
    );
    const abort = await getSignedUrl(this.s3, new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), {
      expiresIn,
    });
    return {
      method: 'MULTIPART',
      key,
      uploadId,
      partBytes,
      parts,
      complete: { method: 'POST', url: complete },
      abort: { method: 'DELETE', url: abort },
      expiresInSecs: expiresIn,
    };
  }
}

/** Drains and discards a stream (a part the hook refused), so the next part can be read. */
export async function discard(body: Readable): Promise<void> {
  for await (const _chunk of body) {
    /* discard */
  }
}
