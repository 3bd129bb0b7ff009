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
const { imul, max, min, sqrt, floor } = Math;
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
    const k0 = keys[i * 3],
      k1 = keys[i * 3 + 1],
      k2 = keys[i * 3 + 2];
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
  // a sample is (0, 0, 0) exactly when its distinct value is (±0 compares equal to 0, as in the per-sample test)
  const { index, values } = groups;
  const isZero = new Uint8Array(groups.count);
  let nz = 0;
  for (let g = 0; g < groups.count; g++) {
    if (values[g * 3] === 0 && values[g * 3 + 1] === 0 && values[g * 3 + 2] === 0) isZero[g] = 1;
    else nz += groupSize[g];
  }
  const nonZeroGroup = new Int32Array(nz);
  const nonZeroData = new Float32Array(nz * 3);
  for (let i = 0, q = 0; i < n; i++) {
    const g = index[i];
    if (isZero[g] === 1) continue;
    nonZeroGroup[q] = g;
    nonZeroData[q * 3] = data[i * 3];
    nonZeroData[q * 3 + 1] = data[i * 3 + 1];
    nonZeroData[q * 3 + 2] = data[i * 3 + 2];
    q++;
  }
  return { groupSize, nonZeroGroup, nonZeroData };
}

interface PPScratch {
  dist: Float32Array;
  trialDist: Float32Array[];
  active: Int32Array;
  activeGroup: Int32Array;
  /** approximate running sums of the active samples' distances per block (blockRunningSums) */
  blockSums: Float64Array;
  groupSize: Int32Array;
  /** grid over the distinct values (null: trials visit every value) */
  cells: CellIndex | null;
}

/** Σ dist over the active samples in sample order, in double (OpenCV's `s += tdist2[i]`, zeros skipped). */
function exactActiveSum(dist: Float32Array, activeGroup: Int32Array, activeCount: number): number {
  let s = 0;
  for (let a = 0; a < activeCount; a++) s += dist[activeGroup[a]];
  return s;
}

/** 2^-53, the unit roundoff of double arithmetic. */
const UNIT_ROUNDOFF = 1.1102230246251565e-16;

/** Active samples per block of the running-sum index (`blockSums`). */
const BLOCK = 32;

/**
 * Approximate running sums of the active samples' distances, per block of BLOCK samples: blockSums[b] = Σ of the
 * distances of blocks 0..b. Unlike OpenCV's sequential double sum, the additions are in any order (four
 * accumulators per block, so the additions do not form one long dependency chain); `cumulativeSearch` accounts for
 * the difference. Returns the approximate total.
 */
export function blockRunningSums(dist: Float32Array, activeGroup: Int32Array, activeCount: number, blockSums: Float64Array): number {
  let total = 0;
  let b = 0;
  let a = 0;
  for (; a + BLOCK <= activeCount; a += BLOCK) {
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let i = a; i < a + BLOCK; i += 4) {
      s0 += dist[activeGroup[i]];
      s1 += dist[activeGroup[i + 1]];
      s2 += dist[activeGroup[i + 2]];
      s3 += dist[activeGroup[i + 3]];
    }
    total += s0 + s1 + (s2 + s3);
    blockSums[b++] = total;
  }
  if (a < activeCount) {
    let s0 = 0;
    for (; a < activeCount; a++) s0 += dist[activeGroup[a]];
    total += s0;
    blockSums[b] = total;
  }
  return total;
}

/**
 * OpenCV's k-means++ step `p = (double)rng * sum0; for (ci = 0; ci < N - 1; ci++) { p -= dist[ci]; if (p <= 0)
 * break; }` over the active samples (zero distances change nothing), returning the sample index ci. `r` is the
 * random double, `total` the approximate sum from `blockRunningSums`.
 *
 * OpenCV's sum0 and p, and the sequential p_a = fl(p_{a−1} − d_a), are not computed. With S_a the exact sum of the
 * first a + 1 distances, m the list length and u = 2^−53: |p_a − (p − S_a)| ≤ (m + 1)·u·sum0; the approximate
 * running sums S'_a (block sums plus the walk inside a block) are within (m + 2·BLOCK)·u·sum0 of S_a; and
 * p' = r·total is within (2m + 2)·u·sum0 of p. So with E = 8·(m + 2·BLOCK)·u·total, S'_a < p' − E proves p_a > 0
 * and S'_a > p' + E proves p_a < 0. The answer is the first a with S'_a ≥ p' − E when that one also has
 * S'_a > p' + E (or when there is none: no crossing); otherwise (a running sum within ±E of p, never seen on real
 * frames but possible) the exact sequential computation decides.
 */
