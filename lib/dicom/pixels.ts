/**
 * Frames out of a parsed DICOM, one at a time, as 8-bit RGB; and the burned-in annotation mask.
 *   - JPEG Baseline: one encapsulated frame per fragment group (split on the JPEG SOI marker when the
 *     fragments do not map one to one), decoded with jpeg-js (YBR → RGB by the JPEG colour transform).
 *   - Uncompressed: 8-bit MONOCHROME1/2, RGB or YBR_FULL, planar or interleaved.
 * Masking: when BurnedInAnnotation (0028,0301) is YES or absent, every frame keeps only the pixels inside
 * the SequenceOfUltrasoundRegions (0018,6011) boxes; without regions, the top band (FALLBACK_BAND_FRACTION
 * of the rows, where scanners burn patient name, date and institution) is blanked instead.
 */
import jpeg from 'jpeg-js';
import { RejectedInput } from '#lib/errors.js';
import { JPEG_BASELINE } from './syntax.js';
import type { Dataset } from './deidentify.js';

export const FALLBACK_BAND_FRACTION = 0.12;

export interface Geometry {
  width: number;
  height: number;
  frames: number;
}

export function geometryOf(dataset: Dataset): Geometry {
  const width = Number(dataset.Columns);
  const height = Number(dataset.Rows);
  const frames = Number(dataset.NumberOfFrames ?? 1);
  if (!(width > 0 && height > 0 && frames > 0) || width * height > 4096 * 4096 || frames > 100_000) {
    throw new RejectedInput('dicom_bad_geometry', 'Rows, Columns or NumberOfFrames are missing or out of range');
  }
  return { width, height, frames };
}

/** Frames per second from CineRate, FrameTime (ms) or RecommendedDisplayFrameRate; 30 when none is given. */
export function framesPerSecondOf(dataset: Dataset): number {
  const cine = Number(dataset.CineRate);
  if (cine > 0 && cine <= 1000) return cine;
  const frameTime = Number(Array.isArray(dataset.FrameTime) ? dataset.FrameTime[0] : dataset.FrameTime);
  if (frameTime > 0) return Math.min(1000, Math.max(0.1, 1000 / frameTime));
  const recommended = Number(dataset.RecommendedDisplayFrameRate);
  if (recommended > 0 && recommended <= 1000) return recommended;
  return 30;
}

function encapsulatedFrames(pixelData: ArrayBuffer[], frames: number): Uint8Array[] {
  const fragments = pixelData.map((b) => new Uint8Array(b)).filter((f) => f.length > 0);
  if (fragments.length === frames) return fragments;
  // group fragments: each frame starts with a JPEG SOI (FF D8)
  const grouped: Uint8Array[][] = [];
  for (const fragment of fragments) {
    if (fragment[0] === 0xff && fragment[1] === 0xd8) grouped.push([fragment]);
    else if (grouped.length) grouped[grouped.length - 1].push(fragment);
  }
  if (grouped.length !== frames)
    throw new RejectedInput('dicom_bad_frames', `found ${grouped.length} JPEG frames, NumberOfFrames says ${frames}`);
  return grouped.map((parts) => (parts.length === 1 ? parts[0] : Buffer.concat(parts)));
}

