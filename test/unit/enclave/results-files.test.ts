import { describe, it, expect } from '@jest/globals';
import { FrameZip } from '#enclave/results.js';
import { encodePngFromBgr } from '#enclave/radiomics/anonymise.js';
import { parseClipAnalysis, ResultFileError } from '#lib/results/analysis.js';
import { csvRow } from '#lib/results/features-csv.js';
import type { ClipRecord } from '#lib/results/clip-records.js';
import { decodePng, thumbnailDataUri } from '#lib/results/thumbnail.js';
import { framePngs, readZip, ZipError } from '#lib/results/zip-reader.js';

async function zipOf(frames: Record<number, Buffer>): Promise<Buffer> {
  const zip = new FrameZip();
  for (const [index, png] of Object.entries(frames)) zip.addFrame(Number(index), png);
  return zip.finish();
}

describe('frame zips', () => {
  it("reads the worker's zip back to the exact frame bytes, in frame order", async () => {
    const frames = { 0: Buffer.from('frame zero'), 10: Buffer.alloc(5000, 7), 2: Buffer.from('two') };
    const read = framePngs(await zipOf(frames));
    expect(read.map((f) => f.index)).toEqual([0, 2, 10]);
    expect(read.map((f) => f.png)).toEqual([frames[0], frames[2], frames[10]]);
  });

  it('refuses a damaged entry by its CRC, and a file that is no zip', async () => {
    const zip = await zipOf({ 0: Buffer.from('stored or deflated, the bytes must check out'.repeat(20)) });
    const damaged = Buffer.from(zip);
    damaged[40] ^= 0xff;
    expect(() => readZip(damaged)).toThrow(ZipError);
    expect(() => readZip(Buffer.from('not a zip at all, just some text that is long enough'))).toThrow(
      'not a zip file (no end of central directory)',
    );
  });
});

describe('thumbnails', () => {
  it("decode the worker's PNG to its exact pixels and shrink a 240-wide frame to 80", () => {
    const width = 240;
    const height = 6;
    const bgr = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
    const rgb = decodePng(encodePngFromBgr(bgr, width, height))!;
    expect([rgb.width, rgb.height]).toEqual([width, height]);
    for (let p = 0; p < width * height; p++)
      expect([rgb.pixels[p * 3], rgb.pixels[p * 3 + 1], rgb.pixels[p * 3 + 2]]).toEqual([bgr[p * 3 + 2], bgr[p * 3 + 1], bgr[p * 3]]);
    const thumb = decodePng(Buffer.from(thumbnailDataUri(encodePngFromBgr(bgr, width, height)).split(',')[1], 'base64'))!;
    expect([thumb.width, thumb.height]).toEqual([80, 2]);
  });

  it('embed a PNG they cannot decode as it is', () => {
    const odd = Buffer.from('not a png');
    expect(thumbnailDataUri(odd)).toBe(`data:image/png;base64,${odd.toString('base64')}`);
  });
});

describe('result files', () => {
  it('refuses an analysis of another shape, naming where', () => {
    expect(() => parseClipAnalysis('{"item_id":"x"}', 'abc.json')).toThrow(ResultFileError);
    expect(() => parseClipAnalysis('[1,', 'abc.json')).toThrow('abc.json is not JSON');
    expect(() =>
      parseClipAnalysis(
        JSON.stringify({
          item_id: 'f'.repeat(32),
          result: 'ok',
          doppler: true,
          frames: 1,
          textured_frames: 1,
          frames_without_doppler_region: 0,
          features: null,
          per_frame: [],
          label: { rule: 'r', z: 1, label: 'RHD', label_status: 'validated' },
          view: 'not_assessed',
        }),
        'abc.json',
      ),
    ).toThrow(/^abc\.json is not a result file of this version \(label\.label_status: /);
  });

  it('quotes CSV fields with commas or quotes, and leaves numbers exact', () => {
    const record: ClipRecord = {
      videoId: 'f'.repeat(32),
      source: 'demo/a,"b".mp4',
      route: 's3',
      stage: 'failed',
      reason: 'analysis_failed',
      analysis: null,
      error: null,
      framesZip: null,
      problem: null,
    };
    expect(csvRow(record).slice(0, 6)).toEqual(['f'.repeat(32), '"demo/a,""b"".mp4"', 's3', 'failed', 'analysis_failed', '']);
  });
});
