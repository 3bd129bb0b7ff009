/** enclave/results.ts: item ids from URLs, the frame zip, the result JSON. */
import { describe, expect, it } from '@jest/globals';
import type { ClipAnalysis, FrameFeatures } from '#enclave/analyze-clip.js';
import { analysisJson, clipJson, errorJson, FrameZip, type ItemFailure } from '#enclave/results.js';
import { itemIdOfUrl as itemIdFromUrl } from '#lib/contract.js';
import { readZip } from '#test/fixtures/enclave/zip-reader.js';

describe('item id', () => {
  it('is the last path segment without query string and without .mp4', () => {
    expect(
      itemIdFromUrl(
        'http://127.0.0.1:8080/v1/AUTH_test/9d3f0c1e/2042452763ee0b5677208217a692b371.mp4?temp_url_sig=3f1a&temp_url_expires=1900000000',
      ),
    ).toBe('2042452763ee0b5677208217a692b371');
    expect(itemIdFromUrl('https://swift.example/v1/AUTH_x/c/2042452763ee0b5677208217a692b371.MP4')).toBe(
      '2042452763ee0b5677208217a692b371',
    );
    expect(itemIdFromUrl('https://swift.example/v1/AUTH_x/c/abc')).toBe('abc');
    expect(itemIdFromUrl('https://swift.example/v1/AUTH_x/c/a%20b.mp4#frag')).toBe('a b');
    expect(itemIdFromUrl('https://swift.example/v1/AUTH_x/c/a%7Fb.mp4')).toBe('a\u007fb');
  });

  it('ignores the surrounding whitespace of a workload line (e.g. a CR)', () => {
    expect(itemIdFromUrl('https://swift.example/c/abc.mp4\r')).toBe('abc');
  });

  it('rejects what cannot name a result', () => {
    for (const bad of [
      'not a url',
      'ftp://h/a.mp4',
      'https://h/',
      'https://h/c/.mp4',
      'https://h/c/%2F.mp4',
      'https://h/c/%E0%A4%A.mp4',
      'https://h/c/a%00.mp4',
      'https://h/c/a%1Fb.mp4',
    ]) {
      let reason = '';
      try {
        itemIdFromUrl(bad);
      } catch (error) {
        reason = (error as ItemFailure).reason;
      }
      expect([bad, reason]).toEqual([bad, 'invalid_url']);
    }
  });
});

describe('frame zip', () => {
  const frames = [Buffer.from('frame zero'), Buffer.from('frame one'), Buffer.alloc(5000, 7)];

  it('holds bare, ordered entries 0.png … N-1.png, deflated', async () => {
    const zip = new FrameZip();
    for (const [index, png] of frames.entries()) zip.addFrame(index, png);
    const entries = readZip(await zip.finish());
    expect(entries.map((e) => e.name)).toEqual(['0.png', '1.png', '2.png']);
    expect(entries.map((e) => e.method)).toEqual([8, 8, 8]);
    expect(entries.map((e) => e.data)).toEqual(frames);
  });

  it('is byte-identical for the same frames (a re-processed item overwrites with the same zip)', async () => {
    const make = async () => {
      const zip = new FrameZip();
      for (const [index, png] of frames.entries()) zip.addFrame(index, png);
      return zip.finish();
    };
    const first = await make();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await make()).equals(first)).toBe(true);
  });

  it('an empty zip is valid', async () => {
    expect(readZip(await new FrameZip().finish())).toEqual([]);
  });
});

describe('result JSON', () => {
  const analysis: ClipAnalysis = {
    result: 'ok',
    doppler: true,
    frames: 2,
    textured_frames: 2,
    frames_without_doppler_region: 0,
    features: { mean_autoCorrelation: 1.5, mean_clusterProminence: Number.NaN, maxVelocityOfMaxAutoCorrelationFrame: -0.25 },
    per_frame: [{ frame: 3, autoCorrelation: 1, clusterProminence: Number.POSITIVE_INFINITY } as FrameFeatures],
    label: { rule: 'z > 0 is RHD', z: -1229.5, label: 'Normal', label_status: 'unvalidated' },
    view: 'not_assessed',
  };

  it('is the CLI --json object with item_id first, features by name and non-finite numbers as null', () => {
    const body =
      '"result":"ok","doppler":true,"frames":2,"textured_frames":2,"frames_without_doppler_region":0,' +
      '"features":{"mean_autoCorrelation":1.5,"mean_clusterProminence":null,"maxVelocityOfMaxAutoCorrelationFrame":-0.25},' +
      '"per_frame":[{"frame":3,"autoCorrelation":1,"clusterProminence":null}],' +
      '"label":{"rule":"z > 0 is RHD","z":-1229.5,"label":"Normal","label_status":"unvalidated"},"view":"not_assessed"}';
    expect(analysisJson('abc', analysis)).toBe(`{"item_id":"abc",${body}`);
    expect(clipJson(analysis)).toBe(`{${body}`);
  });

  it('an error object names the item and the reason only', () => {
    expect(errorJson('abc', 'authentication_failed')).toBe('{"item_id":"abc","reason":"authentication_failed"}');
  });
});
