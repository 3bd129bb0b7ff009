/**
 * The worker's per-clip result files as a reader sees them: `<id>.json` (the named analysis, see
 * enclave/analyze-clip.ts) and `<id>.error.json` ({item_id, reason}). Parsed with zod: a file that does not have
 * this shape is refused with a clear message rather than half-read.
 */
import { z } from 'zod';
import { RadiomicsError } from '#lib/errors.js';
import { CLIP_FEATURE_NAMES, TEXTURE_FEATURE_NAMES } from '#lib/radiomics/feature-names.js';

export { CLIP_FEATURE_NAMES, TEXTURE_FEATURE_NAMES };

/** A feature value: the worker writes NaN/Infinity as null. */
const value = z.number().nullable();

const frameRow = z.object({ frame: z.number().int().nonnegative() }).catchall(value);

export const clipAnalysisSchema = z.object({
  item_id: z.string().regex(/^[0-9a-f]{32}$/),
  result: z.enum(['ok', 'not_doppler', 'no_doppler_region', 'no_textured_frames']),
  doppler: z.boolean(),
  frames: z.number().int().nonnegative(),
  textured_frames: z.number().int().nonnegative(),
  frames_without_doppler_region: z.number().int().nonnegative(),
  features: z.record(z.string(), value).nullable(),
  per_frame: z.array(frameRow),
  label: z.object({ rule: z.string(), z: z.number().nullable(), label: z.string().nullable(), label_status: z.literal('unvalidated') }),
  view: z.string(),
});
export type ClipAnalysisJson = z.infer<typeof clipAnalysisSchema>;

export const clipErrorSchema = z.object({ item_id: z.string(), reason: z.string() });
export type ClipErrorJson = z.infer<typeof clipErrorSchema>;

export class ResultFileError extends RadiomicsError {
  constructor(message: string) {
    super(422, 'bad_result_file', message);
  }
}

function parseWith<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ResultFileError(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ResultFileError(`${what} is not a result file of this version (${issue.path.join('.') || 'top level'}: ${issue.message})`);
  }
  return parsed.data;
}

export const parseClipAnalysis = (text: string, what = 'the analysis') => parseWith(clipAnalysisSchema, text, what);
export const parseClipError = (text: string, what = 'the error record') => parseWith(clipErrorSchema, text, what);
