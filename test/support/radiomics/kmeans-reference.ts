/**
 * REFERENCE ONLY (tests): the first, straightforward port of k-means, kept to check the fast one
 * (enclave/radiomics/kmeans.ts) against it; test/unit/enclave/radiomics/kmeans-reference.test.ts swaps it in with a
 * module hook and compares the full analysis of every sample clip byte for byte. Never imported by the worker.
 *
 * OpenCV 4.6 `cv::kmeans` (core/src/kmeans.cpp) with KMEANS_PP_CENTERS, for 3-dimensional float32 samples,
 * reproduced operation for operation:
 * - k-means++ seeding (`generateCentersPP`, 3 trials per centre) drawing from the given `CvRng`;
 * - distances are `hal::normL2Sqr_` in float32: d = Σ (a_j − b_j)², each step rounded to float;
 * - assignment keeps the first centre with the strictly smallest distance;
 * - centres are float32 sums in sample order, then multiplied by the float reciprocal 1.f/count;
 * - an empty cluster takes the farthest sample (last one on ties) of the biggest cluster;
 * - stop after maxCount iterations or when the largest squared centre shift ≤ ε²; the last pass does not reassign;
 * - compactness = cv::sum of the final distances (4-way unrolled double sum); the best attempt is the first one
 *   with the strictly smallest compactness.
 *
 * Speed: the expensive per-sample distance work only depends on the sample's value, so it is computed once per
 * distinct value (`groups`) and broadcast; everything whose floating-point result depends on sample order (sums,
 * the k-means++ cumulative search, centre accumulation) still runs over all samples in order.
 */
import type { CvRng } from '#enclave/radiomics/rng.js';

/** Lets the test prove the hook swapped this module in. */
export const IMPLEMENTATION = 'reference';

export interface KmeansCriteria {
  maxCount: number;
  epsilon: number;
}

export interface KmeansResult {
  /** cluster index per sample */
  labels: Int32Array;
  /** K × 3 float32 centres */
  centers: Float32Array;
  compactness: number;
}

/** Distinct sample values: `index[i]` is the distinct value of sample i, `values` their coordinates (U × 3). */
export interface SampleGroups {
  index: Int32Array;
  values: Float32Array;
  count: number;
}

const f = Math.fround;

/** Groups identical samples (bitwise-identical float32 triples). */
export function groupSamples(data: Float32Array, n: number): SampleGroups {
  const keys = new Uint32Array(data.buffer, data.byteOffset, n * 3);
  let cap = 1;
  while (cap < n * 2) cap <<= 1;
  const mask = cap - 1;
  const slots = new Int32Array(cap).fill(-1);
  const index = new Int32Array(n);
  const firstSample = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const k0 = keys[i * 3],
      k1 = keys[i * 3 + 1],
      k2 = keys[i * 3 + 2];
    let h = (Math.imul(k0, 0x9e3779b1) ^ Math.imul(k1, 0x85ebca77) ^ Math.imul(k2, 0xc2b2ae3d)) >>> 0;
    h = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const s = slots[h];
      if (s < 0) {
        slots[h] = count;
        firstSample[count] = i;
        index[i] = count++;
        break;
      }
      const j = firstSample[s] * 3;
      if (keys[j] === k0 && keys[j + 1] === k1 && keys[j + 2] === k2) {
        index[i] = s;
        break;
      }
      h = (h + 1) & mask;
    }
  }
  const values = new Float32Array(count * 3);
  for (let u = 0; u < count; u++) {
    const j = firstSample[u] * 3;
    values[u * 3] = data[j];
    values[u * 3 + 1] = data[j + 1];
    values[u * 3 + 2] = data[j + 2];
  }
  return { index, values, count };
}

/** `hal::normL2Sqr_` for 3 floats. */
function normL2Sqr3(a0: number, a1: number, a2: number, b0: number, b1: number, b2: number): number {
  const t0 = f(a0 - b0);
  const t1 = f(a1 - b1);
  const t2 = f(a2 - b2);
  let d = f(t0 * t0);
  d = f(d + f(t1 * t1));
  d = f(d + f(t2 * t2));
  return d;
}

