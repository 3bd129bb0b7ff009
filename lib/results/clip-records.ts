/**
 * One record per clip of a job, from the downloaded files and the status API: what features.csv and report.html
 * are made of. A clip the job lists as failed without any file still gets a record (stage and reason only). The
 * source is the caller's (`radiomics results --source`) or else the API's answer for the clip, which names the
 * upload only to its own tenant.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseClipAnalysis, parseClipError, type ClipAnalysisJson, type ClipErrorJson } from './analysis.js';
import { clipsDir, resultFileName } from './download.js';
import { StatusApiError, type JobDetail, type StatusApi } from './status-api-client.js';

export interface ClipRecord {
  videoId: string;
  /** The upload's source key (or SOPInstanceUID), when the caller knows it (its own tenant's uploads). */
  source: string | null;
  /** How the clip arrived: `s3` or `pacs`, when known. */
  route: string | null;
  stage: string;
  reason: string | null;
  analysis: ClipAnalysisJson | null;
  error: ClipErrorJson | null;
  /** Path of the downloaded frames zip, if any. */
  framesZip: string | null;
  /** Why a downloaded file could not be read (it is then left out, never half-read). */
  problem: string | null;
}

/** What the caller knows about its own uploads, by video id. */
export type ClipOrigins = ReadonlyMap<string, { source?: string; route?: string }>;

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The job's video ids: those with results links and those it lists as failed, in a stable order. */
export function jobVideoIds(job: JobDetail): string[] {
  return [...new Set([...job.results.map((r) => r.video_id), ...job.failed_items])].sort();
}

export async function clipRecords(
  job: JobDetail,
  dir: string,
  api: StatusApi,
  origins: ClipOrigins = new Map(),
  videoIds: readonly string[] = jobVideoIds(job),
): Promise<ClipRecord[]> {
  const records: ClipRecord[] = [];
  for (const videoId of videoIds) {
    const at = (kind: 'analysis' | 'frames' | 'error') => join(clipsDir(dir), resultFileName(videoId, kind));
    const record: ClipRecord = {
      videoId,
      source: origins.get(videoId)?.source ?? null,
      route: origins.get(videoId)?.route ?? null,
      stage: 'unknown',
      reason: null,
      analysis: null,
      error: null,
      framesZip: null,
      problem: null,
    };
    try {
      const analysisText = await readOptional(at('analysis'));
      if (analysisText !== null) record.analysis = parseClipAnalysis(analysisText, resultFileName(videoId, 'analysis'));
      const errorText = await readOptional(at('error'));
      if (errorText !== null) record.error = parseClipError(errorText, resultFileName(videoId, 'error'));
    } catch (error) {
      record.problem = (error as Error).message;
    }
    if (await exists(at('frames'))) record.framesZip = at('frames');
    try {
      const video = await api.video(videoId);
      record.stage = video.stage;
      record.reason = video.reason;
      record.route ??= video.route ?? null;
      record.source ??= video.source ?? null;
    } catch (error) {
      if (!(error instanceof StatusApiError && error.status === 404)) throw error;
    }
    if (record.stage === 'unknown') record.stage = record.analysis ? 'done' : 'failed';
    record.reason ??= record.error?.reason ?? null;
    records.push(record);
  }
  // the caller's own uploads in source order first, then the rest by id
  const order = (r: ClipRecord) => (r.source === null ? `1${r.videoId}` : `0${r.source}`);
  return records.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
