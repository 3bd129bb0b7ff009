/**
 * A streaming `multipart/related` reader for DICOMweb STOW-RS bodies, pull-based so that backpressure
 * reaches the socket: a part's body is a Readable that reads from the request only as fast as it is consumed.
 *
 * Tolerant of what real senders do (see ../shared/docs/pacs.md): Orthanc's 73-character boundary (over
 * RFC 2046's 70), a quoted boundary, no preamble, no CRLF after the closing delimiter, chunked or
 * Content-Length bodies. Strict where it matters: a body that ends before the closing delimiter is
 * truncated (400), a part bigger than the cap (declared or counted), a body past its cap (counted) or more parts
 * than the cap are 413, and a part whose declared
 * Content-Length disagrees with its bytes is 400. Memory: one source chunk plus a delimiter-sized tail.
 */
import { Readable } from 'node:stream';
import { RequestRefused } from '#lib/errors.js';

export class MultipartError extends RequestRefused {
  override readonly name = 'MultipartError';
  declare readonly status: 400 | 413 | 415;
  constructor(status: 400 | 413 | 415, code: string, message: string) {
    super(status, code, message);
  }
}

export interface MultipartRelated {
  boundary: string;
  /** The `type` parameter (the root part's media type), lower-cased; undefined when absent. */
  type?: string;
}

/** Parses `Content-Type: multipart/related; type="application/dicom"; boundary=…`; 415 for any other media type. */
export function parseMultipartRelated(header: string | undefined): MultipartRelated {
  if (!header) throw new MultipartError(415, 'unsupported_media_type', 'Content-Type multipart/related is required');
  const [mediaType, ...rest] = splitParams(header);
  if (mediaType.trim().toLowerCase() !== 'multipart/related') {
    throw new MultipartError(415, 'unsupported_media_type', 'Content-Type must be multipart/related');
  }
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    let value = param.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(param.slice(0, eq).trim().toLowerCase(), value);
  }
  const type = params.get('type')?.toLowerCase();
  if (type !== undefined && type !== 'application/dicom') {
    throw new MultipartError(415, 'unsupported_media_type', 'multipart/related type must be application/dicom');
  }
  const boundary = params.get('boundary');
  if (!boundary || boundary.length > 200 || /[\r\n]/.test(boundary)) {
    throw new MultipartError(400, 'bad_boundary', 'multipart/related needs a boundary of 1 to 200 characters');
  }
  return { boundary, type };
}

