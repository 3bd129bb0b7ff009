/**
 * `texture_analysis.textures` of the original pipeline (§4 of docs/radiomics.md): 28 features per segmented frame.
 *
 *  0 autoCorrelation      7 dissimilarity       14 maximumProbability   21 mean
 *  1 clusterProminence    8 energy (ASM)        15 sumAverage           22 std
 *  2 clusterShade         9 entropy             16 sumEntropy           23 median
 *  3 contrast            10 homogeneity         17 sumOfSquaresVariance 24 p25
 *  4 correlation         11 imc1                18 sumVariance          25 p75
 *  5 differenceEntropy   12 imc2                19 kurtosis             26 maxVelocity
 *  6 differenceVariance  13 inverseDifference   20 skewness             27 meanVelocity
 */
import { TEXTURE_FEATURE_COUNT, TEXTURE_FEATURE_NAMES } from '#lib/radiomics/feature-names.js';
import { grayOpenCv } from './color.js';

export { TEXTURE_FEATURE_COUNT, TEXTURE_FEATURE_NAMES };

const { log, sqrt, exp, max, min, floor, pow } = Math;
const isNotANumber = Number.isNaN;
// Globals (Math, Infinity, …) are read once here: inside jest's vm sandbox every global lookup in a hot loop goes
// through the context's interceptors and is very slow.

export const GLCM_FEATURE_COUNT = 19;
export const GLCM_LEVELS = 64;
/** (row, col) offsets of the angles 0, π/4, π/2, 3π/4 at distance 1 */
export const GLCM_OFFSETS: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 1],
  [1, 0],
  [1, -1],
];

/**
 * Quantised grey levels: Z = round_half_even(gray / 4) with OpenCV's integer BGR2GRAY, values 0..64.
 * 0 stands for the original's NaN (pixels outside the segmentation).
 */
export function quantisedGray(bgr: Uint8Array, n: number): Uint8Array {
  const z = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const g = grayOpenCv(bgr[i * 3], bgr[i * 3 + 1], bgr[i * 3 + 2]);
    // round half to even of g/4: the remainder 2 is the half case
    let q = g >> 2;
    const rem = g & 3;
    if (rem > 2 || (rem === 2 && (q & 1) === 1)) q++;
    z[i] = q;
  }
  return z;
}

/** True when any byte of the frame is non-zero. */
export function hasAnyPixel(bgr: Uint8Array): boolean {
  for (let i = 0; i < bgr.length; i++) if (bgr[i] !== 0) return true;
  return false;
}

/**
 * Co-occurrence counts for one offset (non-symmetric, `counts[v1 * 64 + v2]` for reference value v1 and neighbour
 * value v2). Pairs with a NaN (0) or a level ≥ 64 are skipped.
 */
export function glcmCounts(z: Uint8Array, width: number, height: number, dr: number, dc: number, counts: Float64Array): number {
  counts.fill(0);
  let total = 0;
  const r1 = height - dr;
  const c0 = dc < 0 ? -dc : 0;
  const c1 = dc > 0 ? width - dc : width;
  for (let r = 0; r < r1; r++) {
    const row = r * width;
    const nrow = (r + dr) * width + dc;
    for (let c = c0; c < c1; c++) {
      const a = z[row + c];
      if (a === 0 || a >= GLCM_LEVELS) continue;
      const b = z[nrow + c];
      if (b === 0 || b >= GLCM_LEVELS) continue;
      counts[a * GLCM_LEVELS + b]++;
      total++;
    }
  }
  return total;
}

/**
 * The 19 GLCM features of one normalised matrix p (64 × 64, entries indexed by 0-based level; the formulas use
 * 1-based i, j). Writes into out[0..18].
 */
