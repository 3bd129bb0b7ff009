/**
 * Colour conversions, bit-exact with the libraries the original pipeline used:
 * - OpenCV 4.6 8-bit BGR2HSV (imgproc/src/color_hsv.simd.hpp, RGB2HSV_b, hrange 180) and BGR2GRAY;
 * - scikit-image `rgb2lab` (float64, D65 / 2°), then cast to float32.
 */
import { SRGB_TO_LINEAR } from './srgb-linear-table.js';
import { fusedMultiplyAdd as fma, glibcCbrt } from './float-ops.js';

export { SRGB_TO_LINEAR };

/** OpenCV `cvRound` / `saturate_cast<int>(double)`: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

const HSV_SHIFT = 12;
const HSV_ROUND = 1 << (HSV_SHIFT - 1);
const SDIV_TABLE = new Int32Array(256);
const HDIV_TABLE_180 = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SDIV_TABLE[i] = roundHalfEven((255 << HSV_SHIFT) / (1 * i));
  HDIV_TABLE_180[i] = roundHalfEven((180 << HSV_SHIFT) / (6 * i));
}

/**
 * One 8-bit BGR pixel to OpenCV HSV (H 0..179, S and V 0..255), packed as h << 16 | s << 8 | v
 * (no allocation: used per pixel).
 */
export function bgrToHsvPacked(b: number, g: number, r: number): number {
  let v = b;
  let vmin = b;
  if (g > v) v = g;
  if (r > v) v = r;
  if (g < vmin) vmin = g;
  if (r < vmin) vmin = r;
  const diff = v - vmin;
  const vr = v === r ? -1 : 0;
  const vg = v === g ? -1 : 0;
  const s = (diff * SDIV_TABLE[v] + HSV_ROUND) >> HSV_SHIFT;
  let h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))));
  h = (h * HDIV_TABLE_180[diff] + HSV_ROUND) >> HSV_SHIFT;
  h += h < 0 ? 180 : 0;
  if (h > 255) h = 255; // saturate_cast<uchar>
  return (h << 16) | (s << 8) | v;
}

/** One 8-bit BGR pixel to OpenCV HSV: [h, s, v]. */
export function bgrToHsv(b: number, g: number, r: number): [number, number, number] {
  const p = bgrToHsvPacked(b, g, r);
  return [p >>> 16, (p >>> 8) & 255, p & 255];
}

/** OpenCV 8-bit BGR2GRAY: (3735·B + 19235·G + 9798·R + 16384) >> 15. */
export function grayOpenCv(b: number, g: number, r: number): number {
  return (3735 * b + 19235 * g + 9798 * r + 16384) >> 15;
}

const M00 = 0.412453,
  M01 = 0.35758,
  M02 = 0.180423;
const M10 = 0.212671,
  M11 = 0.71516,
  M12 = 0.072169;
const M20 = 0.019334,
  M21 = 0.119193,
  M22 = 0.950227;
const WHITE_X = 0.95047,
  WHITE_Y = 1.0,
  WHITE_Z = 1.08883;

function labF(t: number): number {
  return t > 0.008856 ? glibcCbrt(t) : 7.787 * t + 16 / 116;
}

/**
 * skimage `rgb2lab` of one pixel whose channels are (c0, c1, c2) taken as (R, G, B), cast to float32.
 * The original fed OpenCV's BGR array here as if it were RGB, so callers pass (B, G, R) — see segmentation.ts.
 * Writes L, a, b into out[o..o+2].
 */
export function rgbToLabF32(c0: number, c1: number, c2: number, out: Float32Array, o: number): void {
  const r = SRGB_TO_LINEAR[c0],
    g = SRGB_TO_LINEAR[c1],
    b = SRGB_TO_LINEAR[c2];
  // numpy `arr @ xyz_from_rgb.T` (OpenBLAS dgemm with FMA): fma(b, m2, fma(g, m1, r·m0)).
  const x = fma(b, M02, fma(g, M01, r * M00));
  const y = fma(b, M12, fma(g, M11, r * M10));
  const z = fma(b, M22, fma(g, M21, r * M20));
  const fx = labF(x / WHITE_X);
  const fy = labF(y / WHITE_Y);
  const fz = labF(z / WHITE_Z);
  out[o] = 116 * fy - 16;
  out[o + 1] = 500 * (fx - fy);
  out[o + 2] = 200 * (fy - fz);
}