export function cumulativeSearch(
  r: number,
  total: number,
  n: number,
  blockSums: Float64Array,
  active: Int32Array,
  activeGroup: Int32Array,
  activeCount: number,
  dist: Float32Array,
): number {
  // p = r · sum0 ≤ 0 exactly when r = 0 or every distance is 0 (then the approximate total is 0 too)
  if (r === 0 || total === 0) return 0;
  const p = r * total;
  const e = 8 * (activeCount + 2 * BLOCK) * UNIT_ROUNDOFF * total;
  const lowTarget = p - e;
  const blocks = ((activeCount + BLOCK - 1) / BLOCK) | 0;
  // first block whose running sum reaches p − E
  let lo = 0,
    hi = blocks;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (blockSums[mid] < lowTarget) lo = mid + 1;
    else hi = mid;
  }
  if (lo === blocks) return n - 1; // every running sum < p − E: p never reaches 0, ci = N − 1
  let a = lo * BLOCK;
  let running = lo > 0 ? blockSums[lo - 1] : 0;
  const end = Math.min(a + BLOCK, activeCount);
  for (; a < end; a++) {
    running += dist[activeGroup[a]];
    if (running >= lowTarget) break;
  }
  if (a < end && running > p + e) return Math.min(active[a], n - 1);
  return exactCumulativeSearch(r, n, active, activeGroup, activeCount, dist);
}

/** The search exactly as OpenCV computes it: sum0 and p, then the sequential subtractions. */
export function exactCumulativeSearch(
  r: number,
  n: number,
  active: Int32Array,
  activeGroup: Int32Array,
  activeCount: number,
  dist: Float32Array,
): number {
  let sum0 = 0;
  for (let a = 0; a < activeCount; a++) sum0 += dist[activeGroup[a]];
  let p = r * sum0;
  if (p <= 0) return 0;
  for (let a = 0; a < activeCount; a++) {
    p -= dist[activeGroup[a]];
    if (p <= 0) return Math.min(active[a], n - 1);
  }
  return n - 1;
}

/** Relative margin above which the float32 distance is provably ≥ a value the double distance exceeds by it. */
const F32_DISTANCE_MARGIN = 1 + 1e-6;

/** The active list (samples at non-zero distance, in order); returns its length. */
function buildActive(index: Int32Array, n: number, dist: Float32Array, active: Int32Array, activeGroup: Int32Array): number {
  let activeCount = 0;
  for (let i = 0; i < n; i++) {
    const g = index[i];
    if (dist[g] === 0) continue;
    activeGroup[activeCount] = g;
    active[activeCount++] = i;
  }
  return activeCount;
}

/** Drops the samples now at distance 0 from the active list; returns the new length. */
function compactActive(dist: Float32Array, active: Int32Array, activeGroup: Int32Array, activeCount: number): number {
  let kept = 0;
  for (let a = 0; a < activeCount; a++) {
    const g = activeGroup[a];
    if (dist[g] !== 0) {
      activeGroup[kept] = g;
      active[kept++] = active[a];
    }
  }
  return kept;
}

/**
 * One trial's distances: td[g] = std::min(normL2Sqr(value g, trial centre), dist[g]) and Σ size·td (the order-free
 * approximation of OpenCV's sum), plus how many samples the trial brings to distance 0.
 *
 * The float32 distance is within 4e-7 relative of the double one (all terms are non-negative), so when the double
 * one clearly exceeds dist[g], the minimum is dist[g] without rounding anything to float.
 */
function trialDistances(
  values: Float32Array,
  u: number,
  groupSize: Int32Array,
  dist: Float32Array,
  td: Float32Array,
  trialCoords: Float64Array,
  j: number,
  approxSum: Float64Array,
  newlyZero: Float64Array,
): void {
  const c0 = trialCoords[j * 3],
    c1 = trialCoords[j * 3 + 1],
    c2 = trialCoords[j * 3 + 2];
  let approx = 0;
  let zero = 0;
  for (let g = 0, v = 0; g < u; g++, v += 3) {
    const old = dist[g];
    if (old === 0) {
      td[g] = 0;
      continue;
    }
    const v0 = values[v],
      v1 = values[v + 1],
      v2 = values[v + 2];
    const t0 = v0 - c0,
      t1 = v1 - c1,
      t2 = v2 - c2;
    let m = old;
    if (!(t0 * t0 + t1 * t1 + t2 * t2 > old * F32_DISTANCE_MARGIN + 1e-30)) {
      const d = normL2Sqr3(v0, v1, v2, c0, c1, c2);
      if (!(old < d)) m = d; // std::min(d, old)
      if (m === 0) zero += groupSize[g];
    }
    td[g] = m;
    approx += groupSize[g] * m;
  }
  approxSum[j] = approx;
  newlyZero[j] = zero;
}

