/**
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
import type { CvRng } from './rng.js';

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
const { imul, max, min } = Math;
const MAX_DOUBLE = Number.MAX_VALUE;
const INFINITY = Number.POSITIVE_INFINITY;
// Globals (Math, Infinity, …) are read once here: inside jest's vm sandbox every global lookup in a hot loop goes
// through the context's interceptors and is very slow.

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
    const k0 = keys[i * 3], k1 = keys[i * 3 + 1], k2 = keys[i * 3 + 2];
    let h = (imul(k0, 0x9e3779b1) ^ imul(k1, 0x85ebca77) ^ imul(k2, 0xc2b2ae3d)) >>> 0;
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

/** Sample counts per distinct value and the samples that are not exactly (0, 0, 0), in order. */
interface SampleLayout {
  groupSize: Int32Array;
  /** distinct value of each sample that is not (0, 0, 0), in sample order */
  nonZeroGroup: Int32Array;
  /** the coordinates of those samples, contiguous */
  nonZeroData: Float32Array;
}

function sampleLayout(data: Float32Array, n: number, groups: SampleGroups): SampleLayout {
  const groupSize = new Int32Array(groups.count);
  for (let i = 0; i < n; i++) groupSize[groups.index[i]]++;
  let nz = 0;
  const nonZero = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (data[i * 3] !== 0 || data[i * 3 + 1] !== 0 || data[i * 3 + 2] !== 0) nonZero[nz++] = i;
  }
  const nonZeroGroup = new Int32Array(nz);
  const nonZeroData = new Float32Array(nz * 3);
  for (let q = 0; q < nz; q++) {
    const i = nonZero[q];
    nonZeroGroup[q] = groups.index[i];
    nonZeroData[q * 3] = data[i * 3];
    nonZeroData[q * 3 + 1] = data[i * 3 + 1];
    nonZeroData[q * 3 + 2] = data[i * 3 + 2];
  }
  return { groupSize, nonZeroGroup, nonZeroData };
}

interface PPScratch {
  dist: Float32Array;
  trialDist: Float32Array[];
  active: Int32Array;
  activeGroup: Int32Array;
  activeDist: Float64Array;
  groupSize: Int32Array;
}

/** Σ dist over the active samples in sample order, in double (OpenCV's `s += tdist2[i]`, zeros skipped). */
function exactActiveSum(dist: Float32Array, activeGroup: Int32Array, activeCount: number): number {
  let s = 0;
  for (let a = 0; a < activeCount; a++) s += dist[activeGroup[a]];
  return s;
}

/**
 * `generateCentersPP`. Pixels whose current distance `dist` is exactly 0 are dropped from the ordered `active`
 * list: subtracting or adding +0 never changes the running double (it starts at +0 and stays ≥ +0), so the
 * cumulative search and the trial sums are unchanged, bit for bit.
 */
