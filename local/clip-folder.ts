/** Which clips `npm start` runs: the MP4 files of `--clips DIR`, or of the shared samples; checked before anything starts. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** The clips' paths, sorted, or the one line saying what is missing. */
export function findClips(clipsDir: string | undefined, samplesDir: string): string[] | string {
  const dir = clipsDir === undefined ? samplesDir : resolve(clipsDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return clipsDir === undefined
      ? `npm start needs clips: ${relative(process.cwd(), samplesDir)} does not exist; give a folder of MP4 files with: npm start -- --clips DIR`
      : `npm start: --clips ${clipsDir} is not a folder`;
  }
  const clips = readdirSync(dir).filter((name) => /\.mp4$/i.test(name)).sort();
  return clips.length ? clips.map((name) => join(dir, name)) : `npm start: no .mp4 files in ${dir}`;
}
