/**
 * Test helper (not a test): analyses the clips given as arguments, one JSON line each:
 * {clip, result, frames, textured_frames, features, label} or {clip, error, reason}.
 * Run outside jest's sandbox (node --import tsx) so the 21-clip check stays fast.
 */
import { analyzeClip } from '#enclave/analyze-clip.js';
import { DecodeError } from '#enclave/decode.js';

for (const clip of process.argv.slice(2)) {
  try {
    const a = await analyzeClip(clip);
    process.stdout.write(
      `${JSON.stringify({
        clip,
        result: a.result,
        frames: a.frames,
        textured_frames: a.textured_frames,
        features: a.features,
        label: a.label,
      })}\n`,
    );
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ clip, error: String(error), reason: error instanceof DecodeError ? error.reason : null })}\n`);
  }
}
