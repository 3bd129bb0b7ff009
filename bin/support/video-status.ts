/**
 * An upload's video for `radiomics status` and `radiomics results`: `--source KEY` (the object key as uploaded,
 * `<tenant>/<name>`) or `--sop UID` (a PACS instance), found by the status API within the token's tenant; what
 * `status` shows of it (its stage, batch, job and result links); the one line both commands print when the tenant
 * has no such upload.
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

export const noVideoLine = (lookup: VideoLookup) =>
  `no video for ${lookup.by === 'source' ? 'source' : 'SOP instance'} ${printable(lookup.value)} in your tenant`;

export type VideoStatusView = { body: Record<string, unknown>; text: string; ended: boolean } | { problem: string };

/** The upload's video and, once it is in a job, that job with its result links. */
export async function fetchVideoView(access: ApiAccess, lookup: VideoLookup): Promise<VideoStatusView> {
  const api = new HttpStatusApi(access.api, access.token);
  let video: VideoView | undefined;
  try {
    video = await api.findVideo(lookup);
    const job: JobDetail | null = video.job_id ? await api.job(video.job_id) : null;
    return { body: { ...video }, text: videoDetail(video, lookup, job), ended: VIDEO_ENDED_STAGES.includes(video.stage) };
  } catch (error) {
    if (!(error instanceof StatusApiError)) throw error;
    return { problem: video === undefined && error.status === 404 ? noVideoLine(lookup) : error.answer };
  }
}