/**
 * The distinct values bucketed on a coarse 3-D grid, for the k-means++ trials: a trial centre can only lower the
 * distance of values nearer to it than their current distance, so a cell whose bounding box is farther from the
 * trial centre than the largest current distance of its members is skipped whole (its members keep their distance).
 */
interface CellIndex {
  count: number;
  /** cell q holds the values start[q] .. start[q + 1] − 1 (after renumberByCell; before: members[start[q] ..]) */
  start: Int32Array;
  members: Int32Array;
  /** bounding boxes, 3 per cell */
  lo: Float64Array;
  hi: Float64Array;
  /** per cell: the largest current distance of a member, and Σ size·distance (kept in step with `dist`) */
  maxDist: Float64Array;
  sum: Float64Array;
}

const GRID = 16;

/** Builds the grid, or returns null when it would not help (few values) or cannot be built (non-finite values). */
function buildCells(values: Float32Array, u: number): CellIndex | null {
  if (u < 512) return null;
  const low = [INFINITY, INFINITY, INFINITY];
  const high = [-INFINITY, -INFINITY, -INFINITY];
  for (let g = 0; g < u; g++) {
    for (let j = 0; j < 3; j++) {
      const x = values[g * 3 + j];
      if (!(x > -INFINITY && x < INFINITY)) return null;
      if (x < low[j]) low[j] = x;
      if (x > high[j]) high[j] = x;
    }
  }
  const scale = [0, 0, 0];
  for (let j = 0; j < 3; j++) scale[j] = high[j] > low[j] ? GRID / (high[j] - low[j]) : 0;
  const keyOf = new Int32Array(u);
  const counts = new Int32Array(GRID * GRID * GRID + 1);
  for (let g = 0; g < u; g++) {
    let key = 0;
    for (let j = 0; j < 3; j++) {
      let c = floor((values[g * 3 + j] - low[j]) * scale[j]);
      if (c >= GRID) c = GRID - 1;
      if (c < 0) c = 0;
      key = key * GRID + c;
    }
    keyOf[g] = key;
    counts[key + 1]++;
  }
  for (let q = 0; q < GRID * GRID * GRID; q++) counts[q + 1] += counts[q];
  const members = new Int32Array(u);
  const fill = counts.slice(0, GRID * GRID * GRID);
  for (let g = 0; g < u; g++) members[fill[keyOf[g]]++] = g;
  // keep the non-empty cells
  let count = 0;
  for (let q = 0; q < GRID * GRID * GRID; q++) if (counts[q + 1] > counts[q]) count++;
  const start = new Int32Array(count + 1);
  const lo = new Float64Array(count * 3).fill(INFINITY);
  const hi = new Float64Array(count * 3).fill(-INFINITY);
  let c = 0;
  for (let q = 0; q < GRID * GRID * GRID; q++) {
    if (counts[q + 1] === counts[q]) continue;
    start[c] = counts[q];
    for (let i = counts[q]; i < counts[q + 1]; i++) {
      const g = members[i];
      for (let j = 0; j < 3; j++) {
        const x = values[g * 3 + j];
        if (x < lo[c * 3 + j]) lo[c * 3 + j] = x;
        if (x > hi[c * 3 + j]) hi[c * 3 + j] = x;
      }
    }
    c++;
  }
  start[count] = u;
  return { count, start, members, lo, hi, maxDist: new Float64Array(count), sum: new Float64Array(count) };
}

/**
 * Renumbers the distinct values in cell order (cell q then holds the values start[q] .. start[q + 1] − 1, and
 * neighbouring numbers have similar colours). Nothing depends on the numbering: every order-dependent sum runs over
 * the samples, in sample order; the per-value loops are order-free.
 */
