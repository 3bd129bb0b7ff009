import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { MediaCheck } from '#lib/intake/media-check.js';
import { RejectedInput } from '#lib/errors.js';

const CLIP = readFileSync(new URL('../../../../shared/samples/videos/VH020213M4_001390_20160406T111534.MP4', import.meta.url));

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

async function check(bytes: Buffer, chunkSize = 65536, maxBytes = 1 << 30) {
  const media = new MediaCheck(maxBytes);
  let passed = 0;
  await pipeline(
    Readable.from(chunks(bytes, chunkSize)),
    media,
    new Writable({
      write(chunk: Buffer, _e, done) {
        passed += chunk.length;
        done();
      },
    }),
  );
  return { kind: media.kind, bytesSeen: media.bytesSeen, passed };
}

async function reason(bytes: Buffer, chunkSize = 65536, maxBytes = 1 << 30): Promise<string> {
  try {
    await check(bytes, chunkSize, maxBytes);
  } catch (error) {
    if (error instanceof RejectedInput) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('MediaCheck', () => {
  it.each([1, 3, 7, 8, 9, 131, 4096, 1 << 20])('passes a whole MP4 through unchanged in %i-byte chunks', async (size) => {
    expect(await check(CLIP, size)).toEqual({ kind: 'mp4', bytesSeen: CLIP.length, passed: CLIP.length });
  });

  it('recognises DICOM by DICM at byte 128', async () => {
    const dicom = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(300, 7)]);
    expect((await check(dicom, 5)).kind).toBe('dicom');
  });

  it('rejects an empty object as empty_object', async () => {
    expect(await reason(Buffer.alloc(0))).toBe('empty_object');
  });

  it('rejects text as not_a_video, also when shorter than the DICOM preamble', async () => {
    expect(await reason(Buffer.from('x'.repeat(5000)))).toBe('not_a_video');
    expect(await reason(Buffer.from('hello'))).toBe('not_a_video');
  });

  it('rejects an MP4 cut short anywhere as truncated_mp4', async () => {
    for (const cut of [12, 40, Math.floor(CLIP.length / 2), CLIP.length - 1]) {
      expect(await reason(CLIP.subarray(0, cut), 1000)).toBe('truncated_mp4');
    }
  });

  it('rejects an MP4 with trailing garbage that breaks the box structure', async () => {
    expect(await reason(Buffer.concat([CLIP, Buffer.from([0, 0, 0])]))).toBe('truncated_mp4');
  });

  it('rejects bytes beyond the cap as too_large', async () => {
    expect(await reason(CLIP, 1000, CLIP.length - 1)).toBe('too_large');
    expect(await reason(CLIP, 1000, CLIP.length)).toBe('accepted');
  });
});
