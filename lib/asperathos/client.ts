/**
 * `JobManager`: what the batch and sync-status functions need from Asperathos, and `AsperathosClient`,
 * its implementation on fetch (protocols.md §5).
 * - 5xx, network failure, timeout → RetryableError (the manager's message included)
 * - 400 with an empty message on a job route → JobNotFound
 * - other 4xx → AsperathosError with the manager's `error_message` and `error_name`
 * Note: `submit` is not idempotent on the manager's side; a RetryableError after the request left may
 * mean the job exists. Callers record intent first and reconcile with `list()`.
 */
import { RadiomicsError, RetryableError } from '#lib/errors.js';
import type { KubejobsJob } from './job.js';

/**
 * What the manager says of a job (protocols.md §5): created → ongoing → completed | failed; also error (setup failed),
 * stopped, terminated, and `not found` (the manager lost the job in Kubernetes). All but the first two are terminal.
 */
export const ASPERATHOS_STATUSES = ['created', 'ongoing', 'completed', 'failed', 'error', 'stopped', 'terminated', 'not found'] as const;
export type JobStatusName = (typeof ASPERATHOS_STATUSES)[number];
export type TerminalStatusName = Exclude<JobStatusName, 'created' | 'ongoing'>;
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<TerminalStatusName>([
  'completed',
  'failed',
  'error',
  'stopped',
  'terminated',
  'not found',
]);

export interface CallOptions {
  signal?: AbortSignal;
}

export interface JobStatus {
  jobId: string;
  /** As the manager says it; see JobStatusName. */
  status: JobStatusName | string;
  /** null while "Job is not running yet!". */
  startingTime: Date | null;
  /** null for "URL not generated!" and "Url is dead!". */
  visualizerUrl: string | null;
  redis: { ip: string; port: number } | null;
  /** Report keys once finished (execution_time, final_replicas, …) and any other extra keys. */
  report: Record<string, unknown>;
  /** Only where a manager reports `items` and `processed_items` (the real one does not; sync-status then counts results). */
  progress: { items: number; processed: number } | null;
  raw: Record<string, unknown>;
}

export interface JobManager {
  submit(job: KubejobsJob, options?: CallOptions): Promise<{ jobId: string }>;
  get(jobId: string, options?: CallOptions): Promise<JobStatus>;
  list(options?: CallOptions): Promise<Record<string, JobStatus>>;
  stop(jobId: string, options?: CallOptions): Promise<void>;
  terminate(jobId: string, options?: CallOptions): Promise<void>;
  delete(jobId: string, options?: CallOptions): Promise<void>;
  /**
   * Failed items, decoded from the manager's Python bytes text (`"b'https://…'"`). The manager renders an empty
   * list, an unknown id and a deleted job Redis all as `{}`: each is `[]` here. A 500 (no Redis yet, or a
   * restarted manager) is a RetryableError: the list can no longer be read there.
   */
  errors(jobId: string, options?: CallOptions): Promise<string[]>;
  report(jobId: string, options?: CallOptions): Promise<Record<string, unknown>>;
  health(options?: CallOptions): Promise<boolean>;
}

/** A 4xx from the manager: repeating the request will not help. */
export class AsperathosError extends RadiomicsError {
  override readonly name: string = 'AsperathosError';
  constructor(
    status: number,
    readonly errorName: string,
    readonly managerMessage: string,
    message: string,
    code = 'asperathos_refused',
  ) {
    super(status, code, message);
  }
}

export class JobNotFound extends AsperathosError {
  override readonly name: string = 'JobNotFound';
  constructor(readonly jobId: string) {
    super(400, 'BAD_REQUEST', '', `Asperathos job ${jobId} not found`, 'job_not_found');
  }
}

export interface AsperathosClientOptions {
  /** e.g. `http://asperathos:1500/submissions` (the original CLI's --submissions-url). */
  submissionsUrl: string;
  fetch?: typeof fetch;
  /** Per request; default 10 000. */
  timeoutMs?: number;
  /** API credentials when the manager runs with authentication (sent as enable_auth: true). */
  auth?: { username: string; password: string };
}

const START_NOT_RUNNING = 'Job is not running yet!';
/** The manager's visualizer_url placeholders: before the dashboard exists, and once the job's resources are deleted. */
export const VISUALIZER_PLACEHOLDERS: ReadonlySet<string> = new Set(['URL not generated!', 'Url is dead!']);
/** DELETE of an unknown id: 400 with this message (every other job route: 400 with an empty message). */
const DELETE_UNKNOWN_MESSAGE = 'Specified submission does not exists in this Asperathos instance!';
const KNOWN_KEYS = new Set(['app_id', 'status', 'starting_time', 'visualizer_url', 'redis_ip', 'redis_port', 'items', 'processed_items']);