function renumberByCell(groups: SampleGroups, cells: CellIndex): SampleGroups {
  const { index, values, count: u } = groups;
  const { members } = cells;
  const newId = new Int32Array(u);
  const sorted = new Float32Array(u * 3);
  for (let p = 0; p < u; p++) {
    const g = members[p];
    newId[g] = p;
    sorted[p * 3] = values[g * 3];
    sorted[p * 3 + 1] = values[g * 3 + 1];
    sorted[p * 3 + 2] = values[g * 3 + 2];
    members[p] = p;
  }
  const n = index.length;
  const renumbered = new Int32Array(n);
  for (let i = 0; i < n; i++) renumbered[i] = newId[index[i]];
  return { index: renumbered, values: sorted, count: u };
}

/** Recomputes the per-cell largest distance and Σ size·distance of the cells listed (all when `list` is null). */
function refreshCells(cells: CellIndex, dist: Float32Array, groupSize: Int32Array, list: Int32Array | null, listCount: number): void {
  const { start, maxDist, sum } = cells;
  const total = list === null ? cells.count : listCount;
  for (let t = 0; t < total; t++) {
    const q = list === null ? t : list[t];
    let m = 0;
    let s = 0;
    for (let g = start[q]; g < start[q + 1]; g++) {
      const d = dist[g];
      if (d > m) m = d;
      s += groupSize[g] * d;
    }
    maxDist[q] = m;
    sum[q] = s;
  }
}

/**
 * `trialDistances` through the grid: td starts as a copy of dist, and only the cells that may hold a value nearer
 * to the trial centre than its current distance are visited; each visited cell is appended to `visited`.
 * Skipping is exact: every member v of a skipped cell has |v − c|² ≥ box distance² > its dist·(1 + 1e-6) in double,
 * so its float32 distance exceeds its dist and std::min keeps dist, as the full pass would.
 * Returns the number of visited cells.
 */
function trialDistancesCells(
  values: Float32Array,
  groupSize: Int32Array,
  dist: Float32Array,
  td: Float32Array,
  trialCoords: Float64Array,
  j: number,
  approxSum: Float64Array,
  newlyZero: Float64Array,
  cells: CellIndex,
  visited: Int32Array,
): number {
  const c0 = trialCoords[j * 3],
    c1 = trialCoords[j * 3 + 1],
    c2 = trialCoords[j * 3 + 2];
  const { count, start, lo, hi, maxDist, sum } = cells;
  td.set(dist);
  let approx = 0;
  let zero = 0;
  let visitedCount = 0;
  for (let q = 0, b = 0; q < count; q++, b += 3) {
    const e0 = c0 < lo[b] ? lo[b] - c0 : c0 > hi[b] ? c0 - hi[b] : 0;
    const e1 = c1 < lo[b + 1] ? lo[b + 1] - c1 : c1 > hi[b + 1] ? c1 - hi[b + 1] : 0;
    const e2 = c2 < lo[b + 2] ? lo[b + 2] - c2 : c2 > hi[b + 2] ? c2 - hi[b + 2] : 0;
    if (e0 * e0 + e1 * e1 + e2 * e2 > maxDist[q] * F32_DISTANCE_MARGIN + 1e-30) {
      approx += sum[q];
      continue;
    }
    visited[visitedCount++] = q;
    for (let g = start[q], v = g * 3; g < start[q + 1]; g++, v += 3) {
      const old = dist[g];
      if (old === 0) continue; // td[g] is already 0
      const v0 = values[v],
        v1 = values[v + 1],
        v2 = values[v + 2];
      const t0 = v0 - c0,
        t1 = v1 - c1,
        t2 = v2 - c2;
      let m = old;
      if (!(t0 * t0 + t1 * t1 + t2 * t2 > old * F32_DISTANCE_MARGIN + 1e-30)) {
        const d = normL2Sqr3(v0, v1, v2, c0, c1, c2);
        if (!(old < d)) {
          m = d; // std::min(d, old)
          td[g] = m;
          if (m === 0) zero += groupSize[g];
        }
      }
      approx += groupSize[g] * m;
    }
  }
  approxSum[j] = approx;
  newlyZero[j] = zero;
  return visitedCount;
}

