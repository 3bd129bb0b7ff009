/**
 * Which clips `npm start` runs: the MP4 and DICOM files of `--clips DIR`, or of the shared samples; checked
 * before anything starts. A DICOM file is one named `.dcm` or `.dicom`, or any file with `DICM` at byte 128.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export function isDicomFile(path: string): boolean {
  if (/\.(dcm|dicom)$/i.test(path)) return true;
  const head = Buffer.alloc(132);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 132, 0) === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } finally {
    closeSync(fd);
  }
}

/** The clips' paths, sorted, or the one line saying what is missing. */
export function findClips(clipsDir: string | undefined, samplesDir: string): string[] | string {
  const dir = clipsDir === undefined ? samplesDir : resolve(clipsDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return clipsDir === undefined
      ? `npm start needs clips: ${relative(process.cwd(), samplesDir)} does not exist; give a folder of MP4 or DICOM files with: npm start -- --clips DIR`
      : `npm start: --clips ${clipsDir} is not a folder`;
  }
  const clips = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile() && (/\.mp4$/i.test(name) || isDicomFile(join(dir, name))))
    .sort();
  return clips.length ? clips.map((name) => join(dir, name)) : `npm start: no MP4 or DICOM files in ${dir}`;
}
