/**
 * What kubejobs does after the 202, emulated with local processes and one real redis-server, and the answers the
 * manager gives about a job (status JSON, `/errors`). The facts are in protocols.md §5; index.ts lists where
 * the emulator differs.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Redis } from 'ioredis';
import type { Logger } from '#lib/log.js';
import { formatStartingTime, pythonBytesRepr } from '#lib/asperathos/client.js';
import { type JobBook, TERMINAL, newJob, type JobRecord, type Status } from './state.js';
import { emptyGroup, killWorkers, startWorkers, type WorkerGroup, type WorkerSettings } from './workers.js';

export const NOT_RUNNING_YET = 'Job is not running yet!';
export const URL_NOT_GENERATED = 'URL not generated!';
export const URL_IS_DEAD = 'Url is dead!';
/** The manager's job_resources_lifetime when plugin_info has none (waiting_time in the kubejobs plugin). */
const DEFAULT_RESOURCES_LIFETIME_SECS = 600;
const CLAIM_PREFIX = 'asperathos-emulator:db:';
const CLAIM_TTL_SECS = 3600;
const MAX_WORKLOAD_BYTES = 64 * 1024 * 1024;

export interface JobSettings extends WorkerSettings {
  /** Database numbers jobs may use. */
  redisDbs: readonly number[];
  /** How often workers and queues are checked. */
  pollMs: number;
  /** PEM CA(s) for https workload URLs signed by a local CA. */
  workloadCa?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** The cluster's Grafana, for jobs with enable_visualizer; absent = no visualizer service (such jobs go to error). */
  visualizerUrl?: string;
}

/** A `/errors` answer: a list, `{}`, or 500. */
export type ErrorsAnswer = { status: 200; body: string[] | Record<string, never> } | { status: 500 };

