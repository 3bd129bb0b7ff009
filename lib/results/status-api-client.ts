/**
 * The status API as the results and status commands use it: a job's detail (with its results TempURLs), a batch,
 * a video by its id or by what was uploaded (its source key, or a PACS instance's SOPInstanceUID). Tenant-scoped by
 * the token; an unknown id or source and another tenant's both answer 404. The token is sent only in the
 * Authorization header and never appears in an error message.
 */
import { RadiomicsError } from '#lib/errors.js';

export interface ResultLinks {
  video_id: string;
  analysis_url: string | null;
  frames_url: string | null;
  error_url: string | null;
}

export interface JobDetail {
  job_id: string;
  status: string;
  items: number | null;
  progress: { done: number; total: number; percent: number } | null;
  failed_count: number;
  failed_items: string[];
  results: ResultLinks[];
  results_truncated: boolean;
  results_expire_at: string;
  reason: string | null;
  submitted_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  stale_since: string | null;
  [field: string]: unknown;
}

export interface VideoView {
  video_id: string;
  /** What the caller's tenant uploaded: the object key or a PACS instance's SOPInstanceUID (null when unknown). */
  source?: string | null;
  stage: string;
  reason: string | null;
  batch_id: string | null;
  job_id: string | null;
  route?: string;
  received_at?: string;
  sealed_at?: string | null;
  updated_at?: string;
}

/** What was uploaded: the object key as uploaded (`<tenant>/<name>`), or a PACS instance's SOPInstanceUID. */
export type VideoLookup = { by: 'source' | 'sop'; value: string };

export interface StatusApi {
  job(jobId: string): Promise<JobDetail>;
  batch(batchId: string): Promise<{ batch_id: string; job_id: string | null; state: string }>;
  video(videoId: string): Promise<VideoView>;
  /** The video of the latest object uploaded under that key (or of that instance). */
  findVideo(lookup: VideoLookup): Promise<VideoView>;
}

/**
 * The status API's refusal (its status), or 0 when it could not be reached. `answer` is the refusal in the API's
 * words (`404 not_found: no such job`), as `radiomics status` prints it.
 */
export class StatusApiError extends RadiomicsError {
  constructor(
    status: number,
    message: string,
    readonly answer: string = message,
  ) {
    super(status, status === 0 ? 'status_api_unreachable' : 'status_api_refused', message);
  }
}

export const ID_PATTERN = /^[0-9a-f]{32}$/;

export class HttpStatusApi implements StatusApi {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  private async get<T>(path: string): Promise<T> {
    const doFetch = this.options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(`${this.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new StatusApiError(0, `the status API is unreachable (${code})`);
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const answer = `${res.status} ${String(body.error ?? 'error')}: ${String(body.message ?? '')}`;
      throw new StatusApiError(res.status, `the status API answered ${answer}`, answer);
    }
    return body as T;
  }

  job(jobId: string) {
    return this.get<JobDetail>(`/jobs/${jobId}`);
  }

  batch(batchId: string) {
    return this.get<{ batch_id: string; job_id: string | null; state: string }>(`/batches/${batchId}`);
  }

  video(videoId: string) {
    return this.get<VideoView>(`/videos/${videoId}`);
  }

  findVideo(lookup: VideoLookup) {
    return this.get<VideoView>(`/videos?${lookup.by}=${encodeURIComponent(lookup.value)}`);
  }
}