function generateCentersPP(
  data: Float32Array,
  n: number,
  groups: SampleGroups,
  k: number,
  rng: CvRng,
  trials: number,
  outCenters: Float32Array,
  scratch: PPScratch,
): void {
  const { index, values, count: u } = groups;
  let dist = scratch.dist;
  const groupSize = scratch.groupSize;
  const active = scratch.active;
  const activeGroup = scratch.activeGroup;
  const activeDist = scratch.activeDist; // dist of each active sample, contiguous for the cumulative search
  const centers = new Int32Array(k);
  centers[0] = rng.nextUint32() % n;

  {
    const c = centers[0] * 3;
    const c0 = data[c], c1 = data[c + 1], c2 = data[c + 2];
    for (let g = 0; g < u; g++) {
      dist[g] = normL2Sqr3(values[g * 3], values[g * 3 + 1], values[g * 3 + 2], c0, c1, c2);
    }
  }
  let activeCount = 0;
  let sum0 = 0;
  for (let i = 0; i < n; i++) {
    const d = dist[index[i]];
    if (d === 0) continue;
    sum0 += d;
    activeGroup[activeCount] = index[i];
    activeDist[activeCount] = d;
    active[activeCount++] = i;
  }

  const trialDist = scratch.trialDist;
  const trialCenter = new Int32Array(trials);
  const approxSum = new Float64Array(trials);
  for (let kk = 1; kk < k; kk++) {
    for (let j = 0; j < trials; j++) {
      let p = rng.nextDouble() * sum0;
      // for (ci = 0; ci < N - 1; ci++) { p -= dist[ci]; if (p <= 0) break; }
      let ci = n - 1;
      if (p <= 0) {
        ci = 0;
      } else {
        for (let a = 0; a < activeCount; a++) {
          p -= activeDist[a];
          if (p <= 0) {
            if (active[a] < n - 1) ci = active[a];
            break;
          }
        }
      }
      trialCenter[j] = ci;
      const c = ci * 3;
      const c0 = data[c], c1 = data[c + 1], c2 = data[c + 2];
      const td = trialDist[j];
      let approx = 0;
      for (let g = 0; g < u; g++) {
        const old = dist[g];
        if (old === 0) {
          td[g] = 0;
          continue;
        }
        const d = normL2Sqr3(values[g * 3], values[g * 3 + 1], values[g * 3 + 2], c0, c1, c2);
        const m = old < d ? old : d; // std::min(d, old)
        td[g] = m;
        approx += groupSize[g] * m;
      }
      approxSum[j] = approx;
    }
    // OpenCV keeps the first trial with the strictly smallest sequential sum s = Σ tdist2[i] (double, sample
    // order). The order-free sums above are within 1e-11 relative of it; only near-ties need the exact sums.
    let best = 0;
    let bestExact = NaN;
    for (let j = 1; j < trials; j++) {
      const tolerance = 1e-9 * max(approxSum[j], approxSum[best]);
      if (approxSum[j] < approxSum[best] - tolerance) {
        best = j;
        bestExact = NaN;
      } else if (approxSum[j] <= approxSum[best] + tolerance) {
        if (Number.isNaN(bestExact)) bestExact = exactActiveSum(trialDist[best], activeGroup, activeCount);
        const sj = exactActiveSum(trialDist[j], activeGroup, activeCount);
        if (sj < bestExact) {
          best = j;
          bestExact = sj;
        }
      }
    }
    centers[kk] = trialCenter[best];
    // dist ← the chosen trial's distances; sum0 ← its exact sum; drop the samples that are now at distance 0
    const chosen = trialDist[best];
    trialDist[best] = dist;
    dist = chosen;
    let kept = 0;
    let sum = 0;
    for (let a = 0; a < activeCount; a++) {
      const g = activeGroup[a];
      const d = dist[g];
      if (d !== 0) {
        sum += d;
        activeGroup[kept] = g;
        activeDist[kept] = d;
        active[kept++] = active[a];
      }
    }
    activeCount = kept;
    sum0 = sum;
  }
  scratch.dist = dist;

  for (let kk = 0; kk < k; kk++) {
    const src = centers[kk] * 3;
    outCenters[kk * 3] = data[src];
    outCenters[kk * 3 + 1] = data[src + 1];
    outCenters[kk * 3 + 2] = data[src + 2];
  }
}

/** Per-sample labels: each sample's distinct-value label, then the samples moved by the empty-cluster rule. */
function materialiseLabels(out: Int32Array, groupLabel: Int32Array, index: Int32Array, moved: Int32Array, movedCount: number): void {
  for (let i = 0; i < out.length; i++) out[i] = groupLabel[index[i]];
  for (let m = 0; m < movedCount; m += 2) out[moved[m]] = moved[m + 1];
}