export function glcmFeatures(p: Float64Array, out: Float64Array): void {
  const L = GLCM_LEVELS;
  const px = new Float64Array(L);
  const py = new Float64Array(L);
  const pSum = new Float64Array(2 * L + 1); // index k = i + j (2..128)
  const pDiff = new Float64Array(L); // index |i - j|
  let autoCorrelation = 0,
    contrast = 0,
    dissimilarity = 0,
    energy = 0,
    entropy = 0,
    homogeneity = 0;
  let inverseDifference = 0,
    maximumProbability = 0;
  for (let a = 0; a < L; a++) {
    const i = a + 1;
    for (let b = 0; b < L; b++) {
      const v = p[a * L + b];
      if (v === 0) continue;
      const j = b + 1;
      px[a] += v;
      py[b] += v;
      const d = i > j ? i - j : j - i;
      pSum[i + j] += v;
      pDiff[d] += v;
      autoCorrelation += i * j * v;
      energy += v * v;
      entropy -= v * log(v);
      homogeneity += v / (1 + d * d);
      inverseDifference += v / (1 + d);
      if (v > maximumProbability) maximumProbability = v;
    }
  }
  let mux = 0,
    muy = 0;
  for (let a = 0; a < L; a++) {
    mux += (a + 1) * px[a];
    muy += (a + 1) * py[a];
  }
  let sumOfSquaresVariance = 0,
    clusterProminence = 0,
    clusterShade = 0,
    hxy1 = 0;
  for (let a = 0; a < L; a++) {
    const i = a + 1;
    for (let b = 0; b < L; b++) {
      const v = p[a * L + b];
      if (v === 0) continue;
      const j = b + 1;
      const di = i - mux;
      sumOfSquaresVariance += di * di * v;
      const s = i + j - mux - muy;
      const s2 = s * s;
      clusterShade += s2 * s * v;
      clusterProminence += s2 * s2 * v;
      hxy1 -= v * log(px[a] * py[b]);
    }
  }
  let hxy2 = 0;
  for (let a = 0; a < L; a++) {
    if (px[a] === 0) continue;
    for (let b = 0; b < L; b++) {
      const q = px[a] * py[b];
      if (q === 0) continue;
      hxy2 -= q * log(q);
    }
  }
  let hx = 0,
    hy = 0;
  for (let a = 0; a < L; a++) {
    if (px[a] > 0) hx -= px[a] * log(px[a]);
    if (py[a] > 0) hy -= py[a] * log(py[a]);
  }
  let differenceEntropy = 0;
  for (let k = 0; k < L; k++) {
    const v = pDiff[k];
    if (v === 0) continue;
    contrast += k * k * v;
    dissimilarity += k * v;
    differenceEntropy -= v * log(v);
  }
  let differenceVariance = 0;
  for (let k = 0; k < L; k++) {
    const d = k - dissimilarity;
    differenceVariance += d * d * pDiff[k];
  }
  let sumAverage = 0,
    sumEntropy = 0;
  for (let k = 2; k <= 2 * L; k++) {
    const v = pSum[k];
    if (v === 0) continue;
    sumAverage += k * v;
    sumEntropy -= v * log(v);
  }
  let sumVariance = 0;
  for (let k = 2; k <= 2 * L; k++) {
    const d = k - sumAverage;
    sumVariance += d * d * pSum[k];
  }
  // skimage graycoprops 'correlation': 1 when either deviation is below 1e-15
  let varI = 0,
    varJ = 0,
    cov = 0;
  for (let a = 0; a < L; a++) {
    for (let b = 0; b < L; b++) {
      const v = p[a * L + b];
      if (v === 0) continue;
      const di = a + 1 - mux;
      const dj = b + 1 - muy;
      varI += v * di * di;
      varJ += v * dj * dj;
      cov += v * di * dj;
    }
  }
  const stdI = sqrt(varI);
  const stdJ = sqrt(varJ);
  const correlation = stdI < 1e-15 || stdJ < 1e-15 ? 1 : cov / (stdI * stdJ);
  const imc1 = (entropy - hxy1) / max(hx, hy);
  const imc2 = sqrt(1 - exp(-2 * (hxy2 - entropy)));

  out[0] = autoCorrelation;
  out[1] = clusterProminence;
  out[2] = clusterShade;
  out[3] = contrast;
  out[4] = correlation;
  out[5] = differenceEntropy;
  out[6] = differenceVariance;
  out[7] = dissimilarity;
  out[8] = energy;
  out[9] = entropy;
  out[10] = homogeneity;
  out[11] = imc1;
  out[12] = imc2;
  out[13] = inverseDifference;
  out[14] = maximumProbability;
  out[15] = sumAverage;
  out[16] = sumEntropy;
  out[17] = sumOfSquaresVariance;
  out[18] = sumVariance;
}

/** The 19 GLCM features averaged over the 4 angles with nanmean. */
export function glcmFeaturesMean(z: Uint8Array, width: number, height: number): Float64Array {
  const counts = new Float64Array(GLCM_LEVELS * GLCM_LEVELS);
  const perAngle = new Float64Array(GLCM_FEATURE_COUNT);
  const sums = new Float64Array(GLCM_FEATURE_COUNT);
  const valid = new Int32Array(GLCM_FEATURE_COUNT);
  for (const [dr, dc] of GLCM_OFFSETS) {
    const total = glcmCounts(z, width, height, dr, dc, counts);
    if (total === 0) continue; // 0/0 normalisation: every feature NaN for this angle
    for (let i = 0; i < counts.length; i++) counts[i] /= total;
    glcmFeatures(counts, perAngle);
    for (let f = 0; f < GLCM_FEATURE_COUNT; f++) {
      if (isNotANumber(perAngle[f])) continue;
      sums[f] += perAngle[f];
      valid[f]++;
    }
  }
  const out = new Float64Array(GLCM_FEATURE_COUNT);
  for (let f = 0; f < GLCM_FEATURE_COUNT; f++) out[f] = valid[f] === 0 ? NaN : sums[f] / valid[f];
  return out;
}

