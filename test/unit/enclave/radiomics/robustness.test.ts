import { SHARED_DIR } from '#local/service-endpoints.js';
import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { analyzeClip } from '#enclave/analyze-clip.js';
import { decodeFrames, DecodeError } from '#enclave/decode.js';

const VIDEOS = join(SHARED_DIR, 'samples/videos');
const FFMPEG = process.env.FFMPEG_PATH || '/usr/bin/ffmpeg';
const run = promisify(execFile);
let dir: string;

/** Encodes raw BGR frames losslessly (FFV1 in Matroska) so the synthetic colours survive exactly. */
function writeLosslessClip(file: string, frames: Uint8Array[], width: number, height: number): void {
  execFileSync(
    FFMPEG,
    ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${width}x${height}`, '-r', '13', '-i', '-', '-c:v', 'ffv1', file],
    { input: Buffer.concat(frames.map((f) => Buffer.from(f))) },
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'radiomics-robust-'));
});

describe('all sample clips', () => {
  it('analyse without error, each to 57 finite features and an unvalidated label', async () => {
    const clips = readdirSync(VIDEOS)
      .filter((f) => /\.mp4$/i.test(f))
      .sort()
      .map((f) => join(VIDEOS, f));
    expect(clips).toHaveLength(21);
    const helper = new URL('../../../support/radiomics/analyze-clips.ts', import.meta.url).pathname;
    // two processes (the machine has 2 cores), outside jest's sandbox
    const halves = [clips.filter((_, i) => i % 2 === 0), clips.filter((_, i) => i % 2 === 1)];
    const outputs = await Promise.all(
      halves.map((batch) => run(process.execPath, ['--import', 'tsx', helper, ...batch], { maxBuffer: 64 << 20, cwd: process.cwd() })),
    );
    const lines = outputs.flatMap((o) => o.stdout.trim().split('\n')).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(21);
    for (const line of lines) {
      expect(line).toMatchObject({ result: 'ok', label: { label_status: 'unvalidated', label: 'Normal' } });
      expect(Object.keys(line.features)).toHaveLength(57);
      expect(Object.values(line.features).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
      expect(line.frames).toBeGreaterThanOrEqual(10);
      expect(line.label.z).toBeLessThan(0);
    }
  }, 600_000);
});

describe('bad and unusual inputs', () => {
  it('reports a synthetic grey clip as not Doppler', async () => {
    const file = join(dir, 'gray.mp4');
    execFileSync(FFMPEG, [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=240x320:rate=13:duration=0.3',
      '-vf',
      'format=gray',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    const analysis = await analyzeClip(file);
    expect(analysis).toMatchObject({
      doppler: false,
      result: 'not_doppler',
      features: null,
      label: { z: null, label: null, label_status: 'unvalidated' },
      textured_frames: 0,
    });
    expect(analysis.frames).toBeGreaterThan(0);
  });

  it('rejects a zero-length file as empty', async () => {
    const file = join(dir, 'empty.mp4');
    writeFileSync(file, '');
    await expect(analyzeClip(file)).rejects.toMatchObject({ name: 'RejectedInput', reason: 'empty' });
    await expect(analyzeClip(file)).rejects.toBeInstanceOf(DecodeError);
  });

  it('rejects an empty stream as empty', async () => {
    const file = join(dir, 'empty2.mp4');
    writeFileSync(file, '');
    await expect(analyzeClip(createReadStream(file))).rejects.toMatchObject({ reason: 'empty' });
  });

  it('rejects a corrupt MP4 (garbage after a valid header) as not a video', async () => {
    const original = readFileSync(join(VIDEOS, 'VH020213M4_001559_20160429T120933.MP4'));
    const corrupt = Buffer.from(original);
    for (let i = 64; i < corrupt.length; i += 7) corrupt[i] ^= 0x5a;
    const file = join(dir, 'corrupt.mp4');
    writeFileSync(file, corrupt);
    await expect(analyzeClip(file)).rejects.toBeInstanceOf(DecodeError);
  });

  it('rejects a text file as not a video', async () => {
    const file = join(dir, 'notes.mp4');
    writeFileSync(file, 'this is not a video\n');
    await expect(analyzeClip(file)).rejects.toMatchObject({ reason: 'not_a_video' });
  });

  it('reports "no Doppler region" when the only colour sits in the blacked-out colour bar', async () => {
    const width = 240,
      height = 320;
    const frame = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const v = (i * 7919) % 97; // grey speckle
      frame[i * 3] = frame[i * 3 + 1] = frame[i * 3 + 2] = v;
    }
    for (let r = 20; r < 60; r++) {
      for (let c = 4; c < 20; c++) {
        const i = (r * width + c) * 3;
        frame[i] = 255; // pure blue (BGR): passes the HSV Doppler check on frame 0 …
        frame[i + 1] = 0;
        frame[i + 2] = 0;
      }
    }
    const file = join(dir, 'colourbar-only.mkv');
    writeLosslessClip(file, [frame, frame], width, height);
    const analysis = await analyzeClip(file);
    // … but segmentation blacks out the colour bar, so k-means finds only grey clusters
    expect(analysis).toMatchObject({
      doppler: true,
      frames: 2,
      result: 'no_doppler_region',
      features: null,
      label: { z: null, label: null },
      textured_frames: 0,
    });
  });

  it('decodes the same frames from a stream as from a file', async () => {
    const file = join(VIDEOS, 'VH020213M4_001390_20160406T111534.MP4');
    const fromFile: Buffer[] = [];
    for await (const f of decodeFrames(file)) fromFile.push(Buffer.from(f.bgr));
    let n = 0;
    for await (const f of decodeFrames(createReadStream(file))) {
      expect(f.width).toBe(240);
      expect(f.height).toBe(320);
      expect(Buffer.from(f.bgr).equals(fromFile[f.index])).toBe(true);
      n++;
    }
    expect(n).toBe(fromFile.length);
    expect(n).toBe(10);
  });

  it('writes anonymised PNGs 0.png … and hands them to onFrame', async () => {
    const out = join(dir, 'anon');
    const pngs: number[] = [];
    const file = join(dir, 'gray2.mp4');
    execFileSync(FFMPEG, [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=240x320:rate=13:duration=0.3',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    const analysis = await analyzeClip(file, { anonymiseDir: out, onFrame: (e) => void (e.png && pngs.push(e.index)) });
    expect(readdirSync(out).sort()).toEqual(pngs.map((i) => `${i}.png`).sort());
    expect(pngs).toHaveLength(analysis.frames);
  });
});