/** `text.split('\n')[:-1]`: the part after the last newline (an unterminated line) is dropped. */
export function workloadLines(text: string): string[] {
  return text.split('\n').slice(0, -1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The plugin_info checks the manager makes after the 202; a message means the job goes to `error`. */
export function backgroundValidationProblem(info: Record<string, unknown>): string | null {
  for (const key of [
    'cmd',
    'img',
    'init_size',
    'redis_workload',
    'env_vars',
    'control_parameters',
    'monitor_info',
    'enable_visualizer',
    'visualizer_info',
    'username',
    'password',
  ]) {
    if (!(key in info)) return `Missing required plugin_info key: ${key}`;
  }
  if (!Array.isArray(info.cmd) || info.cmd.some((c) => typeof c !== 'string')) return 'plugin_info.cmd must be a list of strings';
  if (typeof info.img !== 'string') return 'plugin_info.img must be a string';
  if (typeof info.init_size !== 'number' || !Number.isInteger(info.init_size) || info.init_size < 1)
    return 'plugin_info.init_size must be an integer > 0';
  if (typeof info.redis_workload !== 'string' || !/^https?:\/\/./.test(info.redis_workload))
    return 'plugin_info.redis_workload must be an http(s) URL';
  if (!isObject(info.env_vars)) return 'plugin_info.env_vars must be a dict';
  if (!isObject(info.control_parameters) || !('min_rep' in info.control_parameters) || !('max_rep' in info.control_parameters)) {
    return 'plugin_info.control_parameters must be a dict with min_rep and max_rep';
  }
  if (!isObject(info.monitor_info)) return 'plugin_info.monitor_info must be a dict';
  if (typeof info.enable_visualizer !== 'boolean') return 'plugin_info.enable_visualizer must be a bool';
  return null;
}

function download(url: string, ca: JobSettings['workloadCa']): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const get = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const options =
      target.protocol === 'https:' && ca
        ? { ca: ca as string | Buffer | Array<string | Buffer>, agent: false as const }
        : { agent: false as const };
    const req = get(target, { ...options, timeout: 30_000 }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        res.resume();
        reject(new Error(`workload download answered ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_WORKLOAD_BYTES) req.destroy(new Error('workload too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('workload download timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface Runtime {
  redis?: Redis;
  group: WorkerGroup;
  timer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
  finishing?: boolean;
}

export class JobRunner {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly control: Redis;
  private closing = false;

  constructor(
    readonly book: JobBook,
    private readonly settings: JobSettings,
    private readonly log: Logger,
  ) {
    this.control = new Redis({ host: settings.redis.host, port: settings.redis.port, db: 0, lazyConnect: true, maxRetriesPerRequest: 2 });
  }

  async open(): Promise<void> {
    await this.control.connect();
    this.book.load();
    for (const job of this.book.jobs.values()) {
      if (!TERMINAL.has(job.status)) this.launch(job);
      else if (job.stopping) this.finish(job, 'stopped').catch(() => undefined);
      else this.scheduleResourceDeletion(job);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const rt of this.runtimes.values()) {
      if (rt.timer) clearInterval(rt.timer);
      if (rt.lifetimeTimer) clearTimeout(rt.lifetimeTimer);
    }
    await Promise.all([...this.runtimes.values()].map((rt) => killWorkers(rt.group)));
    for (const rt of this.runtimes.values()) rt.redis?.disconnect();
    this.runtimes.clear();
    this.control.disconnect();
  }

  get(id: string): JobRecord | undefined {
    return this.book.jobs.get(id);
  }

  submit(pluginInfo: Record<string, unknown>): string {
    const job = newJob(`kj-${randomUUID().slice(0, 7)}`, pluginInfo);
    this.book.jobs.set(job.id, job);
    this.book.save();
    setImmediate(() => this.launch(job));
    return job.id;
  }

  statusJson(job: JobRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {
      app_id: job.id,
      status: job.status,
      starting_time: job.startingTime ?? NOT_RUNNING_YET,
      visualizer_url: this.visualizerUrlOf(job),
      redis_ip: job.redisProvisioned ? this.settings.redis.host : null,
      redis_port: job.redisProvisioned ? this.settings.redis.port : null,
    };
    if (job.report) Object.assign(out, job.report);
    return out;
  }

  /**
   * `/errors`, as the manager answers: 500 without a Redis client (none provisioned yet, or a job an earlier
   * manager process started); `{}` once the Redis is deleted or when the list is empty; else the list.
   */
  async errorsAnswer(job: JobRecord): Promise<ErrorsAnswer> {
    if (job.restored || !job.redisProvisioned) return { status: 500 };
    if (job.resourcesDeleted) return { status: 200, body: {} };
    const items =
      job.errorsSnapshot ??
      (job.db === null ? [] : (await this.jobRedis(job).then((r) => r.lrangeBuffer('job:errors', 0, -1))).map((b) => pythonBytesRepr(b)));
    return { status: 200, body: items.length > 0 ? items : {} };
  }

  async stop(job: JobRecord): Promise<void> {
    if (TERMINAL.has(job.status)) return;
    job.stopping = true;
    if (job.db !== null && job.pushed) {
      const redis = await this.jobRedis(job);
      await redis.del('job');
      await redis.rpush('stop', 'stop');
    }
    if (this.runtimeOf(job.id).group.workers.length === 0) {
      await this.finish(job, 'stopped');
    } else {
      job.status = 'stopped';
      this.book.save();
    }
  }

  async terminate(job: JobRecord): Promise<void> {
    if (TERMINAL.has(job.status) && !job.stopping) return;
    job.stopping = false;
    job.status = 'terminated';
    await killWorkers(this.runtimeOf(job.id).group);
    await this.finish(job, 'terminated');
  }

  async remove(job: JobRecord): Promise<void> {
    const rt = this.runtimeOf(job.id);
    job.status = 'terminated';
    if (rt.timer) clearInterval(rt.timer);
    if (rt.lifetimeTimer) clearTimeout(rt.lifetimeTimer);
    await killWorkers(rt.group);
    await this.releaseDb(job);
    rt.redis?.disconnect();
    this.runtimes.delete(job.id);
    this.book.jobs.delete(job.id);
    this.book.save();
  }

  private visualizerUrlOf(job: JobRecord): string {
    if (job.resourcesDeleted) return URL_IS_DEAD;
    if (job.pluginInfo.enable_visualizer === true && this.settings.visualizerUrl && job.startingTime !== null)
      return `${this.settings.visualizerUrl}/d/${job.id}`;
    return URL_NOT_GENERATED;
  }

  private runtimeOf(id: string): Runtime {
    let rt = this.runtimes.get(id);
    if (!rt) {
      rt = { group: emptyGroup() };
      this.runtimes.set(id, rt);
    }
    return rt;
  }

  private async jobRedis(job: JobRecord): Promise<Redis> {
    const rt = this.runtimeOf(job.id);
    if (!rt.redis) {
      rt.redis = new Redis({
        host: this.settings.redis.host,
        port: this.settings.redis.port,
        db: job.db ?? 0,
        lazyConnect: true,
        maxRetriesPerRequest: 2,
      });
      await rt.redis.connect();
    }
    return rt.redis;
  }

  private async claimDb(job: JobRecord): Promise<number | null> {
    if (job.db !== null) {
      await this.control.set(`${CLAIM_PREFIX}${job.db}`, job.id, 'EX', CLAIM_TTL_SECS);
      return job.db;
    }
    for (const db of this.settings.redisDbs) {
      if ((await this.control.set(`${CLAIM_PREFIX}${db}`, job.id, 'EX', CLAIM_TTL_SECS, 'NX')) === 'OK') return db;
    }
    return null;
  }

  private async releaseDb(job: JobRecord): Promise<void> {
    if (job.db === null) return;
    const key = `${CLAIM_PREFIX}${job.db}`;
    if ((await this.control.get(key)) === job.id) await this.control.del(key);
  }

  private launch(job: JobRecord): void {
    this.setupAndRun(job).catch((error: unknown) => {
      this.log.error('job setup failed', { jobId: job.id, error_message: error instanceof Error ? error.message : String(error) });
      job.setupError = 'setup failed';
      this.finish(job, 'error').catch(() => undefined);
    });
  }

  private async failSetup(job: JobRecord, problem: string): Promise<void> {
    job.setupError = problem;
    this.log.warn('job setup failed; status error', { jobId: job.id, problem });
    await this.finish(job, 'error');
  }

  /** The kubejobs plugin's order: validate, download the workload, provision Redis, the visualizer, push, start. */
  private async setupAndRun(job: JobRecord): Promise<void> {
    if (this.closing || TERMINAL.has(job.status)) return;
    const problem = backgroundValidationProblem(job.pluginInfo);
    if (problem) return this.failSetup(job, problem);
    let lines: string[] | undefined;
    if (!job.pushed) {
      try {
        lines = workloadLines(await download(job.pluginInfo.redis_workload as string, this.settings.workloadCa));
      } catch (error) {
        return this.failSetup(job, `workload download failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const db = await this.claimDb(job);
    if (db === null) return this.failSetup(job, 'no free Redis database for the job');
    job.db = db;
    const redis = await this.jobRedis(job);
    if (!job.redisProvisioned) await redis.flushdb(); // a new job's Redis starts empty
    job.redisProvisioned = true;
    this.book.save();
    if (job.pluginInfo.enable_visualizer === true && !this.settings.visualizerUrl)
      return this.failSetup(job, 'Creating InfluxDB Service... (404)');
    if (lines) {
      for (let i = 0; i < lines.length; i += 1000) await redis.rpush('job', ...lines.slice(i, i + 1000));
      job.items = lines.length;
      job.pushed = true;
      this.book.save();
    }
    if (this.closing || TERMINAL.has(job.status)) return;
    if (job.startingTime === null) {
      const now = new Date();
      job.startingTime = formatStartingTime(now);
      job.startedAtMs = now.getTime();
    }
    job.status = 'ongoing';
    this.book.save();
    const rt = this.runtimeOf(job.id);
    const check = () =>
      this.checkJob(job).catch((error: unknown) => this.log.error('job check failed', { jobId: job.id, error_message: String(error) }));
    startWorkers(job, rt.group, this.settings, () => this.closing, check);
    rt.timer = setInterval(check, this.settings.pollMs);
  }

  private async checkJob(job: JobRecord): Promise<void> {
    const rt = this.runtimeOf(job.id);
    if (this.closing || rt.finishing || (TERMINAL.has(job.status) && !job.stopping)) return;
    await this.control.expire(`${CLAIM_PREFIX}${job.db}`, CLAIM_TTL_SECS);
    if (rt.group.exited < rt.group.workers.length) return;
    if (job.stopping) return this.finish(job, 'stopped');
    const redis = await this.jobRedis(job);
    const [main, inFlight] = await Promise.all([redis.llen('job'), redis.llen('job:processing')]);
    const ok = rt.group.exitCodes.every((c) => c === 0) && main === 0 && inFlight === 0;
    return this.finish(job, ok ? 'completed' : 'failed');
  }

  /**
   * Ends the job. Its Redis content cannot change any more (the workers are gone), so `job:errors` is frozen and
   * the database freed at once; the API serves the frozen list until job_resources_lifetime has passed.
   */
  private async finish(job: JobRecord, status: Status): Promise<void> {
    const rt = this.runtimeOf(job.id);
    if (rt.finishing) return;
    rt.finishing = true;
    if (rt.timer) clearInterval(rt.timer);
    rt.timer = undefined;
    if (job.db !== null && job.redisProvisioned && !job.restored) {
      const redis = await this.jobRedis(job);
      job.errorsSnapshot = (await redis.lrangeBuffer('job:errors', 0, -1)).map((b) => pythonBytesRepr(b));
    }
    job.status = status;
    job.stopping = false;
    if (job.startedAtMs !== null) job.report = this.monitorReport(job, rt.group);
    const lifetime =
      typeof job.pluginInfo.job_resources_lifetime === 'number' ? job.pluginInfo.job_resources_lifetime : DEFAULT_RESOURCES_LIFETIME_SECS;
    job.resourcesDeleteAtMs = Date.now() + lifetime * 1000;
    await this.releaseDb(job);
    rt.redis?.disconnect();
    rt.redis = undefined;
    this.book.save();
    this.scheduleResourceDeletion(job);
    this.log.info('job finished', { jobId: job.id, status });
  }

  /** The monitor's report keys (values emulated: the emulator neither scales nor measures an error). */
  private monitorReport(job: JobRecord, group: WorkerGroup): Record<string, unknown> {
    const control = (job.pluginInfo.control_parameters ?? {}) as Record<string, unknown>;
    return {
      scaling_strategy: control.schedule_strategy ?? 'default',
      heuristic_options: control.heuristic_options ?? {},
      max_error: 0,
      min_error: 0,
      final_replicas: group.workers.length,
      final_error: 0,
      execution_time: (Date.now() - job.startedAtMs!) / 1000,
    };
  }

  private scheduleResourceDeletion(job: JobRecord): void {
    if (job.resourcesDeleted || job.resourcesDeleteAtMs === null || this.closing) return;
    const rt = this.runtimeOf(job.id);
    if (rt.lifetimeTimer) clearTimeout(rt.lifetimeTimer);
    rt.lifetimeTimer = setTimeout(
      () => {
        job.resourcesDeleted = true;
        job.errorsSnapshot = null;
        this.book.save();
        this.log.info('job resources deleted', { jobId: job.id });
      },
      Math.max(0, job.resourcesDeleteAtMs - Date.now()),
    );
    rt.lifetimeTimer.unref();
  }
}
