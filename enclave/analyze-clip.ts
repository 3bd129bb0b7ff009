/**
 * One clip through the original pipeline: decode → Doppler check (frame 0) → per frame: anonymised PNG (optional),
 * segmentation, texture features → clip vector → the shipped classifier.
 *
 * Frames are streamed: only the current frame and the per-frame feature rows are held.
 * k-means uses a fresh OpenCV RNG per clip (state 0xffffffff), threaded through the frames in order — what the
 * original did in a fresh process; in a long-lived original process the results depended on earlier clips.
 *
 * Results are named: the 57-value clip vector as {name: value} (CLIP_FEATURE_NAMES), per-frame rows keyed by the
 * 28 TEXTURE_FEATURE_NAMES plus the frame index. The values are the computed doubles, unrounded.
 * The label is the shipped, degenerate classifier's output (docs/radiomics.md §5): always reported in the block
 * `{rule, z, label, label_status: 'unvalidated'}`, never as a diagnosis. `view` is never assessed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { decodeFrames, type DecodeOptions, type VideoInput } from './decode.js';
import { classify, CLIP_FEATURE_NAMES, clipFeatureVector, type Classification, type Classifier } from '#enclave/radiomics/aggregate.js';
import { anonymisedPng } from '#enclave/radiomics/anonymise.js';
import { isDopplerFrame } from '#enclave/radiomics/doppler.js';
import { CvRng } from '#enclave/radiomics/rng.js';
import { segmentFrame } from '#enclave/radiomics/segmentation.js';
import { hasAnyPixel, TEXTURE_FEATURE_NAMES, textureFeatures } from '#enclave/radiomics/texture.js';

type TextureFeatureName = (typeof TEXTURE_FEATURE_NAMES)[number];

const require = createRequire(import.meta.url);
/** The original classifier's numbers (coef, intercept, mean_textures, std_textures), copied from samples/. */
export const SHIPPED_CLASSIFIER: Classifier = require('./radiomics/classifier.json') as Classifier;

export type ClipResult =
  /** features and a decision were computed */
  | 'ok'
  /** frame 0 is not colour Doppler: the original stops there */
  | 'not_doppler'
  /** k-means found no Doppler cluster in any frame (the original crashed) */
  | 'no_doppler_region'
  /** Doppler clusters were found but every segmented frame was empty after erosion (the original crashed) */
  | 'no_textured_frames';

/** One textured frame's 28 texture features by name, with the frame's index in the clip. */
export type FrameFeatures = { frame: number } & Record<TextureFeatureName, number>;

/** The shipped classifier's decision, always marked unvalidated (docs/radiomics.md §5). */
export interface LabelBlock {
  rule: string;
  /** z = coef · x' + intercept; null when not computed */
  z: number | null;
  label: string | null;
  label_status: 'unvalidated';
}

export const LABEL_RULE =
  "the original main.py's shipped logistic regression: z = coef · ((x − mean) / std) + intercept; RHD if z > 0, else Normal";

export interface ClipAnalysis {
  result: ClipResult;
  doppler: boolean;
  /** frames decoded */
  frames: number;
  /** frames whose segmented image is not all black (the rows of per_frame) */
  textured_frames: number;
  /** frames where no k-means cluster qualified as Doppler (the original would have crashed on the first) */
  frames_without_doppler_region: number;
  /** the 57-value clip vector by name (CLIP_FEATURE_NAMES, the classifier's order); null unless result ok */
  features: Record<string, number> | null;
  /** one row of the 28 named texture features per textured frame, in frame order */
  per_frame: FrameFeatures[];
  label: LabelBlock;
  view: 'not_assessed';
}

export interface FrameEvent {
  index: number;
  width: number;
  height: number;
  /** the anonymised frame as an RGB PNG, when `anonymise` is on */
  png?: Buffer;
  /** false when no k-means cluster qualified as Doppler */
  foundDoppler?: boolean;
  textured?: boolean;
  features?: number[];
}

export interface AnalyzeClipOptions {
  /** write anonymised frames as `<index>.png` into this directory (created if missing) */
  anonymiseDir?: string;
  /** produce anonymised PNG buffers (passed to onFrame) even without a directory */
  anonymise?: boolean;
  /** called after each frame, in order; may be async (e.g. to add the PNG to a zip) */
  onFrame?: (event: FrameEvent) => void | Promise<void>;
  /** defaults to the shipped classifier (radiomics/classifier.json) */
  classifier?: Classifier;
  decode?: DecodeOptions;
}

/** Analyses one clip. Throws `DecodeError` (a `RejectedInput`) for unreadable input. */
export async function analyzeClip(input: VideoInput, options: AnalyzeClipOptions = {}): Promise<ClipAnalysis> {
  const anonymise = options.anonymise === true || options.anonymiseDir !== undefined;
  if (options.anonymiseDir !== undefined) await mkdir(options.anonymiseDir, { recursive: true });
  const rng = new CvRng();
  const perFrame: number[][] = [];
  const perFrameIndex: number[] = [];
  let frames = 0;
  let doppler = false;
  let framesWithoutDopplerRegion = 0;

  for await (const frame of decodeFrames(input, options.decode)) {
    const { index, width, height, bgr } = frame;
    frames++;
    if (index === 0) doppler = isDopplerFrame(bgr, width * height);
    const event: FrameEvent = { index, width, height };
    if (anonymise) {
      event.png = anonymisedPng(bgr, width, height);
      if (options.anonymiseDir !== undefined) await writeFile(join(options.anonymiseDir, `${index}.png`), event.png);
    }
    if (doppler) {
      const segmentation = segmentFrame(bgr, width, height, rng);
      event.foundDoppler = segmentation.foundDoppler;
      if (!segmentation.foundDoppler) framesWithoutDopplerRegion++;
      event.textured = segmentation.foundDoppler && hasAnyPixel(segmentation.segmented);
      if (event.textured) {
        event.features = textureFeatures(segmentation.segmented, width, height);
        perFrame.push(event.features);
        perFrameIndex.push(index);
      }
    }
    await options.onFrame?.(event);
  }

  const report = (result: ClipResult, features: number[] | null, classification: Classification | null): ClipAnalysis => ({
    result,
    doppler,
    frames,
    textured_frames: perFrame.length,
    frames_without_doppler_region: framesWithoutDopplerRegion,
    features: features && named(CLIP_FEATURE_NAMES, features),
    per_frame: perFrame.map((row, i) => ({ frame: perFrameIndex[i], ...named(TEXTURE_FEATURE_NAMES, row) }) as FrameFeatures),
    label: {
      rule: LABEL_RULE,
      z: classification && !Number.isNaN(classification.decision) ? classification.decision : null,
      label: classification?.labelName ?? null,
      label_status: 'unvalidated',
    },
    view: 'not_assessed',
  });
  if (!doppler) return report('not_doppler', null, null);
  if (perFrame.length === 0) {
    return report(framesWithoutDopplerRegion === frames ? 'no_doppler_region' : 'no_textured_frames', null, null);
  }
  const features = clipFeatureVector(perFrame);
  return report('ok', features, classify(features, options.classifier ?? SHIPPED_CLASSIFIER));
}

function named(names: readonly string[], values: readonly number[]): Record<string, number> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}
