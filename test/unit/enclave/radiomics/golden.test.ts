import { SHARED_DIR } from '#local/service-endpoints.js';
import { join } from 'node:path';
import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { analyzeClip } from '#enclave/analyze-clip.js';
import { CLIP_FEATURE_NAMES } from '#enclave/radiomics/aggregate.js';
import { TEXTURE_FEATURE_NAMES } from '#enclave/radiomics/texture.js';
import { decodeFrames } from '#enclave/decode.js';
import { CvRng } from '#enclave/radiomics/rng.js';
import { segmentFrame } from '#enclave/radiomics/segmentation.js';

const GOLDEN = join(SHARED_DIR, 'samples/golden');
const VIDEOS = join(SHARED_DIR, 'samples/videos');
const CLIPS = ['VH020213M4_001390_20160406T111534', 'VH020213M4_001559_20160429T120933'];
const MAX_RELATIVE_ERROR = 1e-9;

interface Golden {
  frames: number;
  textured_frames: number;
  per_frame: (number | null)[][];
  features: (number | null)[];
  decision: number;
  label: 0 | 1;
}

/** |a − b| / |b|, with NaN (null in the JSON) equal only to NaN. */
function relativeError(actual: number, expected: number | null): number {
  const e = expected === null ? NaN : expected;
  if (Number.isNaN(actual) || Number.isNaN(e)) return Number.isNaN(actual) && Number.isNaN(e) ? 0 : Infinity;
  if (actual === e) return 0;
  return Math.abs(actual - e) / Math.abs(e);
}

describe.each(CLIPS)('golden clip %s', (clip) => {
  const golden = JSON.parse(readFileSync(`${GOLDEN}/${clip}.json`, 'utf8')) as Golden;

  it('reproduces the per-frame features, the 57-vector, z and the label of the original, compared by name', async () => {
    const analysis = await analyzeClip(`${VIDEOS}/${clip}.MP4`);
    expect(analysis.result).toBe('ok');
    expect(analysis.doppler).toBe(true);
    expect(analysis.frames).toBe(golden.frames);
    expect(analysis.textured_frames).toBe(golden.textured_frames);
    expect(analysis.per_frame).toHaveLength(golden.per_frame.length);
    let worst = 0;
    for (const [f, row] of analysis.per_frame.entries()) {
      expect(Object.keys(row)).toEqual(['frame', ...TEXTURE_FEATURE_NAMES]);
      for (const [i, name] of TEXTURE_FEATURE_NAMES.entries()) worst = Math.max(worst, relativeError(row[name], golden.per_frame[f][i]));
    }
    expect(worst).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
    expect(Object.keys(analysis.features!)).toEqual(CLIP_FEATURE_NAMES);
    expect(Object.keys(analysis.features!)).toHaveLength(57);
    let worstClip = 0;
    for (const [i, name] of CLIP_FEATURE_NAMES.entries()) {
      worstClip = Math.max(worstClip, relativeError(analysis.features![name], golden.features[i]));
    }
    expect(worstClip).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
    expect(relativeError(analysis.label.z!, golden.decision)).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
    expect(analysis.label.label).toBe(golden.label === 0 ? 'Normal' : 'RHD');
    expect(analysis.label.label_status).toBe('unvalidated');
    expect(analysis.view).toBe('not_assessed');
  });
});

describe('golden segmentation', () => {
  it('matches the original segmented and anatomic images pixel for pixel on every frame', async () => {
    const clip = CLIPS[0];
    const segmented = readFileSync(`${GOLDEN}/${clip}.segmented.bgr`);
    const anatomic = readFileSync(`${GOLDEN}/${clip}.anatomic.bgr`);
    const rng = new CvRng();
    let frames = 0;
    let differingBytes = 0;
    for await (const frame of decodeFrames(`${VIDEOS}/${clip}.MP4`)) {
      const size = frame.width * frame.height * 3;
      const offset = frame.index * size;
      const s = segmentFrame(frame.bgr, frame.width, frame.height, rng);
      for (let i = 0; i < size; i++) {
        if (s.segmented[i] !== segmented[offset + i]) differingBytes++;
        if (s.anatomic[i] !== anatomic[offset + i]) differingBytes++;
      }
      frames++;
    }
    expect(frames * 320 * 240 * 3).toBe(segmented.length);
    expect(differingBytes).toBe(0);
  });
});