/**
 * `generateCentersPP`. Pixels whose current distance `dist` is exactly 0 are dropped from the ordered `active`
 * list: subtracting or adding +0 never changes the running double (it starts at +0 and stays ≥ +0), so the
 * cumulative search and the trial sums are unchanged, bit for bit.
 *
 * OpenCV draws the trials' random numbers one after the other, and nothing else uses the generator in between, so
 * all trials of a centre are drawn first and their distances computed in one pass over the distinct values.
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
  const blockSums = scratch.blockSums;
  const centers = new Int32Array(k);
  centers[0] = rng.nextUint32() % n;

  {
    const c = centers[0] * 3;
    const c0 = data[c],
      c1 = data[c + 1],
      c2 = data[c + 2];
    for (let g = 0, v = 0; g < u; g++, v += 3) {
      dist[g] = normL2Sqr3(values[v], values[v + 1], values[v + 2], c0, c1, c2);
    }
  }
  const cells = scratch.cells;
  if (cells !== null) refreshCells(cells, dist, groupSize, null, 0);
  let activeCount = buildActive(index, n, dist, active, activeGroup);
  let total = blockRunningSums(dist, activeGroup, activeCount, blockSums);

  const trialDist = scratch.trialDist;
  const trialCenter = new Int32Array(trials);
  const trialCoords = new Float64Array(trials * 3);
  const approxSum = new Float64Array(trials);
  /** samples whose distance becomes 0 with each trial (they leave the active list) */
  const newlyZero = new Float64Array(trials);
  const visited = cells === null ? [] : Array.from({ length: trials }, () => new Int32Array(cells.count));
  const visitedCount = new Int32Array(trials);
  for (let kk = 1; kk < k; kk++) {
    for (let j = 0; j < trials; j++) {
      const ci = cumulativeSearch(rng.nextDouble(), total, n, blockSums, active, activeGroup, activeCount, dist);
      trialCenter[j] = ci;
      trialCoords[j * 3] = data[ci * 3];
      trialCoords[j * 3 + 1] = data[ci * 3 + 1];
      trialCoords[j * 3 + 2] = data[ci * 3 + 2];
    }
    if (cells !== null) {
      for (let j = 0; j < trials; j++) {
        visitedCount[j] = trialDistancesCells(
          values,
          groupSize,
          dist,
          trialDist[j],
          trialCoords,
          j,
          approxSum,
          newlyZero,
          cells,
          visited[j],
        );
      }
    } else {
      for (let j = 0; j < trials; j++) trialDistances(values, u, groupSize, dist, trialDist[j], trialCoords, j, approxSum, newlyZero);
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
    // Samples at distance 0 may stay in the list: they add +0 to the running sum, so they can neither be the first
    // crossing nor change p in the sequential fallback (p > 0 there). Compacting only pays when many drop out
    // (typically when the black background becomes a centre).
    if (cells !== null) refreshCells(cells, dist, groupSize, visited[best], visitedCount[best]);
    if (newlyZero[best] * 8 >= activeCount) activeCount = compactActive(dist, active, activeGroup, activeCount);
    total = blockRunningSums(dist, activeGroup, activeCount, blockSums);
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
 * Relative margin between squared distances above which a value's label is provably the one the full assignment
 * would give: the full assignment's double fast path accepts a runner-up more than 1e-5 relative away; the extra
 * 1e-5 absorbs every rounding in the bounds (each ~1e-16 relative, plus BOUND_SLACK per update).
 */
const SKIP_MARGIN = 1 + 2e-5;
/** Added to every centre movement: covers the rounding of the distances the bounds are built from (Lab units). */
const BOUND_SLACK = 1e-9;

/**
 * The full assignment of distinct value g (OpenCV: first centre with the strictly smallest float32 distance),
 * via an exact double fast path; also (re)sets its Hamerly bounds: upper = distance to the chosen centre,
 * lower = distance to the nearest other centre (both from double distances).
 */
function assignFull(
  values: Float32Array,
  g: number,
  centersF64: Float64Array,
  k: number,
  upper: Float64Array,
  lower: Float64Array,
): number {
  const v0 = values[g * 3],
    v1 = values[g * 3 + 1],
    v2 = values[g * 3 + 2];
  // Fast path in double precision: the float32 distance differs from it by less than 1e-6 relative, so
  // when the best is separated from the runner-up by more than that, the float argmin is the same.
  let best = INFINITY,
    second = INFINITY,
    kFast = 0;
  for (let kk = 0, c = 0; kk < k; kk++, c += 3) {
    const t0 = v0 - centersF64[c],
      t1 = v1 - centersF64[c + 1],
      t2 = v2 - centersF64[c + 2];
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
    upper[g] = sqrt(best);
    lower[g] = sqrt(second);
    return kFast;
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
  // bounds for the float32 choice: its double distance, and the smallest double distance of the others
  const c = kBest * 3;
  const t0 = v0 - centersF64[c],
    t1 = v1 - centersF64[c + 1],
    t2 = v2 - centersF64[c + 2];
  upper[g] = sqrt(t0 * t0 + t1 * t1 + t2 * t2);
  lower[g] = sqrt(kBest === kFast ? second : best);
  return kBest;
}

/**
 * Centre sums: float32 sums per cluster over the non-zero samples in sample order. The running sums of the current
 * cluster stay in locals while consecutive samples share it (runs are long: neighbouring pixels), instead of a
 * load/add/store chain through `sums` per sample; the float32 results are the same.
 */
function accumulateCentres(
  groupLabel: Int32Array,
  nonZeroGroup: Int32Array,
  nonZeroData: Float32Array,
  nonZeroCount: number,
  sums: Float32Array,
): void {
  sums.fill(0);
  if (nonZeroCount === 0) return;
  let cur = groupLabel[nonZeroGroup[0]] * 3;
  let s0 = 0,
    s1 = 0,
    s2 = 0;
  for (let q = 0, s = 0; q < nonZeroCount; q++, s += 3) {
    const c = groupLabel[nonZeroGroup[q]] * 3;
    if (c !== cur) {
      sums[cur] = s0;
      sums[cur + 1] = s1;
      sums[cur + 2] = s2;
      cur = c;
      s0 = sums[c];
      s1 = sums[c + 1];
      s2 = sums[c + 2];
    }
    s0 = f(s0 + nonZeroData[s]);
    s1 = f(s1 + nonZeroData[s + 1]);
    s2 = f(s2 + nonZeroData[s + 2]);
  }
  sums[cur] = s0;
  sums[cur + 1] = s1;
  sums[cur + 2] = s2;
}

/** Distances to the own centre (labels are not reassigned), summed like cv::sum over CV_64F (4-way unrolled). */
function compactnessOf(
  data: Float32Array,
  n: number,
  groups: SampleGroups,
  groupLabel: Int32Array,
  centers: Float32Array,
  moved: Int32Array,
  movedCount: number,
  groupDist: Float64Array,
  dists: Float64Array,
): number {
  const { index, values, count: u } = groups;
  for (let g = 0, v = 0; g < u; g++, v += 3) {
    const c = groupLabel[g] * 3;
    groupDist[g] = normL2Sqr3(values[v], values[v + 1], values[v + 2], centers[c], centers[c + 1], centers[c + 2]);
  }
  let s0 = 0;
  let i = 0;
  if (movedCount === 0) {
    // same additions, reading each sample's distance through its distinct value
    for (; i <= n - 4; i += 4) s0 += groupDist[index[i]] + groupDist[index[i + 1]] + groupDist[index[i + 2]] + groupDist[index[i + 3]];
    for (; i < n; i++) s0 += groupDist[index[i]];
    return s0;
  }
  for (let j = 0; j < n; j++) dists[j] = groupDist[index[j]];
  for (let m = 0; m < movedCount; m += 2) {
    const s = moved[m] * 3;
    const c = moved[m + 1] * 3;
    dists[moved[m]] = normL2Sqr3(data[s], data[s + 1], data[s + 2], centers[c], centers[c + 1], centers[c + 2]);
  }
  for (; i <= n - 4; i += 4) s0 += dists[i] + dists[i + 1] + dists[i + 2] + dists[i + 3];
  for (; i < n; i++) s0 += dists[i];
  return s0;
}

/** Full assignment of every distinct value (first pass of an attempt); initialises the bounds. */
function assignAll(
  values: Float32Array,
  u: number,
  k: number,
  centers: Float32Array,
  centersF64: Float64Array,
  groupLabel: Int32Array,
  upper: Float64Array,
  lower: Float64Array,
): void {
  for (let j = 0; j < k * 3; j++) centersF64[j] = centers[j];
  for (let g = 0; g < u; g++) groupLabel[g] = assignFull(values, g, centersF64, k, upper, lower);
}

/**
 * Assignment with Hamerly bounds. A value keeps its label without computing its distances when the bounds prove
 * that the full assignment (assignFull) would give it the same label: its own centre is nearer than every other by
 * more than the fast path's margin. Otherwise the upper bound is tightened, and failing that the value is assigned
 * in full.
 */
function assignWithBounds(
  values: Float32Array,
  u: number,
  k: number,
  centers: Float32Array,
  centersF64: Float64Array,
  groupLabel: Int32Array,
  upper: Float64Array,
  lower: Float64Array,
  moved3: Float64Array,
): void {
  // how far each centre moved since the last assignment (+ slack for rounding)
  let move1 = 0,
    move2 = 0,
    moveArg = -1;
  for (let kk = 0, c = 0; kk < k; kk++, c += 3) {
    const t0 = centers[c] - centersF64[c],
      t1 = centers[c + 1] - centersF64[c + 1],
      t2 = centers[c + 2] - centersF64[c + 2];
    const m = sqrt(t0 * t0 + t1 * t1 + t2 * t2) + BOUND_SLACK;
    moved3[kk] = m;
    if (m > move1) {
      move2 = move1;
      move1 = m;
      moveArg = kk;
    } else if (m > move2) {
      move2 = m;
    }
    centersF64[c] = centers[c];
    centersF64[c + 1] = centers[c + 1];
    centersF64[c + 2] = centers[c + 2];
  }
  for (let g = 0; g < u; g++) {
    const own = groupLabel[g];
    const lb = lower[g] - (own === moveArg ? move2 : move1);
    lower[g] = lb;
    const ub = upper[g] + moved3[own];
    const lb2 = lb * lb;
    if (lb > 0 && lb2 > ub * ub * SKIP_MARGIN + 1e-29) {
      upper[g] = ub;
      continue;
    }
    // tighten the upper bound with the exact (double) distance to the own centre
    const v = g * 3,
      c = own * 3;
    const t0 = values[v] - centersF64[c],
      t1 = values[v + 1] - centersF64[c + 1],
      t2 = values[v + 2] - centersF64[c + 2];
    const dOwn = t0 * t0 + t1 * t1 + t2 * t2;
    if (lb > 0 && lb2 > dOwn * SKIP_MARGIN + 1e-29) {
      upper[g] = sqrt(dOwn);
      continue;
    }
    groupLabel[g] = assignFull(values, g, centersF64, k, upper, lower);
  }
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
  const cells = buildCells(groups.values, groups.count);
  if (cells !== null) groups = renumberByCell(groups, cells);
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
  /** Hamerly bounds per distinct value: ≥ the distance to its centre, ≤ the distance to every other centre */
  const upper = new Float64Array(u);
  const lower = new Float64Array(u);
  const moved3 = new Float64Array(k);
  let boundsValid = false;
  /** [sample, label] pairs of samples moved by the empty-cluster rule since the last assignment */
  const moved = new Int32Array(2 * k * maxCount);
  let movedCount = 0;
  const scratch = {
    dist: new Float32Array(u),
    trialDist: Array.from({ length: SPP_TRIALS }, () => new Float32Array(u)),
    active: new Int32Array(n),
    activeGroup: new Int32Array(n),
    blockSums: new Float64Array(((n + BLOCK - 1) / BLOCK) | 0),
    groupSize,
    cells,
  };
  const dists = new Float64Array(n);
  let bestCompactness = MAX_DOUBLE;

  for (let a = 0; a < attempts; a++) {
    let compactness = 0;
    boundsValid = false;
    for (let iter = 0; ; ) {
      let maxCenterShift = iter === 0 ? MAX_DOUBLE : 0;
      const swap = centers;
      centers = oldCenters;
      oldCenters = swap;

      if (iter === 0) {
        generateCentersPP(data, n, groups, k, rng, SPP_TRIALS, centers, scratch);
      } else {
        // compute centres: float32 sums in sample order
        counters.fill(0);
        for (let g = 0; g < u; g++) counters[groupLabel[g]] += groupSize[g];
        accumulateCentres(groupLabel, nonZeroGroup, nonZeroData, nonZeroCount, sums);
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
        compactness = compactnessOf(data, n, groups, groupLabel, centers, moved, movedCount, groupDist, dists);
        break;
      } else {
        // assign labels: first centre with the strictly smallest distance
        if (!boundsValid) {
          assignAll(values, u, k, centers, centersF64, groupLabel, upper, lower);
          boundsValid = true;
        } else {
          assignWithBounds(values, u, k, centers, centersF64, groupLabel, upper, lower, moved3);
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
