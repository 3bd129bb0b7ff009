/**
 * `radiomics analyze CLIP [--json] [--anonymise DIR]`: runs the original radiomics pipeline on one clip.
 *
 * --json prints one JSON object: {result, doppler, frames, textured_frames, frames_without_doppler_region,
 * features: {<57 names>: value}, per_frame: [{frame, <28 names>: value}], label: {rule, z, label,
 * label_status: "unvalidated"}, view: "not_assessed"}, exactly as the worker's `<id>.json` (without item_id).
 * NaN features are printed as null; numbers are unrounded.
 * Without --json a short human summary is printed. --anonymise DIR also writes the masked frames as DIR/<i>.png
 * (correct RGB; the original swapped red and blue).
 * Exit codes: 0 analysed (whatever the result), 1 unreadable input, 2 usage.
 */
import { UsageError, defineCommand, runCommand, shown, type Out } from '#bin/support/command-line.js';
import { analyzeClip } from '#enclave/analyze-clip.js';
import { DecodeError } from '#enclave/decode.js';
import { clipJson } from '#enclave/results.js';

export const ANALYZE = defineCommand({
  program: 'radiomics analyze',
  usage: 'usage: radiomics analyze CLIP [--json] [--anonymise DIR]',
  about: 'Run the original radiomics pipeline on one plain clip and print what the worker would record for it.',
  arguments: [['CLIP', 'the video (e.g. an .mp4)']],
  options: {
    json: {
      type: 'boolean',
      help: "print one JSON object, exactly as the worker's <id>.json (without item_id); NaN features as null (default: a short summary)",
    },
    anonymise: { type: 'string', value: 'DIR', help: 'also write the masked frames as DIR/<i>.png' },
    anonymize: { type: 'string', value: 'DIR', help: 'the same as --anonymise' },
  },
  environment: [['FFMPEG_PATH', 'the ffmpeg that decodes the clip (default: /usr/bin/ffmpeg)']],
  exitStatus: [
    [0, 'analysed, whatever the result'],
    [1, 'the clip cannot be read or decoded'],
    [2, 'usage error'],
  ],
});

export async function run(
  args: string[],
  _env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runCommand(ANALYZE, args, { out, err }, ({ values, positionals }) => {
    if (values.anonymise !== undefined && values.anonymize !== undefined) throw new UsageError('give --anonymise or --anonymize, not both');
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0 ? 'CLIP is required' : `expected one CLIP, got ${positionals.length}: ${positionals.map(shown).join(' ')}`,
      );
    return analyze(positionals[0], { json: values.json === true, anonymiseDir: values.anonymise ?? values.anonymize }, out, err);
  });
}

async function analyze(clip: string, options: { json: boolean; anonymiseDir?: string }, out: Out, err: Out): Promise<number> {
  try {
    const analysis = await analyzeClip(clip, { anonymiseDir: options.anonymiseDir });
    if (options.json) {
      out.write(`${clipJson(analysis)}\n`);
    } else {
      const lines = [
        `result: ${analysis.result}`,
        `doppler: ${analysis.doppler}`,
        `frames: ${analysis.frames} (textured: ${analysis.textured_frames})`,
        `label: ${analysis.label.label ?? 'n/a'} (${analysis.label.label_status}, z = ${analysis.label.z === null ? 'n/a' : analysis.label.z.toFixed(1)})`,
        `view: ${analysis.view}`,
      ];
      out.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof DecodeError) {
      err.write(`radiomics analyze: cannot analyse the clip: ${error.message} (${error.reason})\n`);
      return 1;
    }
    throw error;
  }
}