function generateCentersPP(
  data: Float32Array,
  n: number,
  groups: SampleGroups,
  k: number,
  rng: CvRng,
  trials: number,
  outCenters: Float32Array,
  scratch: { dist: Float32Array; tdist: Float32Array; tdist2: Float32Array },
): void {
  const { index, values, count: u } = groups;
  let dist = scratch.dist;
  let tdist = scratch.tdist;
  let tdist2 = scratch.tdist2;
  const centers = new Int32Array(k);
  centers[0] = rng.nextUint32() % n;

  {
    const c = centers[0] * 3;
    const c0 = data[c],
      c1 = data[c + 1],
      c2 = data[c + 2];
    for (let g = 0; g < u; g++) {
      dist[g] = normL2Sqr3(values[g * 3], values[g * 3 + 1], values[g * 3 + 2], c0, c1, c2);
    }
  }
  let sum0 = 0;
  for (let i = 0; i < n; i++) sum0 += dist[index[i]];

  for (let kk = 1; kk < k; kk++) {
    let bestSum = Number.MAX_VALUE;
    let bestCenter = -1;
    for (let j = 0; j < trials; j++) {
      let p = rng.nextDouble() * sum0;
      let ci = 0;
      for (; ci < n - 1; ci++) {
        p -= dist[index[ci]];
        if (p <= 0) break;
      }
      const c = ci * 3;
      const c0 = data[c],
        c1 = data[c + 1],
        c2 = data[c + 2];
      for (let g = 0; g < u; g++) {
        const d = normL2Sqr3(values[g * 3], values[g * 3 + 1], values[g * 3 + 2], c0, c1, c2);
        const old = dist[g];
        tdist2[g] = Math.min(old, d); // std::min(d, old)
      }
      let s = 0;
      for (let i = 0; i < n; i++) s += tdist2[index[i]];
      if (s < bestSum) {
        bestSum = s;
        bestCenter = ci;
        const t = tdist;
        tdist = tdist2;
        tdist2 = t;
      }
    }
    if (bestCenter < 0) throw new Error("kmeans: can't update cluster center (check input for huge or NaN values)");
    centers[kk] = bestCenter;
    sum0 = bestSum;
    const t = dist;
    dist = tdist;
    tdist = t;
  }
  scratch.dist = dist;
  scratch.tdist = tdist;
  scratch.tdist2 = tdist2;

  for (let kk = 0; kk < k; kk++) {
    const src = centers[kk] * 3;
    outCenters[kk * 3] = data[src];
    outCenters[kk * 3 + 1] = data[src + 1];
    outCenters[kk * 3 + 2] = data[src + 2];
  }
}

/**
 * `cv2.kmeans(data, K, None, (EPS + MAX_ITER, maxCount, epsilon), attempts, cv2.KMEANS_PP_CENTERS)` on N × 3 float32
 * samples. Advances `rng` exactly as OpenCV advances `theRNG()`.
 */
