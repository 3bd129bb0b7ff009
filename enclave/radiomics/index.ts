/** Pure radiomics library: typed arrays in, numbers out. No I/O. */
export { CvRng } from './rng.js';
export { bgrToHsv, grayOpenCv, rgbToLabF32, roundHalfEven } from './color.js';
export { kmeansPP, groupSamples, type KmeansResult, type KmeansCriteria, type SampleGroups } from './kmeans.js';
export { isDopplerFrame, dopplerColourCounts } from './doppler.js';
export { segmentFrame, blackOutOverlays, erodeCross, isDopplerCluster, wrapToUint8, type Segmentation } from './segmentation.js';
export {
  textureFeatures,
  quantisedGray,
  hasAnyPixel,
  glcmCounts,
  glcmFeatures,
  glcmFeaturesMean,
  firstOrderFeatures,
  gaussianBlur3x3,
  TEXTURE_FEATURE_NAMES,
  TEXTURE_FEATURE_COUNT,
} from './texture.js';
export {
  clipFeatureVector,
  classify,
  nanmean,
  nanmedian,
  pythonMax,
  CLIP_FEATURE_COUNT,
  CLIP_FEATURE_NAMES,
  type Classifier,
  type Classification,
} from './aggregate.js';
export { maskBurnedInText, encodePngFromBgr, anonymisedPng } from './anonymise.js';
