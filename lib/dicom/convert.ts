/**
 * One DICOM cine loop → a de-identified, masked H.264 MP4 the enclave pipeline reads.
 *
 * Memory: the one DICOM file is parsed in memory (dcmjs needs it whole; echo loops are 3–100 MB, capped by
 * the caller), plus one decoded frame at a time. Frames are decoded, masked and piped to ffmpeg as raw RGB
 * with backpressure; ffmpeg writes the MP4 to a file (MP4 needs a seekable output for its index).
 * The MP4 carries no DICOM header and no metadata (`-map_metadata -1`); the de-identified data set is
 * returned for callers that keep it (it holds no PHI by construction, see deidentify.ts).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import dcmjs, { type DicomDict } from 'dcmjs';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { deidentifyDataset, type Dataset } from './deidentify.js';
import { annotationMask, applyMask, framesPerSecondOf, geometryOf, rgbFrames } from './pixels.js';
import { assertWholeDicom } from './elements.js';
import { ACCEPTED_TRANSFER_SYNTAXES, IMPLICIT_VR_LITTLE_ENDIAN, US_MULTIFRAME_SOP_CLASS, transferSyntaxRejection } from './syntax.js';

// dcmjs prints its parse diagnostics on the console: unstructured, and they may quote the element it stumbled on
for (const logger of [dcmjs.log, ...Object.values(dcmjs.log.getLoggers())]) logger.setLevel('silent');

export interface ParsedDicom {
  dataset: Dataset;
  transferSyntaxUid: string;
  sopClassUid: string;
}

/** Parses and validates: Ultrasound Multi-frame, an accepted transfer syntax, pixel data present, no element cut short. */
export function readDicom(bytes: Uint8Array): ParsedDicom {
  if (bytes.length < 132 || Buffer.from(bytes.buffer, bytes.byteOffset + 128, 4).toString('latin1') !== 'DICM') {
    throw new RejectedInput('not_dicom', 'the object is not DICOM Part 10 (no DICM at byte 128)');
  }
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  let parsed: DicomDict;
  try {
    parsed = dcmjs.data.DicomMessage.readFile(copy);
  } catch {
    throw new RejectedInput('bad_dicom', 'the DICOM file does not parse');
  }
  const meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.meta);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict);
  const transferSyntaxUid = String(meta.TransferSyntaxUID ?? '');
  const sopClassUid = String(dataset.SOPClassUID ?? meta.MediaStorageSOPClassUID ?? '');
  if (sopClassUid !== US_MULTIFRAME_SOP_CLASS) {
    throw new RejectedInput(
      'dicom_unsupported_sop_class',
      `SOP class ${sopClassUid || '(none)'} is not accepted; send Ultrasound Multi-frame images`,
    );
  }
  if (!ACCEPTED_TRANSFER_SYNTAXES.includes(transferSyntaxUid)) throw transferSyntaxRejection(transferSyntaxUid);
  if (!dataset.PixelData || (Array.isArray(dataset.PixelData) && dataset.PixelData.length === 0)) {
    throw new RejectedInput('dicom_no_pixel_data', 'the DICOM instance has no PixelData (7FE0,0010)');
  }
  assertWholeDicom(bytes, transferSyntaxUid !== IMPLICIT_VR_LITTLE_ENDIAN);
  return { dataset, transferSyntaxUid, sopClassUid };
}

export interface ConvertedLoop {
  path: string;
  bytes: number;
  frames: number;
  width: number;
  height: number;
  framesPerSecond: number;
  masked: 'regions' | 'band' | 'none';
  /** The de-identified data set without PixelData. */
  deidentified: Dataset;
}

export interface ConvertOptions {
  ffmpegPath: string;
  outPath: string;
  /** Key for pseudonymous UIDs and patient ids (derive it from the master key). */
  uidKey: Uint8Array;
  signal?: AbortSignal;
}

export async function convertDicomToMp4(bytes: Uint8Array, options: ConvertOptions): Promise<ConvertedLoop> {
  const { dataset, transferSyntaxUid } = readDicom(bytes);
  const geometry = geometryOf(dataset);
  const mask = annotationMask(dataset, geometry);
  const framesPerSecond = framesPerSecondOf(dataset);
  const { PixelData: _pixels, ...header } = dataset;
  const deidentified = deidentifyDataset(header, { uidKey: options.uidKey, pixelsCleaned: mask !== undefined });

  const ffmpeg = spawn(
    options.ffmpegPath,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${geometry.width}x${geometry.height}`,
      '-r',
      String(framesPerSecond),
      '-i',
      'pipe:0',
      '-an',
      '-map_metadata',
      '-1',
      '-vf',
      'pad=ceil(iw/2)*2:ceil(ih/2)*2',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '18',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      '-y',
      options.outPath,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'], signal: options.signal },
  );
  let stderr = '';
  ffmpeg.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  const exited = new Promise<number>((resolve, reject) => {
    ffmpeg.on('error', reject);
    ffmpeg.on('close', (code) => resolve(code ?? -1));
  });
  exited.catch(() => undefined);
  ffmpeg.stdin.on('error', () => undefined);

  let frames = 0;
  try {
    for (const rgb of rgbFrames(dataset, transferSyntaxUid)) {
      if (mask) applyMask(rgb, mask.keep);
      frames++;
      if (!ffmpeg.stdin.write(rgb)) {
        await new Promise<void>((resolve, reject) => {
          ffmpeg.stdin.once('drain', resolve);
          exited.then(() => reject(new RetryableError(`ffmpeg exited early: ${stderr.trim().slice(0, 300)}`)), reject);
        });
      }
    }
  } catch (error) {
    ffmpeg.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw error;
  }
  ffmpeg.stdin.end();
  let code: number;
  try {
    code = await exited;
  } catch (error) {
    throw new RetryableError('ffmpeg could not run', { cause: error });
  }
  if (code !== 0) throw new RejectedInput('dicom_conversion_failed', `ffmpeg could not encode the loop (exit ${code})`);
  const { size } = await stat(options.outPath);
  return {
    path: options.outPath,
    bytes: size,
    frames,
    width: geometry.width,
    height: geometry.height,
    framesPerSecond,
    masked: mask?.source ?? 'none',
    deidentified,
  };
}