/** Splits on `;` outside quotes. */
function splitParams(header: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (c === '\\' && quoted && i + 1 < header.length) {
      current += c + header[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

export interface MultipartPart {
  /** Header names lower-cased. */
  headers: Record<string, string>;
  contentLength?: number;
  body: Readable;
}

export interface MultipartLimits {
  maxPartBytes: number;
  /** Cap on the whole body, counted as it streams (chunked bodies declare no length). */
  maxBodyBytes?: number;
  maxParts?: number;
  maxHeaderBytes?: number;
  maxPreambleBytes?: number;
}

type State = 'start' | 'headers' | 'body' | 'end';

const CRLF = Buffer.from('\r\n');

export class MultipartReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private state: State = 'start';
  private readonly dashBoundary: Buffer;
  private readonly delimiter: Buffer;
  private readonly iterator: AsyncIterator<Buffer>;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private current: { body: Readable; bytes: number; declared?: number } | undefined;
  partsSeen = 0;
  bytesRead = 0;

  constructor(
    source: AsyncIterable<Buffer | string>,
    boundary: string,
    private readonly limits: MultipartLimits,
  ) {
    this.dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The next part, or null after the closing delimiter. The previous part's unread bytes are skipped. */
  async nextPart(): Promise<MultipartPart | null> {
    return this.serial(async () => {
      if (this.failure) throw this.failure;
      while (this.state === 'body') await this.readBodyChunk();
      if (this.state === 'start') await this.readFirstBoundary();
      if (this.state === 'end') return null;
      const headers = await this.readHeaders();
      this.partsSeen++;
      if (this.limits.maxParts !== undefined && this.partsSeen > this.limits.maxParts) {
        throw this.fail(
          new MultipartError(
            413,
            'too_many_parts',
            `the request holds more than ${this.limits.maxParts} parts; send the study in several requests`,
          ),
        );
      }
      const declared = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
      if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
        throw this.fail(new MultipartError(400, 'bad_part_length', 'a part has an invalid Content-Length'));
      }
      if (declared !== undefined && declared > this.limits.maxPartBytes) {
        throw this.fail(new MultipartError(413, 'part_too_large', `a part declares more than the ${this.limits.maxPartBytes}-byte cap`));
      }
      this.state = 'body';
      const current: { body: Readable; bytes: number; declared?: number } = { body: undefined as unknown as Readable, bytes: 0, declared };
      current.body = new Readable({
        highWaterMark: 64 * 1024,
        read: () => {
          // a stale body (its part skipped, or its reader gone) must never read the next part's bytes
          this.serial(() => (this.current === current && !current.body.destroyed ? this.readBodyChunk() : Promise.resolve(null))).then(
            (chunk) => current.body.push(chunk),
            (error: Error) => current.body.destroy(error),
          );
        },
      });
      this.current = current;
      return { headers, contentLength: declared, body: current.body };
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private fail(error: MultipartError): MultipartError {
    this.failure ??= error;
    return error;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'latin1') : next.value;
    this.bytesRead += chunk.length;
    if (this.limits.maxBodyBytes !== undefined && this.bytesRead > this.limits.maxBodyBytes) {
      throw this.fail(
        new MultipartError(413, 'request_too_large', `the request exceeds the ${this.limits.maxBodyBytes}-byte cap; use POST /uploads`),
      );
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  private async need(bytes: number, problem: () => MultipartError): Promise<void> {
    while (this.buf.length < bytes) {
      if (!(await this.pull())) throw this.fail(problem());
    }
  }

  private truncated = () => new MultipartError(400, 'truncated_body', 'the body ends before the closing multipart delimiter');

  /** `--boundary` at the very start (Orthanc), or after a preamble (skipped as it streams: only a delimiter-sized tail is kept). */
  private async readFirstBoundary(): Promise<void> {
    const maxPreamble = this.limits.maxPreambleBytes ?? 64 * 1024;
    const tail = this.delimiter.length - 1;
    let skipped = 0;
    for (;;) {
      if (
        skipped === 0 &&
        this.buf.length >= this.dashBoundary.length &&
        this.buf.subarray(0, this.dashBoundary.length).equals(this.dashBoundary)
      ) {
        this.buf = this.buf.subarray(this.dashBoundary.length);
        break;
      }
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        this.buf = this.buf.subarray(at + this.delimiter.length);
        break;
      }
      if (this.buf.length > tail && (skipped > 0 || this.buf.length >= this.dashBoundary.length)) {
        skipped += this.buf.length - tail;
        this.buf = Buffer.from(this.buf.subarray(this.buf.length - tail));
      }
      if (skipped > maxPreamble) {
        throw this.fail(new MultipartError(400, 'no_boundary', 'the body does not start with the multipart boundary'));
      }
      if (!(await this.pull())) {
        throw this.fail(
          new MultipartError(400, this.bytesRead === 0 ? 'empty_body' : 'no_boundary', 'the body holds no multipart boundary'),
        );
      }
    }
    await this.afterDelimiter();
  }

  /** After a delimiter: `--` closes the body; otherwise optional whitespace then CRLF opens a part. */
  private async afterDelimiter(): Promise<void> {
    await this.need(2, this.truncated);
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) {
      this.state = 'end';
      this.buf = Buffer.alloc(0);
      return;
    }
    let i = 0;
    for (;;) {
      await this.need(i + 2, this.truncated);
      const c = this.buf[i];
      if (c === 0x20 || c === 0x09) {
        i++;
        if (i > 256) break;
        continue;
      }
      if (c === 0x0d && this.buf[i + 1] === 0x0a) {
        this.buf = this.buf.subarray(i + 2);
        this.state = 'headers';
        return;
      }
      break;
    }
    throw this.fail(new MultipartError(400, 'bad_delimiter', 'a multipart delimiter is not followed by CRLF or --'));
  }

  private async readHeaders(): Promise<Record<string, string>> {
    const maxHeader = this.limits.maxHeaderBytes ?? 16 * 1024;
    let end: number;
    let searched = 0;
    for (;;) {
      if (this.buf.length >= 2 && this.buf[0] === 0x0d && this.buf[1] === 0x0a) {
        end = 0;
        break;
      }
      end = this.buf.indexOf('\r\n\r\n', searched, 'latin1');
      if (end >= 0) {
        end += 2;
        break;
      }
      searched = Math.max(0, this.buf.length - 3);
      if (this.buf.length > maxHeader) throw this.fail(new MultipartError(400, 'headers_too_large', 'a part header section is too large'));
      if (!(await this.pull())) throw this.fail(this.truncated());
    }
    const headers: Record<string, string> = {};
    for (const line of this.buf.toString('latin1', 0, end).split('\r\n')) {
      if (!line) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw this.fail(new MultipartError(400, 'bad_part_header', 'a part header line has no name'));
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.buf = this.buf.subarray(end + CRLF.length);
    return headers;
  }

  /** The next bytes of the current part, or null at its end (the state then moves past the delimiter). */
  private async readBodyChunk(): Promise<Buffer | null> {
    if (this.failure) throw this.failure;
    if (this.state !== 'body') return null;
    const current = this.current!;
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at > 0) return this.emit(current, at);
      if (at === 0) {
        this.buf = this.buf.subarray(this.delimiter.length);
        if (current.declared !== undefined && current.declared !== current.bytes) {
          throw this.fail(
            new MultipartError(400, 'part_length_mismatch', `a part declares ${current.declared} bytes but holds ${current.bytes}`),
          );
        }
        await this.afterDelimiter();
        return null;
      }
      const safe = this.buf.length - this.delimiter.length + 1;
      if (safe > 0) return this.emit(current, safe);
      if (!(await this.pull())) throw this.fail(this.truncated());
    }
  }

  private emit(current: { bytes: number }, length: number): Buffer {
    const out = this.buf.subarray(0, length);
    this.buf = this.buf.subarray(length);
    current.bytes += out.length;
    if (current.bytes > this.limits.maxPartBytes) {
      throw this.fail(new MultipartError(413, 'part_too_large', `a part exceeds the ${this.limits.maxPartBytes}-byte cap`));
    }
    return out;
  }
}
