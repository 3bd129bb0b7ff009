/** The STOW-RS multipart/related reader, on Orthanc's exact wire format (../shared/docs/pacs.md) and its edge cases. */
import { describe, it, expect } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { MultipartError, MultipartReader, parseMultipartRelated, type MultipartLimits } from '#lib/pacs/multipart.js';

const orthancBoundary = () => `${randomUUID()}-${randomUUID()}`;

/** Orthanc's body: no preamble, per-part Content-Type and Content-Length, no CRLF after the closing delimiter. */
function orthancBody(boundary: string, parts: Buffer[]): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    pieces.push(
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${part.length}\r\n\r\n`, 'latin1'),
      part,
      Buffer.from('\r\n'),
    );
  }
  pieces.push(Buffer.from(`--${boundary}--`));
  return Buffer.concat(pieces);
}

async function* chunked(body: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

async function readAll(source: AsyncIterable<Buffer>, boundary: string, limits: MultipartLimits = { maxPartBytes: 1 << 30 }) {
  const reader = new MultipartReader(source, boundary, limits);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  for (;;) {
    const part = await reader.nextPart();
    if (!part) return parts;
    const chunks: Buffer[] = [];
    for await (const chunk of part.body) chunks.push(chunk as Buffer);
    parts.push({ headers: part.headers, body: Buffer.concat(chunks) });
  }
}

async function failureOf(promise: Promise<unknown>): Promise<MultipartError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MultipartError) return error;
    throw error;
  }
  throw new Error('expected a MultipartError');
}

describe('Content-Type of a STOW-RS request', () => {
  it("takes Orthanc's header with its 73-character unquoted boundary", () => {
    const boundary = orthancBoundary();
    expect(boundary).toHaveLength(73);
    expect(parseMultipartRelated(`multipart/related; type="application/dicom"; boundary=${boundary}`)).toEqual({
      boundary,
      type: 'application/dicom',
    });
  });

  it('takes a quoted boundary holding ; and =', () => {
    expect(parseMultipartRelated('Multipart/Related; boundary="a;b=c d"; type=application/dicom')).toEqual({
      boundary: 'a;b=c d',
      type: 'application/dicom',
    });
  });

  it.each([
    ['application/dicom', 415, 'unsupported_media_type'],
    ['multipart/form-data; boundary=x', 415, 'unsupported_media_type'],
    ['multipart/related; type="application/dicom+json"; boundary=x', 415, 'unsupported_media_type'],
    ['multipart/related; type="application/dicom"', 400, 'bad_boundary'],
  ])('%s → %i %s', (header, status, code) => {
    expect(() => parseMultipartRelated(header)).toThrow(expect.objectContaining({ status, code }));
  });

  it('a missing Content-Type is 415', () => {
    expect(() => parseMultipartRelated(undefined)).toThrow(expect.objectContaining({ status: 415 }));
  });
});

describe('multipart/related reader', () => {
  const boundary = orthancBoundary();
  const first = randomBytes(70_000);
  const second = Buffer.concat([
    Buffer.from(`\r\n--${boundary.slice(0, 40)}`),
    randomBytes(1000),
    Buffer.from('\r\n-'),
    Buffer.from(`--${boundary}`),
  ]);
  const body = orthancBody(boundary, [first, second]);

  it("reads Orthanc's exact wire format byte for byte", async () => {
    const parts = await readAll(chunked(body, 65_536), boundary);
    expect(parts).toHaveLength(2);
    expect(parts[0].headers).toEqual({ 'content-type': 'application/dicom', 'content-length': String(first.length) });
    expect(parts[0].body.equals(first)).toBe(true);
    expect(parts[1].body.equals(second)).toBe(true);
  });

  it('gives the same parts when the body arrives one byte at a time (delimiters split across every chunk edge)', async () => {
    const small = orthancBody(boundary, [first.subarray(0, 3000), second]);
    const parts = await readAll(chunked(small, 1), boundary);
    expect(parts.map((p) => p.body.length)).toEqual([3000, second.length]);
    expect(parts[0].body.equals(first.subarray(0, 3000))).toBe(true);
    expect(parts[1].body.equals(second)).toBe(true);
  });

  it('gives the same parts for every split point of a two-part body', async () => {
    const tiny = orthancBody(boundary, [Buffer.from('abc'), Buffer.from('\r\n--')]);
    for (let cut = 1; cut < tiny.length; cut++) {
      const parts = await readAll(
        (async function* () {
          yield tiny.subarray(0, cut);
          yield tiny.subarray(cut);
        })(),
        boundary,
      );
      expect(parts.map((p) => p.body.toString('latin1'))).toEqual(['abc', '\r\n--']);
    }
  });

  it('tolerates a preamble, a final CRLF and an epilogue', async () => {
    const withExtras = Buffer.concat([Buffer.from('preamble text\r\n'), body, Buffer.from('\r\nepilogue')]);
    const parts = await readAll(chunked(withExtras, 4096), boundary);
    expect(parts.map((p) => p.body.length)).toEqual([first.length, second.length]);
  });

  it('skips the unread rest of a part when the next one is asked for', async () => {
    const reader = new MultipartReader(chunked(body, 1000), boundary, { maxPartBytes: 1 << 30 });
    await reader.nextPart();
    const next = await reader.nextPart();
    const chunks: Buffer[] = [];
    for await (const chunk of next!.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(second)).toBe(true);
    expect(await reader.nextPart()).toBeNull();
  });

  it('a part abandoned after its first bytes (a refused instance) costs the next part none of its bytes', async () => {
    const reader = new MultipartReader(chunked(body, 500), boundary, { maxPartBytes: 1 << 30 });
    const abandoned = await reader.nextPart();
    await new Promise<void>((resolve) => abandoned!.body.once('data', () => resolve()));
    abandoned!.body.destroy();
    const next = await reader.nextPart();
    const chunks: Buffer[] = [];
    for await (const chunk of next!.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(second)).toBe(true);
  });

  it('a body of only the closing delimiter has zero parts', async () => {
    expect(await readAll(chunked(Buffer.from(`--${boundary}--`), 7), boundary)).toEqual([]);
  });

  it('an empty body is a 400 empty_body', async () => {
    const error = await failureOf(readAll(chunked(Buffer.alloc(0), 1), boundary));
    expect([error.status, error.code]).toEqual([400, 'empty_body']);
  });

  it('a body truncated inside a part is a 400 truncated_body', async () => {
    const error = await failureOf(readAll(chunked(body.subarray(0, 50_000), 8192), boundary));
    expect([error.status, error.code]).toEqual([400, 'truncated_body']);
  });

  it('a body truncated inside the part headers is a 400 truncated_body', async () => {
    const error = await failureOf(readAll(chunked(body.subarray(0, 100), 8192), boundary));
    expect([error.status, error.code]).toEqual([400, 'truncated_body']);
  });

  it('a body without its closing delimiter is a 400 truncated_body', async () => {
    const open = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), first, Buffer.from('\r\n')]);
    const error = await failureOf(readAll(chunked(open, 8192), boundary));
    expect([error.status, error.code]).toEqual([400, 'truncated_body']);
  });

  it('a part whose Content-Length disagrees with its bytes is a 400 part_length_mismatch', async () => {
    const lying = Buffer.from(
      body.toString('latin1').replace(`Content-Length: ${first.length}`, `Content-Length: ${first.length - 1}`),
      'latin1',
    );
    const error = await failureOf(readAll(chunked(lying, 8192), boundary));
    expect([error.status, error.code]).toEqual([400, 'part_length_mismatch']);
  });

  it('a 2 GB declared part is a 413 before any of its bytes are read', async () => {
    const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${2 * 1024 ** 3}\r\n\r\n`);
    let pulls = 0;
    const source = (async function* () {
      pulls++;
      yield head;
      for (;;) {
        pulls++;
        yield Buffer.alloc(1024 * 1024);
      }
    })();
    const reader = new MultipartReader(source, boundary, { maxPartBytes: 512 * 1024 * 1024 });
    const error = await failureOf(reader.nextPart());
    expect([error.status, error.code]).toEqual([413, 'part_too_large']);
    expect(pulls).toBe(1);
    expect(reader.bytesRead).toBe(head.length);
  });

  it('a chunked part that grows past the cap is a 413 as soon as it passes it', async () => {
    const big = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), randomBytes(300_000)]);
    const reader = new MultipartReader(chunked(big, 10_000), boundary, { maxPartBytes: 100_000 });
    const part = await reader.nextPart();
    const error = await failureOf(
      (async () => {
        for await (const _chunk of part!.body) {
          /* read */
        }
      })(),
    );
    expect([error.status, error.code]).toEqual([413, 'part_too_large']);
    expect(reader.bytesRead).toBeLessThan(130_000);
  });

  it('a delimiter followed by neither CRLF nor -- is a 400 bad_delimiter', async () => {
    const error = await failureOf(readAll(chunked(Buffer.from(`--${boundary}XX\r\n\r\n`), 64), boundary));
    expect([error.status, error.code]).toEqual([400, 'bad_delimiter']);
  });
});