export function kmeansPP(
  data: Float32Array,
  n: number,
  k: number,
  criteria: KmeansCriteria,
  attempts: number,
  rng: CvRng,
  groups: SampleGroups = groupSamples(data, n),
): KmeansResult {
  const SPP_TRIALS = 3;
  if (n < k) throw new Error("There can't be more clusters than elements");
  attempts = Math.max(attempts, 1);
  const epsilon = Math.max(criteria.epsilon, 0);
  const eps2 = epsilon * epsilon;
  let maxCount = Math.min(Math.max(criteria.maxCount, 2), 100);
  if (k === 1) {
    attempts = 1;
    maxCount = 2;
  }
  const { index, values, count: u } = groups;

  const labels = new Int32Array(n);
  const bestLabels = new Int32Array(n);
  let centers = new Float32Array(k * 3);
  let oldCenters = new Float32Array(k * 3);
  const bestCenters = new Float32Array(k * 3);
  const counters = new Int32Array(k);
  const ulabels = new Int32Array(u);
  const dists = new Float64Array(n);
  const scratch = { dist: new Float32Array(u), tdist: new Float32Array(u), tdist2: new Float32Array(u) };
  let bestCompactness = Number.MAX_VALUE;

  for (let a = 0; a < attempts; a++) {
    let compactness = 0;
    for (let iter = 0; ; ) {
      let maxCenterShift = iter === 0 ? Number.MAX_VALUE : 0;
      const swap = centers;
      centers = oldCenters;
      oldCenters = swap;

      if (iter === 0) {
        generateCentersPP(data, n, groups, k, rng, SPP_TRIALS, centers, scratch);
      } else {
        centers.fill(0);
        counters.fill(0);
        for (let i = 0; i < n; i++) {
          const c = labels[i] * 3;
          const s = i * 3;
          centers[c] = centers[c] + data[s];
          centers[c + 1] = centers[c + 1] + data[s + 1];
          centers[c + 2] = centers[c + 2] + data[s + 2];
          counters[labels[i]]++;
        }
        for (let kk = 0; kk < k; kk++) {
          if (counters[kk] !== 0) continue;
          let maxK = 0;
          for (let k1 = 1; k1 < k; k1++) if (counters[maxK] < counters[k1]) maxK = k1;
          let maxDist = 0;
          let farthest = -1;
          const scale = f(1 / counters[maxK]);
          const b0 = f(centers[maxK * 3] * scale);
          const b1 = f(centers[maxK * 3 + 1] * scale);
          const b2 = f(centers[maxK * 3 + 2] * scale);
          for (let i = 0; i < n; i++) {
            if (labels[i] !== maxK) continue;
            const s = i * 3;
            const d = normL2Sqr3(data[s], data[s + 1], data[s + 2], b0, b1, b2);
            if (maxDist <= d) {
              maxDist = d;
              farthest = i;
            }
          }
          counters[maxK]--;
          counters[kk]++;
          labels[farthest] = kk;
          const s = farthest * 3;
          for (let j = 0; j < 3; j++) {
            centers[maxK * 3 + j] = centers[maxK * 3 + j] - data[s + j];
            centers[kk * 3 + j] = centers[kk * 3 + j] + data[s + j];
          }
        }
        for (let kk = 0; kk < k; kk++) {
          if (counters[kk] === 0) throw new Error('kmeans: empty cluster');
          const scale = f(1 / counters[kk]);
          let dist = 0;
          for (let j = 0; j < 3; j++) {
            const c = f(centers[kk * 3 + j] * scale);
            centers[kk * 3 + j] = c;
            if (iter > 0) {
              const t = f(c - oldCenters[kk * 3 + j]);
              dist += t * t;
            }
          }
          if (iter > 0 && dist > maxCenterShift) maxCenterShift = dist;
        }
      }

      const isLastIter = ++iter === Math.max(maxCount, 2) || maxCenterShift <= eps2;
      if (isLastIter) {
        for (let i = 0; i < n; i++) {
          const s = i * 3;
          const c = labels[i] * 3;
          dists[i] = normL2Sqr3(data[s], data[s + 1], data[s + 2], centers[c], centers[c + 1], centers[c + 2]);
        }
        // cv::sum over CV_64F: s0 += src[0] + src[1] + src[2] + src[3], then the tail.
        let s0 = 0;
        let i = 0;
        for (; i <= n - 4; i += 4) s0 += dists[i] + dists[i + 1] + dists[i + 2] + dists[i + 3];
        for (; i < n; i++) s0 += dists[i];
        compactness = s0;
        break;
      } else {
        for (let g = 0; g < u; g++) {
          const v0 = values[g * 3],
            v1 = values[g * 3 + 1],
            v2 = values[g * 3 + 2];
          let kBest = 0;
          let minDist = Number.MAX_VALUE;
          for (let kk = 0; kk < k; kk++) {
            const d = normL2Sqr3(v0, v1, v2, centers[kk * 3], centers[kk * 3 + 1], centers[kk * 3 + 2]);
            if (minDist > d) {
              minDist = d;
              kBest = kk;
            }
          }
          ulabels[g] = kBest;
        }
        for (let i = 0; i < n; i++) labels[i] = ulabels[index[i]];
      }
    }
    if (compactness < bestCompactness) {
      bestCompactness = compactness;
      bestCenters.set(centers);
      bestLabels.set(labels);
    }
  }
  return { labels: bestLabels, centers: bestCenters, compactness: bestCompactness };
}
