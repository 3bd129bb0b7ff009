/**
 * The names of the radiomics numbers, shared by the enclave worker that computes them (enclave/radiomics/) and the
 * readers of its results (bin/, the status page): 28 texture features per frame (docs/radiomics.md §4) and the
 * 57-value clip vector in the classifier's order (§5).
 */
export const TEXTURE_FEATURE_NAMES = [
  'autoCorrelation',
  'clusterProminence',
  'clusterShade',
  'contrast',
  'correlation',
  'differenceEntropy',
  'differenceVariance',
  'dissimilarity',
  'energy',
  'entropy',
  'homogeneity',
  'imc1',
  'imc2',
  'inverseDifference',
  'maximumProbability',
  'sumAverage',
  'sumEntropy',
  'sumOfSquaresVariance',
  'sumVariance',
  'kurtosis',
  'skewness',
  'mean',
  'std',
  'median',
  'p25',
  'p75',
  'maxVelocity',
  'meanVelocity',
] as const;
export const TEXTURE_FEATURE_COUNT = 28;

export const CLIP_FEATURE_COUNT = 2 * TEXTURE_FEATURE_COUNT + 1;
/** The 57 names of the clip vector, in the classifier's order: `mean_<feature>` ×28, `median_<feature>` ×28, and the last. */
export const CLIP_FEATURE_NAMES: readonly string[] = [
  ...TEXTURE_FEATURE_NAMES.map((name) => `mean_${name}`),
  ...TEXTURE_FEATURE_NAMES.map((name) => `median_${name}`),
  'maxVelocityOfMaxAutoCorrelationFrame',
];
