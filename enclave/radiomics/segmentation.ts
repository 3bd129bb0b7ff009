/**
 * `doppler_segmentation.segmentation` of the original pipeline, per frame (§3 of docs/radiomics.md).
 * Frames are 8-bit BGR, H × W × 3, row-major (OpenCV layout).
 */
import { grayOpenCv, rgbToLabF32 } from './color.js';
import { kmeansPP, type SampleGroups } from './kmeans.js';
import type { CvRng } from './rng.js';

const { imul, trunc } = Math;
// Globals (Math, Infinity, …) are read once here: inside jest's vm sandbox every global lookup in a hot loop goes
// through the context's interceptors and is very slow.

export const KMEANS_CLUSTERS = 8;
export const KMEANS_ATTEMPTS = 10;
export const KMEANS_CRITERIA = { maxCount: 10, epsilon: 0.01 } as const;

export interface Segmentation {
  /** the Doppler-cluster pixels (others black), masked by an eroded `gray > 1` (BGR, same size as the frame) */
  segmented: Uint8Array;
  /** the pixels of every other cluster (BGR) */
  anatomic: Uint8Array;
  /** false when no cluster qualifies as Doppler (the original crashed there); both images are then black/whole */
  foundDoppler: boolean;
  /** k-means centres truncated to uint8 with wrap-around, K × 3 (L, a, b) */
  centersU8: Uint8Array;
  dopplerClusters: boolean[];
}

/** Blacks out the colour bar, the right margin and the depth label (row ranges × column ranges, end-exclusive). */
export function blackOutOverlays(frame: Uint8Array, width: number, height: number): void {
  const boxes: [number, number, number, number][] = [
    [1, 150, 1, 25],
    [0, height, 230, 240],
    [305, 320, 200, 240],
  ];
  for (const [r0, r1, c0, c1] of boxes) {
    const rEnd = Math.min(r1, height);
    const cEnd = Math.min(c1, width);
    for (let r = Math.min(r0, height); r < rEnd; r++) {
      const c = Math.min(c0, width);
      if (c < cEnd) frame.fill(0, (r * width + c) * 3, (r * width + cEnd) * 3);
    }
  }
}

/**
 * Groups the pixels by BGR value and converts each distinct value to Lab once. skimage `rgb2lab` is fed the BGR
 * array as if it were RGB (the original's quirk, kept: the clustering depends on it).
 */
export function labOfFrame(frame: Uint8Array, n: number): { lab: Float32Array; groups: SampleGroups } {
  let bitsOfTable = 10;
  while (1 << bitsOfTable < 2 * n) bitsOfTable++;
  const slotOfColour = new Int32Array(1 << bitsOfTable).fill(-1); // open addressing on the 24-bit colour
  const keyOfSlot = new Int32Array(1 << bitsOfTable);
  const index = new Int32Array(n);
  const colours = new Int32Array(n);
  let count = 0;
  const mask = (1 << bitsOfTable) - 1;
  for (let i = 0; i < n; i++) {
    const key = (frame[i * 3] << 16) | (frame[i * 3 + 1] << 8) | frame[i * 3 + 2];
    let h = imul(key, 0x9e3779b1) >>> (32 - bitsOfTable);
    for (;;) {
      const s = slotOfColour[h];
      if (s < 0) {
        slotOfColour[h] = count;
        keyOfSlot[h] = key;
        index[i] = count;
        colours[count++] = key;
        break;
      }
      if (keyOfSlot[h] === key) {
        index[i] = s;
        break;
      }
      h = (h + 1) & mask;
    }
  }
  const values = new Float32Array(count * 3);
  for (let u = 0; u < count; u++) labOfColourCached(colours[u], values, u * 3);
  const lab = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const u = index[i] * 3;
    lab[i * 3] = values[u];
    lab[i * 3 + 1] = values[u + 1];
    lab[i * 3 + 2] = values[u + 2];
  }
  return { lab, groups: { index, values, count } };
}

/**
 * Lab values of colours already converted (frames of a clip share most colours; the conversion is a pure function of
 * the colour). Open addressing on the 24-bit key; cleared when half full, so memory stays bounded (~1.3 MB).
 */
const LAB_CACHE_BITS = 16;
const LAB_CACHE_SIZE = 1 << LAB_CACHE_BITS;
const labCacheKey = new Int32Array(LAB_CACHE_SIZE).fill(-1);
const labCacheValue = new Float32Array(LAB_CACHE_SIZE * 3);
let labCacheCount = 0;

