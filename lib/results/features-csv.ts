/**
 * features.csv: one row per clip with named columns (RFC 4180; numbers unrounded, as the worker computed them;
 * empty for none). The label columns carry the shipped classifier's rule, always `unvalidated`.
 */
import { CLIP_FEATURE_NAMES } from './analysis.js';
import type { ClipRecord } from './clip-records.js';

export const CSV_COLUMNS = [
  'video_id',
  'source',
  'route',
  'stage',
  'reason',
  'result',
  'doppler',
  'frames',
  'textured_frames',
  'frames_without_doppler_region',
  'z',
  'label',
  'label_status',
  ...CLIP_FEATURE_NAMES,
] as const;

function field(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(record: ClipRecord): string[] {
  const a = record.analysis;
  const features = a?.features ?? {};
  return [
    record.videoId,
    record.source ?? '',
    record.route ?? '',
    record.stage,
    record.reason ?? record.problem ?? '',
    a?.result ?? '',
    a ? String(a.doppler) : '',
    a?.frames ?? '',
    a?.textured_frames ?? '',
    a?.frames_without_doppler_region ?? '',
    a?.label.z ?? '',
    a?.label.label ?? '',
    a?.label.label_status ?? '',
    ...CLIP_FEATURE_NAMES.map((name) => features[name] ?? ''),
  ].map(field);
}

export function featuresCsv(records: readonly ClipRecord[]): string {
  return `${[CSV_COLUMNS.join(','), ...records.map((r) => csvRow(r).join(','))].join('\r\n')}\r\n`;
}
