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
import { analyzeClip } from '#enclave/analyze-clip.js';
import { DecodeError } from '#enclave/decode.js';
import { clipJson } from '#enclave/results.js';

const USAGE = 'usage: radiomics analyze CLIP [--json] [--anonymise DIR]';

export async function run(args: string[]): Promise<number> {
  let json = false;
  let anonymiseDir: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') json = true;
    else if (arg === '--anonymise' || arg === '--anonymize') {
      anonymiseDir = args[++i];
      if (!anonymiseDir) {
        process.stderr.write(`radiomics analyze: ${arg} needs a directory\n${USAGE}\n`);
        return 2;
      }
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else if (arg.startsWith('-')) {
      process.stderr.write(`radiomics analyze: unknown option '${arg}'\n${USAGE}\n`);
      return 2;
    } else positional.push(arg);
  }
  if (positional.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const [clip] = positional;
  try {
    const analysis = await analyzeClip(clip, { anonymiseDir });
    if (json) {
      process.stdout.write(clipJson(analysis) + '\n');
    } else {
      const lines = [
        `result: ${analysis.result}`,
        `doppler: ${analysis.doppler}`,
        `frames: ${analysis.frames} (textured: ${analysis.textured_frames})`,
        `label: ${analysis.label.label ?? 'n/a'} (${analysis.label.label_status}, z = ${analysis.label.z === null ? 'n/a' : analysis.label.z.toFixed(1)})`,
        `view: ${analysis.view}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  } catch (error) {
    if (error instanceof DecodeError) {
      process.stderr.write(`radiomics analyze: cannot analyse the clip: ${error.message} (${error.reason})\n`);
      return 1;
    }
    throw error;
  }
}
