/**
 * Clip aggregation and the shipped logistic-regression rule (`main.py`, §5 of docs/radiomics.md).
 *
 * The 57-value clip vector is nanmean over frames of the 28 features, nanmedian over frames of the 28, and
 * `max(allTextures)[-2]` of the original: the maxVelocity of the frame that is largest in Python's list ordering
 * (lexicographic over the 28 features, so in practice the frame with the largest autoCorrelation). It is *not*
 * the clip's maximum velocity; it is named `maxVelocityOfMaxAutoCorrelationFrame` here.
 */
import { CLIP_FEATURE_COUNT, CLIP_FEATURE_NAMES, TEXTURE_FEATURE_COUNT } from '#lib/radiomics/feature-names.js';

export { CLIP_FEATURE_COUNT, CLIP_FEATURE_NAMES };

const MAX_VELOCITY = 26;

/** Python's `a > b` on two lists of floats (first differing position decides; NaN never equals anything). */
export function pythonListGreater(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    return a[i] > b[i];
  }
  return a.length > b.length;
}

/** Python's `max(rows)`: the first row that no later row is greater than. */
export function pythonMax(rows: readonly (readonly number[])[]): readonly number[] {
  let best = rows[0];
  for (let r = 1; r < rows.length; r++) if (pythonListGreater(rows[r], best)) best = rows[r];
  return best;
}

export function nanmean(values: readonly number[]): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    sum += v;
    n++;
  }
  return n === 0 ? NaN : sum / n;
}

export function nanmedian(values: readonly number[]): number {
  const kept = values.filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
  const n = kept.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? kept[mid] : (kept[mid - 1] + kept[mid]) / 2;
}

/** The 57-value clip vector from the per-frame rows (at least one row). */
export function clipFeatureVector(perFrame: readonly (readonly number[])[]): number[] {
  if (perFrame.length === 0) throw new Error('clipFeatureVector needs at least one textured frame');
  const column = (f: number) => perFrame.map((row) => row[f]);
  const means: number[] = [];
  const medians: number[] = [];
  for (let f = 0; f < TEXTURE_FEATURE_COUNT; f++) {
    means.push(nanmean(column(f)));
    medians.push(nanmedian(column(f)));
  }
  const maxVelocityOfMaxAutoCorrelationFrame = pythonMax(perFrame)[MAX_VELOCITY];
  return [...means, ...medians, maxVelocityOfMaxAutoCorrelationFrame];
}

export interface Classifier {
  coef: number[];
  intercept: number;
  mean_textures: number[];
  std_textures: number[];
  labels: Record<string, string>;
}

export interface Classification {
  /** z = coef · ((x − mean) / std) + intercept; NaN if any feature is NaN */
  decision: number;
  /** 1 = RHD when z > 0, else 0 = Normal; null when z is NaN */
  label: 0 | 1 | null;
  labelName: string | null;
}

/** The original `predict`: standardise with the shipped means/stds, then the linear rule. Unvalidated: see §5. */
export function classify(features: readonly number[], classifier: Classifier): Classification {
  if (features.length !== classifier.coef.length) {
    throw new Error(`classifier expects ${classifier.coef.length} features, got ${features.length}`);
  }
  let z = 0;
  for (let i = 0; i < features.length; i++) {
    z += classifier.coef[i] * ((features[i] - classifier.mean_textures[i]) / classifier.std_textures[i]);
  }
  z += classifier.intercept;
  if (Number.isNaN(z)) return { decision: NaN, label: null, labelName: null };
  const label: 0 | 1 = z > 0 ? 1 : 0;
  return { decision: z, label, labelName: classifier.labels[String(label)] ?? null };
}
