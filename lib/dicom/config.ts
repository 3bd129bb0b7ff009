/**
 * The intake's DICOM settings (its own module, beside the intake config):
 *   DICOM_INTAKE     on|off (default on): convert DICOM cine loops, or reject them as dicom_not_accepted
 *   FFMPEG_PATH      default /opt/bin/ffmpeg (an ffmpeg Lambda layer); /usr/bin/ffmpeg locally
 *   MAX_DICOM_BYTES  default 256 MiB: one file is held in memory while it converts
 */
import { z } from 'zod';
import { parse, positiveInt, type Env } from '#lib/config.js';

const schema = z.object({
  DICOM_INTAKE: z.enum(['on', 'off']).default('on'),
  FFMPEG_PATH: z.string().startsWith('/').default('/opt/bin/ffmpeg'),
  MAX_DICOM_BYTES: positiveInt.default(256 * 1024 * 1024),
});

export interface DicomIntakeSettings {
  ffmpegPath: string;
  maxDicomBytes: number;
}

export function parseDicomIntakeSettings(env: Env): DicomIntakeSettings | undefined {
  const c = parse(schema, env);
  return c.DICOM_INTAKE === 'off' ? undefined : Object.freeze({ ffmpegPath: c.FFMPEG_PATH, maxDicomBytes: c.MAX_DICOM_BYTES });
}
