/**
 * DICOM test files: an Ultrasound Multi-frame loop made with dcmtk exactly as ../shared/docs/pacs.md says
 * (JPEG Baseline frames from a sample clip, img2dcm, dcmodify), and small uncompressed ones built in memory
 * with dcmjs for exact pixel and tag assertions.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { SHARED_DIR } from './service-endpoints.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, US_MULTIFRAME_SOP_CLASS } from '#lib/dicom/syntax.js';

export const SAMPLE_CLIP = join(SHARED_DIR, 'samples', 'videos', 'VH020213M4_001418_20160407T115216.MP4');

export function dcmtkAvailable(): boolean {
  try {
    execFileSync('img2dcm', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `ffmpeg … f%02d.jpg; img2dcm -nsc f*.jpg us.dcm; dcmodify …` from pacs.md; returns the file's bytes. */
export function makeUsLoopWithDcmtk(options: { frames?: number; extraModify?: string[] } = {}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'us-loop-'));
  try {
    execFileSync('ffmpeg', ['-v', 'error', '-i', SAMPLE_CLIP, '-frames:v', String(options.frames ?? 10), '-q:v', '3', join(dir, 'f%02d.jpg')]);
    const jpgs = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));
    execFileSync('img2dcm', ['-nsc', ...jpgs, join(dir, 'us.dcm')], { stdio: 'ignore' });
    execFileSync('dcmodify', [
      '-nb', '-m', `SOPClassUID=${US_MULTIFRAME_SOP_CLASS}`, '-i', 'Modality=US', '-i', 'PatientName=TEST^ECHO', '-i', 'PatientID=ECHO001',
      '-i', 'BurnedInAnnotation=YES', '-i', '(0018,1063)=40', '-i', '(0028,0009)=(0018,1063)', ...(options.extraModify ?? []), join(dir, 'us.dcm'),
    ]);
    return readFileSync(join(dir, 'us.dcm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replaces an ASCII value of the same length (e.g. a UID in the meta header) in a DICOM file's bytes. */
export function patchAscii(file: Buffer, from: string, to: string, occurrences = 1): Buffer {
  if (from.length !== to.length) throw new Error('patchAscii keeps lengths');
  const out = Buffer.from(file);
  let at = 0;
  for (let i = 0; i < occurrences; i++) {
    at = out.indexOf(from, at, 'latin1');
    if (at < 0) throw new Error(`no ${from}`);
    out.write(to, at, 'latin1');
    at += from.length;
  }
  return out;
}

export interface BuiltDicom {
  width: number;
  height: number;
  frames: number;
  /** Pixel value at (x, y) of frame f, before any masking. */
  value(f: number, x: number, y: number): number;
}

/** An uncompressed 8-bit MONOCHROME2 US multi-frame file, every pixel `(x + y + 10 f) % 200 + 50` (never 0). */
export function buildUncompressedLoop(dataset: Record<string, unknown> = {}, options: { width?: number; height?: number; frames?: number; pixels?: boolean; transferSyntax?: string } = {}): Buffer {
  const width = options.width ?? 16;
  const height = options.height ?? 12;
  const frames = options.frames ?? 3;
  const pixels = new Uint8Array(width * height * frames);
  for (let f = 0; f < frames; f++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[f * width * height + y * width + x] = loopValue(f, x, y);
  const sopInstanceUid = (dataset.SOPInstanceUID as string) ?? '1.2.826.0.1.3680043.8.498.1001';
  const natural: Record<string, unknown> = {
    SOPClassUID: US_MULTIFRAME_SOP_CLASS,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
    SeriesInstanceUID: '1.2.826.0.1.3680043.8.498.2',
    Modality: 'US',
    PatientName: 'DOE^JANE',
    PatientID: 'MRN-12345',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: height,
    Columns: width,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    NumberOfFrames: String(frames),
    FrameTime: '40',
    ...dataset,
    _vrMap: { PixelData: 'OB' },
  };
  if (options.pixels !== false) natural.PixelData = [pixels.buffer];
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: US_MULTIFRAME_SOP_CLASS,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: options.transferSyntax ?? EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: '1.2.826.0.1.3680043.8.498.9',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(natural);
  return Buffer.from(dict.write());
}

export const loopValue = (f: number, x: number, y: number) => ((x + y + 10 * f) % 200) + 50;