/**
 * `cv2.kmeans(data, K, None, (EPS + MAX_ITER, maxCount, epsilon), attempts, cv2.KMEANS_PP_CENTERS)` on N × 3 float32
 * samples. Advances `rng` exactly as OpenCV advances `theRNG()`.
 *
 * Between an assignment pass and the next, every sample's label is its distinct value's label (`groupLabel`)
 * except for samples moved by the empty-cluster rule (`moved`), so per-sample labels are only materialised when
 * needed. Samples that are exactly (0, 0, 0) are skipped in the centre sums (adding +0 to a float sum that starts
 * at +0 changes nothing); they are still counted.
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
  attempts = max(attempts, 1);
  const epsilon = max(criteria.epsilon, 0);
  const eps2 = epsilon * epsilon;
  let maxCount = min(max(criteria.maxCount, 2), 100);
  if (k === 1) {
    attempts = 1;
    maxCount = 2;
  }
  const { index, values, count: u } = groups;
  const { groupSize, nonZeroGroup, nonZeroData } = sampleLayout(data, n, groups);
  const nonZeroCount = nonZeroGroup.length;

  const labels = new Int32Array(n);
  const bestLabels = new Int32Array(n);
  let centers = new Float32Array(k * 3);
  let oldCenters = new Float32Array(k * 3);
  const sums = new Float32Array(k * 3);
  const bestCenters = new Float32Array(k * 3);
  const counters = new Int32Array(k);
  const groupLabel = new Int32Array(u);
  const groupDist = new Float64Array(u);
  const centersF64 = new Float64Array(k * 3);
  /** [sample, label] pairs of samples moved by the empty-cluster rule since the last assignment */
  const moved = new Int32Array(2 * k * maxCount);
  let movedCount = 0;
  const scratch = {
    dist: new Float32Array(u),
    trialDist: Array.from({ length: SPP_TRIALS }, () => new Float32Array(u)),
    active: new Int32Array(n),
    activeGroup: new Int32Array(n),
    activeDist: new Float64Array(n),
    groupSize,
  };
  const dists = new Float64Array(n);
  let bestCompactness = MAX_DOUBLE;


  for (let a = 0; a < attempts; a++) {
    let compactness = 0;
    for (let iter = 0; ; ) {
      let maxCenterShift = iter === 0 ? MAX_DOUBLE : 0;
      const swap = centers;
      centers = oldCenters;
      oldCenters = swap;

      if (iter === 0) {
        generateCentersPP(data, n, groups, k, rng, SPP_TRIALS, centers, scratch);
      } else {
        // compute centres: float32 sums in sample order
        sums.fill(0);
        counters.fill(0);
        for (let g = 0; g < u; g++) counters[groupLabel[g]] += groupSize[g];
        for (let q = 0, s = 0; q < nonZeroCount; q++, s += 3) {
          const c = groupLabel[nonZeroGroup[q]] * 3;
          sums[c] = sums[c] + nonZeroData[s];
          sums[c + 1] = sums[c + 1] + nonZeroData[s + 1];
          sums[c + 2] = sums[c + 2] + nonZeroData[s + 2];
        }
        centers.set(sums);
        for (let kk = 0; kk < k; kk++) {
          if (counters[kk] !== 0) continue;
          // empty cluster: the farthest sample (last on ties) of the biggest cluster moves into it
          materialiseLabels(labels, groupLabel, index, moved, movedCount);
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
          moved[movedCount++] = farthest;
          moved[movedCount++] = kk;
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

      const isLastIter = ++iter === max(maxCount, 2) || maxCenterShift <= eps2;
      if (isLastIter) {
        // distances to the own centre (labels are not reassigned), summed like cv::sum over CV_64F
        for (let g = 0; g < u; g++) {
          const c = groupLabel[g] * 3;
          groupDist[g] = normL2Sqr3(values[g * 3], values[g * 3 + 1], values[g * 3 + 2], centers[c], centers[c + 1], centers[c + 2]);
        }
        for (let i = 0; i < n; i++) dists[i] = groupDist[index[i]];
        for (let m = 0; m < movedCount; m += 2) {
          const s = moved[m] * 3;
          const c = moved[m + 1] * 3;
          dists[moved[m]] = normL2Sqr3(data[s], data[s + 1], data[s + 2], centers[c], centers[c + 1], centers[c + 2]);
        }
        let s0 = 0;
        let i = 0;
        for (; i <= n - 4; i += 4) s0 += dists[i] + dists[i + 1] + dists[i + 2] + dists[i + 3];
        for (; i < n; i++) s0 += dists[i];
        compactness = s0;
        break;
      } else {
        // assign labels: first centre with the strictly smallest distance
        for (let j = 0; j < k * 3; j++) centersF64[j] = centers[j];
        for (let g = 0; g < u; g++) {
          const v0 = values[g * 3], v1 = values[g * 3 + 1], v2 = values[g * 3 + 2];
          // Fast path in double precision: the float32 distance differs from it by less than 1e-6 relative, so
          // when the best is separated from the runner-up by more than that, the float argmin is the same.
          let best = INFINITY, second = INFINITY, kFast = 0;
          for (let kk = 0, c = 0; kk < k; kk++, c += 3) {
            const t0 = v0 - centersF64[c], t1 = v1 - centersF64[c + 1], t2 = v2 - centersF64[c + 2];
            const d = t0 * t0 + t1 * t1 + t2 * t2;
            if (d < best) {
              second = best;
              best = d;
              kFast = kk;
            } else if (d < second) {
              second = d;
            }
          }
          if (second > best * (1 + 1e-5) + 1e-30) {
            groupLabel[g] = kFast;
            continue;
          }
          let kBest = 0;
          let minDist = MAX_DOUBLE;
          for (let kk = 0, c = 0; kk < k; kk++, c += 3) {
            const t0 = f(v0 - centersF64[c]);
            const t1 = f(v1 - centersF64[c + 1]);
            const t2 = f(v2 - centersF64[c + 2]);
            const d = f(f(f(t0 * t0) + f(t1 * t1)) + f(t2 * t2));
            if (minDist > d) {
              minDist = d;
              kBest = kk;
            }
          }
          groupLabel[g] = kBest;
        }
        movedCount = 0;
      }
    }
    if (compactness < bestCompactness) {
      bestCompactness = compactness;
      bestCenters.set(centers);
      materialiseLabels(bestLabels, groupLabel, index, moved, movedCount);
    }
  }
  return { labels: bestLabels, centers: bestCenters, compactness: bestCompactness };
}