/** Yields each frame as RGB (width × height × 3), decoding lazily. */
export function* rgbFrames(dataset: Dataset, transferSyntaxUid: string): Generator<Uint8Array> {
  const { width, height, frames } = geometryOf(dataset);
  const pixelData = dataset.PixelData as ArrayBuffer[] | undefined;
  if (!pixelData || pixelData.length === 0)
    throw new RejectedInput('dicom_no_pixel_data', 'the DICOM instance has no PixelData (7FE0,0010)');
  if (Number(dataset.BitsAllocated ?? 8) !== 8) throw new RejectedInput('dicom_unsupported_pixels', 'only 8-bit pixels are accepted');
  if (transferSyntaxUid === JPEG_BASELINE) {
    for (const frame of encapsulatedFrames(pixelData, frames)) {
      let image: { width: number; height: number; data: Uint8Array };
      try {
        image = jpeg.decode(frame, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 512 });
      } catch {
        throw new RejectedInput('dicom_bad_frame', 'a JPEG frame does not decode');
      }
      if (image.width !== width || image.height !== height)
        throw new RejectedInput('dicom_bad_frame', 'a JPEG frame does not match Rows × Columns');
      if (image.data.length === width * height) yield grayToRgb(image.data);
      else yield image.data;
    }
    return;
  }
  const samples = Number(dataset.SamplesPerPixel ?? 1);
  const photometric = String(dataset.PhotometricInterpretation ?? '').trim();
  const planar = Number(dataset.PlanarConfiguration ?? 0) === 1;
  const frameBytes = width * height * samples;
  const all = pixelData.length === 1 ? new Uint8Array(pixelData[0]) : Buffer.concat(pixelData.map((b) => new Uint8Array(b)));
  if (all.length < frameBytes * frames) throw new RejectedInput('dicom_bad_frames', 'PixelData is shorter than Rows × Columns × frames');
  for (let f = 0; f < frames; f++) {
    const raw = all.subarray(f * frameBytes, (f + 1) * frameBytes);
    if (samples === 1 && (photometric === 'MONOCHROME2' || photometric === 'MONOCHROME1')) {
      yield grayToRgb(raw, photometric === 'MONOCHROME1');
    } else if (samples === 3 && (photometric === 'RGB' || photometric === 'YBR_FULL')) {
      const rgb = planar ? interleave(raw, width * height) : Uint8Array.from(raw);
      if (photometric === 'YBR_FULL') ybrToRgbInPlace(rgb);
      yield rgb;
    } else {
      throw new RejectedInput(
        'dicom_unsupported_pixels',
        `uncompressed ${photometric || 'unknown'} with ${samples} samples per pixel is not accepted`,
      );
    }
  }
}

function grayToRgb(gray: Uint8Array, invert = false): Uint8Array {
  const rgb = new Uint8Array(gray.length * 3);
  for (let i = 0; i < gray.length; i++) {
    const v = invert ? 255 - gray[i] : gray[i];
    rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = v;
  }
  return rgb;
}

function interleave(planes: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    rgb[i * 3] = planes[i];
    rgb[i * 3 + 1] = planes[pixels + i];
    rgb[i * 3 + 2] = planes[2 * pixels + i];
  }
  return rgb;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
function ybrToRgbInPlace(p: Uint8Array): void {
  for (let i = 0; i < p.length; i += 3) {
    const y = p[i];
    const cb = p[i + 1] - 128;
    const cr = p[i + 2] - 128;
    p[i] = clamp(y + 1.402 * cr);
    p[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    p[i + 2] = clamp(y + 1.772 * cb);
  }
}

export interface Region {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The mask to apply, or undefined when BurnedInAnnotation says NO. 1 = keep, 0 = blank. */
export function annotationMask(dataset: Dataset, geometry: Geometry): { keep: Uint8Array; source: 'regions' | 'band' } | undefined {
  const burnedIn = String(dataset.BurnedInAnnotation ?? '')
    .trim()
    .toUpperCase();
  if (burnedIn === 'NO') return undefined;
  const { width, height } = geometry;
  const keep = new Uint8Array(width * height);
  const regions: Region[] = ((dataset.SequenceOfUltrasoundRegions ?? []) as Dataset[])
    .map((r) => ({
      x0: Number(r.RegionLocationMinX0),
      y0: Number(r.RegionLocationMinY0),
      x1: Number(r.RegionLocationMaxX1),
      y1: Number(r.RegionLocationMaxY1),
    }))
    .filter((r) => [r.x0, r.y0, r.x1, r.y1].every(Number.isFinite) && r.x1 >= r.x0 && r.y1 >= r.y0);
  if (regions.length > 0) {
    for (const r of regions) {
      for (let y = Math.max(0, r.y0); y <= Math.min(height - 1, r.y1); y++) {
        keep.fill(1, y * width + Math.max(0, r.x0), y * width + Math.min(width - 1, r.x1) + 1);
      }
    }
    return { keep, source: 'regions' };
  }
  keep.fill(1, Math.ceil(height * FALLBACK_BAND_FRACTION) * width);
  return { keep, source: 'band' };
}

/** Zeroes every RGB pixel whose mask entry is 0, in place. */
export function applyMask(rgb: Uint8Array, keep: Uint8Array): void {
  for (let i = 0; i < keep.length; i++) {
    if (keep[i] === 0) {
      rgb[i * 3] = 0;
      rgb[i * 3 + 1] = 0;
      rgb[i * 3 + 2] = 0;
    }
  }
}