/** `%Y-%m-%dT%H:%M:%S.%fGMT` (microseconds) → Date; null for "Job is not running yet!" or anything else. */
export function parseStartingTime(text: unknown): Date | null {
  if (typeof text !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?GMT$/.exec(text);
  if (!m) return null;
  const ms = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  const date = new Date(`${m[1]}.${ms}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Date → `%Y-%m-%dT%H:%M:%S.%fGMT`, as the manager writes it. */
export function formatStartingTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000GMT');
}

/** Decodes a Python bytes literal as text (`b'…'` or `b"…"` with \\, \', \", \n, \r, \t, \xNN); other text as is. */
export function parsePythonBytes(text: string): string {
  const m = /^b(['"])([\s\S]*)\1$/.exec(text);
  if (!m) return text;
  const body = m[2];
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\' || i + 1 >= body.length) {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = body[++i];
    const simple: Record<string, number> = {
      '\\': 0x5c,
      "'": 0x27,
      '"': 0x22,
      n: 0x0a,
      r: 0x0d,
      t: 0x09,
      a: 0x07,
      b: 0x08,
      f: 0x0c,
      v: 0x0b,
      '0': 0x00,
    };
    if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n in simple) {
      bytes.push(simple[n]);
    } else {
      bytes.push(0x5c, ...Buffer.from(n, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Bytes → Python's repr of them (what the manager returns for job:errors items). */
export function pythonBytesRepr(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes);
  const quote = buf.includes(0x27) && !buf.includes(0x22) ? '"' : "'";
  let out = `b${quote}`;
  for (const b of buf) {
    if (b === 0x5c) out += '\\\\';
    else if (b === quote.charCodeAt(0)) out += `\\${quote}`;
    else if (b === 0x09) out += '\\t';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out + quote;
}

export function toJobStatus(jobId: string, raw: Record<string, unknown>): JobStatus {
  const report = Object.fromEntries(Object.entries(raw).filter(([k]) => !KNOWN_KEYS.has(k)));
  const visualizer =
    typeof raw.visualizer_url === 'string' && raw.visualizer_url !== '' && !VISUALIZER_PLACEHOLDERS.has(raw.visualizer_url)
      ? raw.visualizer_url
      : null;
  const port = typeof raw.redis_port === 'number' ? raw.redis_port : typeof raw.redis_port === 'string' ? Number(raw.redis_port) : NaN;
  const redis = typeof raw.redis_ip === 'string' && raw.redis_ip && Number.isFinite(port) ? { ip: raw.redis_ip, port } : null;
  const progress =
    typeof raw.items === 'number' && typeof raw.processed_items === 'number' ? { items: raw.items, processed: raw.processed_items } : null;
  return {
    jobId: typeof raw.app_id === 'string' ? raw.app_id : jobId,
    status: String(raw.status ?? 'unknown'),
    startingTime: raw.starting_time === START_NOT_RUNNING ? null : parseStartingTime(raw.starting_time),
    visualizerUrl: visualizer,
    redis,
    report,
    progress,
    raw,
  };
}

function isEmptyObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
}

interface Reply {
  status: number;
  text: string;
}

export class AsperathosClient implements JobManager {
  readonly submissionsUrl: string;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly auth?: { username: string; password: string };

  constructor(options: AsperathosClientOptions) {
    const url = new URL(options.submissionsUrl);
    url.pathname = url.pathname.replace(/\/+$/, '').replace(/\.json$/, '');
    this.submissionsUrl = url.toString().replace(/\/$/, '');
    this.baseUrl = this.submissionsUrl.replace(/\/submissions$/, '');
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.auth = options.auth;
  }

  async submit(job: KubejobsJob, options: CallOptions = {}): Promise<{ jobId: string }> {
    const body = this.auth ? { ...job, enable_auth: true, username: this.auth.username, password: this.auth.password } : job;
    const reply = await this.call('POST', this.submissionsUrl, body, options, 'submit job');
    const json = this.json(reply, 'submit job') as Record<string, unknown>;
    if (reply.status !== 202 && reply.status !== 200)
      throw new RetryableError(`Asperathos answered submit with unexpected status ${reply.status}`);
    if (typeof json?.job_id !== 'string' || json.job_id.length === 0)
      throw new RetryableError('Asperathos accepted the job but its reply has no job_id');
    return { jobId: json.job_id };
  }

  async get(jobId: string, options: CallOptions = {}): Promise<JobStatus> {
    const reply = await this.call('GET', this.jobUrl(jobId), undefined, options, `get job ${jobId}`, jobId);
    return toJobStatus(jobId, this.json(reply, `get job ${jobId}`) as Record<string, unknown>);
  }

  async list(options: CallOptions = {}): Promise<Record<string, JobStatus>> {
    const reply = await this.call('GET', this.submissionsUrl, undefined, options, 'list jobs');
    const json = this.json(reply, 'list jobs') as Record<string, Record<string, unknown>>;
    return Object.fromEntries(Object.entries(json ?? {}).map(([id, raw]) => [id, toJobStatus(id, raw ?? {})]));
  }

  async stop(jobId: string, options: CallOptions = {}): Promise<void> {
    await this.call('PUT', `${this.jobUrl(jobId)}/stop`, this.authBody(), options, `stop job ${jobId}`, jobId);
  }

  async terminate(jobId: string, options: CallOptions = {}): Promise<void> {
    await this.call('PUT', `${this.jobUrl(jobId)}/terminate`, this.authBody(), options, `terminate job ${jobId}`, jobId);
  }

  async delete(jobId: string, options: CallOptions = {}): Promise<void> {
    await this.call('DELETE', this.jobUrl(jobId), this.authBody(), options, `delete job ${jobId}`, jobId);
  }

  async errors(jobId: string, options: CallOptions = {}): Promise<string[]> {
    const reply = await this.call('GET', `${this.jobUrl(jobId)}/errors`, undefined, options, `read errors of job ${jobId}`, jobId);
    const json = this.json(reply, `read errors of job ${jobId}`);
    if (isEmptyObject(json)) return [];
    if (!Array.isArray(json)) throw new RetryableError(`Asperathos answered errors of job ${jobId} with something other than a list`);
    return json.map((item) => parsePythonBytes(String(item)));
  }

  async report(jobId: string, options: CallOptions = {}): Promise<Record<string, unknown>> {
    const reply = await this.call('GET', `${this.jobUrl(jobId)}/report`, undefined, options, `read report of job ${jobId}`, jobId);
    return (this.json(reply, `read report of job ${jobId}`) ?? {}) as Record<string, unknown>;
  }

  async health(options: CallOptions = {}): Promise<boolean> {
    try {
      const reply = await this.call('GET', `${this.baseUrl}/healthz`, undefined, options, 'health check');
      return JSON.parse(reply.text) === 'OK';
    } catch (error) {
      if (error instanceof RetryableError || error instanceof AsperathosError || error instanceof SyntaxError) return false;
      throw error;
    }
  }

  private jobUrl(jobId: string): string {
    if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > 128) throw new JobNotFound(String(jobId));
    return `${this.submissionsUrl}/${encodeURIComponent(jobId)}`;
  }

  private authBody(): Record<string, unknown> {
    return this.auth ? { enable_auth: true, username: this.auth.username, password: this.auth.password } : { enable_auth: false };
  }

  private json(reply: Reply, what: string): unknown {
    try {
      return JSON.parse(reply.text);
    } catch {
      throw new RetryableError(`Asperathos answered ${what} with a body that is not JSON (status ${reply.status})`);
    }
  }

  private async call(method: string, url: string, body: unknown, options: CallOptions, what: string, jobId?: string): Promise<Reply> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) throw new RetryableError(`Asperathos request to ${what} was aborted`, { cause: options.signal.reason });
      if (timeout.aborted) throw new RetryableError(`Asperathos request to ${what} timed out after ${this.timeoutMs} ms`, { cause: error });
      const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
      const code = cause?.code ?? (error as { code?: string })?.code ?? cause?.message ?? 'error';
      throw new RetryableError(`Asperathos is unreachable to ${what} (${code})`, { cause: error });
    }
    if (response.status < 400) return { status: response.status, text };
    let errorName = '';
    let managerMessage = '';
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      errorName = typeof json.error_name === 'string' ? json.error_name : '';
      managerMessage = typeof json.error_message === 'string' ? json.error_message : '';
    } catch {
      managerMessage = text.replace(/\s+/g, ' ').trim().slice(0, 300);
    }
    if (response.status >= 500) {
      throw new RetryableError(`Asperathos failed to ${what}: ${response.status}${managerMessage ? `: ${managerMessage}` : ''}`);
    }
    if (response.status === 400 && jobId !== undefined && (managerMessage === '' || managerMessage === DELETE_UNKNOWN_MESSAGE))
      throw new JobNotFound(jobId);
    throw new AsperathosError(
      response.status,
      errorName,
      managerMessage,
      `Asperathos refused to ${what}: ${response.status} ${errorName}${managerMessage ? `: ${managerMessage}` : ''}`,
    );
  }
}
