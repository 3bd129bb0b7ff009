/**
 * An upload's video for `radiomics status` and `radiomics results`: `--source KEY` (the object key as uploaded,
 * `<tenant>/<name>`) or `--sop UID` (a PACS instance), found by the status API within the token's tenant, or for
 * `status` also `--video ID`; what `status` shows of it (what was uploaded, its stage, batch, job and result links);
 * the one line both commands print when the tenant has no such video.
 */
import { isDicomUid } from '#lib/dicom/uid.js';
import { HttpStatusApi, StatusApiError, type JobDetail, type VideoLookup, type VideoView } from '#lib/results/status-api-client.js';
import { UsageError } from './command-line.js';
import { printable, VIDEO_ENDED_STAGES, videoDetail } from './status-format.js';
import type { ApiAccess } from './status-access.js';

export const VIDEO_LOOKUP_OPTIONS = {
  source: { type: 'string', value: 'KEY', help: "an upload's video instead: its object key as uploaded, <tenant>/<name>" },
  sop: { type: 'string', value: 'UID', help: "a PACS instance's video instead, by its SOPInstanceUID" },
} as const;

const MAX_SOURCE_KEY_BYTES = 1024;

/** The --source or --sop given, checked as the status API checks them; undefined when neither is. */
export function videoLookupOf(values: { source?: string; sop?: string }): VideoLookup | undefined {
  if (values.source !== undefined && values.sop !== undefined) throw new UsageError('--source and --sop do not go together');
  if (values.sop !== undefined) {
    if (!isDicomUid(values.sop)) throw new UsageError('--sop must be a DICOM UID (digits and dots, at most 64 characters)');
    return { by: 'sop', value: values.sop };
  }
  if (values.source === undefined) return undefined;
  if (Buffer.byteLength(values.source, 'utf8') > MAX_SOURCE_KEY_BYTES)
    throw new UsageError(`--source must be an object key of 1 to ${MAX_SOURCE_KEY_BYTES} bytes`);
  return { by: 'source', value: values.source };
}

/** A video by its id (`status --video`), or by what was uploaded. */
export type VideoQuery = VideoLookup | { by: 'video'; value: string };

export const VIDEO_ID_OPTION = {
  video: { type: 'string', value: 'ID', help: 'one video instead, by its id (32 hex characters)' },
} as const;

/** --video, --source or --sop, checked; undefined when none is given. */
export function videoQueryOf(values: { video?: string; source?: string; sop?: string }): VideoQuery | undefined {
  const lookup = videoLookupOf(values);
  if (values.video === undefined) return lookup;
  if (lookup) throw new UsageError(`--video and --${lookup.by} do not go together`);
  if (!/^[0-9a-f]{32}$/.test(values.video)) throw new UsageError('--video must be a video id (32 hex characters)');
  return { by: 'video', value: values.video };
}

export const noVideoLine = (query: VideoQuery) =>
  query.by === 'video'
    ? `no video ${query.value} in your tenant`
    : `no video for ${query.by === 'source' ? 'source' : 'SOP instance'} ${printable(query.value)} in your tenant`;

export type VideoStatusView = { body: Record<string, unknown>; text: string; ended: boolean } | { problem: string };

/** The video and, once it is in a job, that job with its result links. */
export async function fetchVideoView(access: ApiAccess, query: VideoQuery): Promise<VideoStatusView> {
  const api = new HttpStatusApi(access.api, access.token);
  let video: VideoView | undefined;
  try {
    video = query.by === 'video' ? await api.video(query.value) : await api.findVideo(query);
    const job: JobDetail | null = video.job_id ? await api.job(video.job_id) : null;
    return { body: { ...video }, text: videoDetail(video, query, job), ended: VIDEO_ENDED_STAGES.includes(video.stage) };
  } catch (error) {
    if (!(error instanceof StatusApiError)) throw error;
    return { problem: video === undefined && error.status === 404 ? noVideoLine(query) : error.answer };
  }
}