/** rgbToLabF32 of the colour key (c0 << 16 | c1 << 8 | c2) into out[o..o+2], through the cache. */
function labOfColourCached(key: number, out: Float32Array, o: number): void {
  let h = imul(key, 0x9e3779b1) >>> (32 - LAB_CACHE_BITS);
  for (;;) {
    const k = labCacheKey[h];
    if (k === key) {
      out[o] = labCacheValue[h * 3];
      out[o + 1] = labCacheValue[h * 3 + 1];
      out[o + 2] = labCacheValue[h * 3 + 2];
      return;
    }
    if (k < 0) break;
    h = (h + 1) & (LAB_CACHE_SIZE - 1);
  }
  rgbToLabF32(key >>> 16, (key >>> 8) & 255, key & 255, out, o);
  if (labCacheCount >= LAB_CACHE_SIZE >> 1) {
    labCacheKey.fill(-1);
    labCacheCount = 0;
    h = imul(key, 0x9e3779b1) >>> (32 - LAB_CACHE_BITS);
    while (labCacheKey[h] >= 0) h = (h + 1) & (LAB_CACHE_SIZE - 1);
  }
  labCacheKey[h] = key;
  labCacheValue[h * 3] = out[o];
  labCacheValue[h * 3 + 1] = out[o + 1];
  labCacheValue[h * 3 + 2] = out[o + 2];
  labCacheCount++;
}

/** np.uint8 of a float32: truncate towards zero, keep the low 8 bits (−30.7 → 226). */
export function wrapToUint8(x: number): number {
  return trunc(x) & 255;
}

/** A cluster is Doppler when L > 10 and (20 < a < 230 or 20 < b < 230), on the wrapped uint8 centre. */
export function isDopplerCluster(l: number, a: number, b: number): boolean {
  return l > 10 && ((a > 20 && a < 230) || (b > 20 && b < 230));
}

/**
 * 3×3 erosion with the elliptical kernel (a cross), OpenCV's default border (pixels outside never erode).
 */
export function erodeCross(src: Uint8Array, width: number, height: number): Uint8Array {
  const dst = new Uint8Array(src.length);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      let m = src[i];
      if (c > 0 && src[i - 1] < m) m = src[i - 1];
      if (c < width - 1 && src[i + 1] < m) m = src[i + 1];
      if (r > 0 && src[i - width] < m) m = src[i - width];
      if (r < height - 1 && src[i + width] < m) m = src[i + width];
      dst[i] = m;
    }
  }
  return dst;
}

/**
 * Segments one frame. `frame` is modified (the overlays are blacked out), as in the original.
 * `rng` is the clip's k-means generator; it advances by exactly what OpenCV's theRNG() would.
 */
export function segmentFrame(frame: Uint8Array, width: number, height: number, rng: CvRng): Segmentation {
  const n = width * height;
  blackOutOverlays(frame, width, height);
  const { lab, groups } = labOfFrame(frame, n);
  const { labels, centers } = kmeansPP(lab, n, KMEANS_CLUSTERS, KMEANS_CRITERIA, KMEANS_ATTEMPTS, rng, groups);

  const centersU8 = new Uint8Array(KMEANS_CLUSTERS * 3);
  const dopplerClusters: boolean[] = [];
  for (let k = 0; k < KMEANS_CLUSTERS; k++) {
    for (let j = 0; j < 3; j++) centersU8[k * 3 + j] = wrapToUint8(centers[k * 3 + j]);
    dopplerClusters.push(isDopplerCluster(centersU8[k * 3], centersU8[k * 3 + 1], centersU8[k * 3 + 2]));
  }
  const foundDoppler = dopplerClusters.some(Boolean);

  const doppler = new Uint8Array(n * 3);
  const anatomic = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const target = dopplerClusters[labels[i]] ? doppler : anatomic;
    target[i * 3] = frame[i * 3];
    target[i * 3 + 1] = frame[i * 3 + 1];
    target[i * 3 + 2] = frame[i * 3 + 2];
  }

  const grayMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    grayMask[i] = grayOpenCv(doppler[i * 3], doppler[i * 3 + 1], doppler[i * 3 + 2]) > 1 ? 255 : 0;
  }
  const eroded = erodeCross(grayMask, width, height);
  for (let i = 0; i < n; i++) {
    if (eroded[i] === 0) {
      doppler[i * 3] = 0;
      doppler[i * 3 + 1] = 0;
      doppler[i * 3 + 2] = 0;
    }
  }
  return { segmented: doppler, anatomic, foundDoppler, centersU8, dopplerClusters };
}