/** numpy's linear-interpolation percentile on sorted data (`_lerp`, including its t ≥ 0.5 branch). */
function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const virtualIndex = q * (n - 1);
  const lo = floor(virtualIndex);
  const hi = min(lo + 1, n - 1);
  const t = virtualIndex - lo;
  const a = sorted[lo],
    b = sorted[hi];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * First-order statistics of the non-zero values of uint8(Z): kurtosis (Pearson, biased), skewness (biased),
 * mean, population std, median, p25, p75. Writes into out[0..6].
 */
export function firstOrderFeatures(z: Uint8Array, out: Float64Array): void {
  const histogram = new Float64Array(256);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    const v = z[i];
    if (v === 0) continue;
    histogram[v]++;
    n++;
    sum += v;
  }
  if (n === 0) {
    out.fill(NaN, 0, 7);
    return;
  }
  const mean = sum / n;
  let m2 = 0,
    m3 = 0,
    m4 = 0;
  for (let v = 1; v < 256; v++) {
    const c = histogram[v];
    if (c === 0) continue;
    const d = v - mean;
    const d2 = d * d;
    m2 += c * d2;
    m3 += c * d2 * d;
    m4 += c * d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const sorted = new Uint8Array(n);
  let k = 0;
  for (let v = 1; v < 256; v++) for (let c = histogram[v]; c > 0; c--) sorted[k++] = v;
  out[0] = m4 / (m2 * m2);
  out[1] = m3 / pow(m2, 1.5);
  out[2] = mean;
  out[3] = sqrt(m2);
  out[4] = percentileSorted(sorted, 0.5);
  out[5] = percentileSorted(sorted, 0.25);
  out[6] = percentileSorted(sorted, 0.75);
}

/**
 * OpenCV 8-bit GaussianBlur, ksize 3×3, σ = 8/√(8 ln 2): the bit-exact fixed-point path with kernel
 * [84, 88, 84]/256 on both axes, border reflect-101, result (Σ + 32768) >> 16.
 */
export function gaussianBlur3x3(src: Uint8Array, width: number, height: number): Uint8Array {
  const k0 = 84,
    k1 = 88;
  const rows = new Uint32Array(width * height); // horizontal pass, 8.8 fixed point
  for (let r = 0; r < height; r++) {
    const o = r * width;
    for (let c = 0; c < width; c++) {
      const left = c > 0 ? c - 1 : width > 1 ? 1 : 0;
      const right = c < width - 1 ? c + 1 : width > 1 ? width - 2 : 0;
      rows[o + c] = k0 * src[o + left] + k1 * src[o + c] + k0 * src[o + right];
    }
  }
  const dst = new Uint8Array(width * height);
  for (let r = 0; r < height; r++) {
    const up = r > 0 ? r - 1 : height > 1 ? 1 : 0;
    const down = r < height - 1 ? r + 1 : height > 1 ? height - 2 : 0;
    for (let c = 0; c < width; c++) {
      const s = k0 * rows[up * width + c] + k1 * rows[r * width + c] + k0 * rows[down * width + c];
      const v = (s + 32768) >>> 16;
      dst[r * width + c] = Math.min(v, 255);
    }
  }
  return dst;
}

/** maxVelocity = 0.64·max/64 and meanVelocity = 0.64·mean/64 (see the note in textureFeatures). */
export function velocityFeatures(z: Uint8Array, width: number, height: number, out: Float64Array): void {
  const blurred = gaussianBlur3x3(z, width, height);
  let max = 0;
  for (let i = 0; i < blurred.length; i++) if (blurred[i] > max) max = blurred[i];
  let sum = 0,
    n = 0;
  for (let i = 0; i < z.length; i++) {
    if (z[i] === 0) continue;
    sum += z[i];
    n++;
  }
  out[0] = (0.64 * max) / 64;
  out[1] = n === 0 ? NaN : (0.64 * (sum / n)) / 64;
}

/** The 28 features of one segmented BGR frame. */
export function textureFeatures(segmented: Uint8Array, width: number, height: number): number[] {
  const z = quantisedGray(segmented, width * height);
  const glcm = glcmFeaturesMean(z, width, height);
  const first = new Float64Array(7);
  firstOrderFeatures(z, first);
  const velocity = new Float64Array(2);
  velocityFeatures(z, width, height, velocity);
  return [...glcm, ...first, ...velocity];
}
