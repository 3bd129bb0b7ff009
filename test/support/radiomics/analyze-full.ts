/**
 * Prints the full analysis of each clip given as an argument, one JSON line each (the exact output the worker
 * would store), or `{clip, error}`. Run with node --import tsx, outside jest's sandbox.
 */
import { analyzeClip } from '#enclave/analyze-clip.js';

for (const clip of process.argv.slice(2)) {
  try {
    process.stdout.write(`${JSON.stringify({ clip, analysis: await analyzeClip(clip) })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ clip, error: String(error) })}\n`);
  }
}
