import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { findClips } from '#local/clip-folder.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'clip-folder-'));
  mkdirSync(join(dir, 'clips'));
  for (const name of ['b.MP4', 'a.mp4', 'notes.txt', 'c.DCM']) writeFileSync(join(dir, 'clips', name), '');
  const exported = Buffer.alloc(200);
  exported.write('DICM', 128, 'latin1');
  writeFileSync(join(dir, 'clips', 'IM000001'), exported);
  mkdirSync(join(dir, 'empty'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start clip folder', () => {
  it('takes the MP4 and DICOM files of --clips DIR in name order, whatever the case of the suffix; a DICOM file by its suffix or its DICM marker', () => {
    expect(findClips(join(dir, 'clips'), join(dir, 'missing'))).toEqual(
      ['IM000001', 'a.mp4', 'b.MP4', 'c.DCM'].map((name) => join(dir, 'clips', name)),
    );
  });

  it('without --clips and without the samples, says in one line what it needs', () => {
    const samples = join(dir, 'shared', 'samples', 'videos');
    expect(findClips(undefined, samples)).toBe(
      `npm start needs clips: ${relative(process.cwd(), samples)} does not exist; give a folder of MP4 or DICOM files with: npm start -- --clips DIR`,
    );
  });

  it('names a --clips path that is not a folder, and a folder without MP4 or DICOM files', () => {
    expect(findClips(join(dir, 'nope'), dir)).toBe(`npm start: --clips ${join(dir, 'nope')} is not a folder`);
    expect(findClips(join(dir, 'empty'), dir)).toBe(`npm start: no MP4 or DICOM files in ${join(dir, 'empty')}`);
  });
});
