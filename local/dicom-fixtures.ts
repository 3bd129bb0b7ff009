/**
 * DICOM files for tests and `npm start`: Ultrasound Multi-frame loops made with dcmtk exactly as
 * ../shared/docs/pacs.md says (JPEG Baseline frames from a sample clip, img2dcm, dcmodify), a whole clip with
 * a scanner's PHI for the PACS route of `npm start`, and small uncompressed ones built in memory with dcmjs for
 * exact pixel and tag assertions.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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
    usLoopWithDcmtk(SAMPLE_CLIP, join(dir, 'us.dcm'), { frames: options.frames ?? 10, frameTimeMs: 40, modify: options.extraModify ?? [] });
    return readFileSync(join(dir, 'us.dcm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** pacs.md's recipe: the clip's frames (all, or the first `frames`) as JPEG Baseline in a US Multi-frame file at `outPath`. */
function usLoopWithDcmtk(clip: string, outPath: string, options: { frames?: number; frameTimeMs: number; modify: string[] }): void {
  const dir = mkdtempSync(join(tmpdir(), 'us-frames-'));
  try {
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      clip,
      ...(options.frames ? ['-frames:v', String(options.frames)] : []),
      '-q:v',
      '3',
      join(dir, 'f%04d.jpg'),
    ]);
    const jpgs = readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .map((f) => join(dir, f));
    execFileSync('img2dcm', ['-nsc', ...jpgs, outPath], { stdio: 'ignore' });
    execFileSync('dcmodify', [
      '-nb',
      '-m',
      `SOPClassUID=${US_MULTIFRAME_SOP_CLASS}`,
      '-i',
      'Modality=US',
      '-i',
      'PatientName=TEST^ECHO',
      '-i',
      'PatientID=ECHO001',
      '-i',
      'BurnedInAnnotation=YES',
      '-i',
      `(0018,1063)=${options.frameTimeMs}`,
      '-i',
      '(0028,0009)=(0018,1063)',
      ...options.modify,
      outPath,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new UID under the UUID-derived root 2.25 (PS3.5 B.2). */
export const newUid = () => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;

/** The patient, study and site facts a scanner writes into every file: what the intake's de-identification must remove. */
export const EXAMPLE_PHI: Readonly<Record<string, string>> = {
  PatientName: 'DEMO^ANNA^MARIA',
  PatientID: 'MRN-0042-DEMO',
  PatientBirthDate: '19840214',
  PatientSex: 'F',
  PatientAge: '041Y',
  PatientAddress: '12 Example Street, Demo Town',
  PatientTelephoneNumbers: '+00 555 0142',
  AccessionNumber: 'ACC20160407001',
  StudyID: 'ECHO1418',
  StudyDate: '20160407',
  StudyTime: '115216',
  StudyDescription: 'TTE with colour Doppler',
  SeriesDescription: 'PLAX colour',
  InstitutionName: 'Demo General Hospital',
  InstitutionAddress: '1 Hospital Road, Demo Town',
  StationName: 'ECHO-LAB-2',
  ReferringPhysicianName: 'REFERRER^ROBERT',
  PerformingPhysicianName: 'SONO^SARA',
  OperatorsName: 'TECH^TOM',
  DeviceSerialNumber: 'SN-55-0042',
};

/**
 * A sample clip as a scanner would export it to PACS: an Ultrasound Multi-frame file (JPEG Baseline, every
 * frame at the clip's rate), the PHI of `phi` filled in, the given study and SOP Instance UIDs, and one
 * ultrasound region (0018,6011) below the burned-in header, so the intake keeps only the imaging area.
 */
export function clipAsUsLoop(
  clip: string,
  outPath: string,
  ids: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string },
  phi: Readonly<Record<string, string>> = EXAMPLE_PHI,
): void {
  const rate = execFileSync('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=r_frame_rate,width,height',
    '-of',
    'csv=p=0',
    clip,
  ])
    .toString()
    .trim();
  const [width, height, fps] = rate.split(',');
  const [num, den] = fps.split('/').map(Number);
  const frameTimeMs = Number(((1000 * (den || 1)) / num).toFixed(3));
  const region = (tag: string, value: number) => ['-i', `(0018,6011)[0].${tag}=${value}`];
  usLoopWithDcmtk(clip, outPath, {
    frameTimeMs,
    modify: [
      ...Object.entries(phi).flatMap(([name, value]) => ['-i', `${name}=${value}`]),
      '-m',
      `StudyInstanceUID=${ids.studyInstanceUid}`,
      '-m',
      `SeriesInstanceUID=${ids.seriesInstanceUid}`,
      '-m',
      `SOPInstanceUID=${ids.sopInstanceUid}`,
      ...region('(0018,6018)', 0),
      ...region('(0018,601a)', Math.round(Number(height) * 0.18)),
      ...region('(0018,601c)', Number(width) - 1),
      ...region('(0018,601e)', Number(height) - 1),
    ],
  });
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
export function buildUncompressedLoop(
  dataset: Record<string, unknown> = {},
  options: { width?: number; height?: number; frames?: number; pixels?: boolean; transferSyntax?: string } = {},
): Buffer {
  const width = options.width ?? 16;
  const height = options.height ?? 12;
  const frames = options.frames ?? 3;
  const pixels = new Uint8Array(width * height * frames);
  for (let f = 0; f < frames; f++)
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[f * width * height + y * width + x] = loopValue(f, x, y);
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
