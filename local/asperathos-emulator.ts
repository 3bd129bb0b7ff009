/**
 * Asperathos manager emulator (kubejobs plugin), for tests and the local stack.
 *
 * Emulates the manager's HTTP API exactly as protocols.md §5 describes it:
 * - every route also with a `.json` suffix; GET 200, POST 202, PUT 204, DELETE 204;
 * - bodies parsed as JSON when Content-Type is absent or application/json; any other type, invalid JSON
 *   or an empty POST/PUT body → 500; errors as `{"error_code", "error_message", "error_name"}`;
 * - `POST /submissions`: 500 for missing `enable_auth`/`plugin_info` or missing/unknown plugin names,
 *   `enable_auth: true` without username/password → 400 "Missing plugin fields in request" (with `users`
 *   configured, wrong credentials → 401), 202 `{"job_id": "kj-" + 7 chars of a uuid4}`; the remaining
 *   plugin_info checks run after the 202 and turn the job into `status: "error"`;
 * - `GET /submissions[/<id>]`, `PUT …/stop|terminate`, `DELETE …`, `…/errors` (job:errors items as Python
 *   bytes text), `…/report`, `…/visualizer`, `GET /healthz` → "OK"; an unknown id → 400 with an empty message.
 *
 * What kubejobs does after the 202, emulated with local processes and a real Redis:
 * - Instead of a Redis per job, each job gets its own DATABASE NUMBER on the given redis-server (default
 *   pool 1-15), claimed with `SET asperathos-emulator:db:<n> <job id> NX EX` in database 0 so that several
 *   emulators sharing one redis-server do not collide. Workers get REDIS_HOST, REDIS_PORT and REDIS_DB, so
 *   the keys are exactly the original's (`job`, `job:processing`, `job:errors`, `stop`). A worker that
 *   ignores REDIS_DB would read database 0: this project's worker must honour it.
 * - The workload is downloaded (http/https; `workloadCa` for a local CA) and split like
 *   `text.split('\n')[:-1]` (an unterminated last line is dropped), then `RPUSH job <line>`.
 * - `init_size` workers are started as plain local processes (SIM mode) with env_vars plus REDIS_*; the
 *   command comes from `workerCommand(job)` (default: this project's enclave/worker.ts through tsx).
 * - created → ongoing (workers started) → completed (every worker exited 0 and job + job:processing are
 *   empty) or failed. A worker that fails (non-zero exit, killed) is replaced, as a Kubernetes Job replaces a
 *   failed pod, up to `backoffLimit` (6) times per worker; only then does its failure fail the job. Stop does `DEL job` + `RPUSH stop stop` and leaves the workers to drain; terminate
 *   and delete kill them.
 * - Progress: status JSON carries the extra keys `items` and `processed_items`
 *   (items − (LLEN job + LLEN job:processing)) once the workload is pushed. The report keys after the
 *   end are `execution_time` (seconds), `final_replicas`, `worker_exit_codes` and the progress keys.
 * - With `stateDir`, jobs persist in `<stateDir>/asperathos-jobs.json` (including env_vars, which hold the
 *   key in SIM mode: local use only). A restarted emulator resumes unfinished jobs like Kubernetes
 *   rescheduling pods: it restarts their workers (or their setup) on the same Redis database.
 *
 * Not emulated: Kubernetes, images and `img`, scaling by the controller (replicas stay init_size), the
 * monitor's metrics, Grafana (visualizer_url is always "URL not generated!"), the authorization service
 * (any credentials pass unless `users` is given), the `not found` status, resource limits and lifetimes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createLogger, type Logger } from '../lib/log.js';
import { formatStartingTime, pythonBytesRepr } from '../lib/asperathos/client.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface EmulatedJobView {
  id: string;
  pluginInfo: Record<string, unknown>;
  /** 0-based worker number. */
  workerIndex: number;
}

export interface WorkerCommand {
  cmd: string;
  args: string[];
  cwd?: string;
}

export interface AsperathosEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  redis: { host: string; port: number };
  /** Database numbers jobs may use; default 1-15. */
  redisDbs?: readonly number[];
  /** Default: `node --import tsx <repo>/enclave/worker.ts` in the repo root. */
  workerCommand?: (job: EmulatedJobView) => WorkerCommand;
  /** Extra environment for every worker (below env_vars and REDIS_*). */
  workerEnv?: Record<string, string>;
  stateDir?: string;
  /** How often workers and queues are checked; default 200 ms. */
  pollMs?: number;
  /** How many times a failed worker is replaced (Kubernetes Job backoffLimit); default 6. */
  backoffLimit?: number;
  /** Delay before a failed worker is replaced; default 500 ms. */
  restartDelayMs?: number;
  /** Accepted API credentials when a request has enable_auth: true; default any. */
  users?: Record<string, string>;
  /** PEM CA(s) for https workload URLs signed by a local CA. */
  workloadCa?: string | Buffer | ReadonlyArray<string | Buffer>;
  logger?: Logger;
}

export interface AsperathosEmulator {
  url: string;
  submissionsUrl: string;
  port: number;
  close(): Promise<void>;
}

type Status = 'created' | 'ongoing' | 'completed' | 'failed' | 'error' | 'stopped' | 'terminated';
const TERMINAL: ReadonlySet<Status> = new Set(['completed', 'failed', 'error', 'stopped', 'terminated']);

interface JobRecord {
  id: string;
  pluginInfo: Record<string, unknown>;
  status: Status;
  /** `%Y-%m-%dT%H:%M:%S.%fGMT` once workers started. */
  startingTime: string | null;
  startedAtMs: number | null;
  db: number | null;
  pushed: boolean;
  items: number | null;
  /** Set once terminal: final progress and errors, the Redis database being released. */
  processedSnapshot: number | null;
  errorsSnapshot: string[] | null;
  report: Record<string, unknown> | null;
  /** Why setup failed (status error). */
  setupError?: string;
  /** Stop requested: the job ends as stopped whatever the workers do. */
  stopping?: boolean;
}

interface Runtime {
  redis?: Redis;
  workers: ChildProcess[];
  exitCodes: Array<number | null>;
  exited: number;
  timer?: NodeJS.Timeout;
  tails: string[];
  finishing?: boolean;
}

class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const ERROR_NAMES: Record<number, string> = { 400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 500: 'INTERNAL_SERVER_ERROR' };
const KNOWN = {
  plugin: new Set(['kubejobs']),
  control_plugin: new Set(['kubejobs']),
  monitor_plugin: new Set(['kubejobs', 'kubejobs_cost']),
  visualizer_plugin: new Set(['k8s-grafana']),
};
const CLAIM_PREFIX = 'asperathos-emulator:db:';
const CLAIM_TTL_SECS = 3600;
const MAX_WORKLOAD_BYTES = 64 * 1024 * 1024;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The plugin_info checks the manager makes after the 202; a message means the job goes to `error`. */
export function backgroundValidationProblem(info: Record<string, unknown>): string | null {
  const need = (key: string) => (key in info ? null : `Missing required plugin_info key: ${key}`);
  for (const key of ['cmd', 'img', 'init_size', 'redis_workload', 'env_vars', 'control_parameters', 'monitor_info', 'enable_visualizer', 'visualizer_info', 'username', 'password']) {
    const missing = need(key);
    if (missing) return missing;
  }
  if (!Array.isArray(info.cmd) || info.cmd.some((c) => typeof c !== 'string')) return 'plugin_info.cmd must be a list of strings';
  if (typeof info.img !== 'string') return 'plugin_info.img must be a string';
  if (typeof info.init_size !== 'number' || !Number.isInteger(info.init_size) || info.init_size < 1) return 'plugin_info.init_size must be an integer > 0';
  if (typeof info.redis_workload !== 'string' || !/^https?:\/\/./.test(info.redis_workload)) return 'plugin_info.redis_workload must be an http(s) URL';
  if (!isObject(info.env_vars)) return 'plugin_info.env_vars must be a dict';
  if (!isObject(info.control_parameters) || !('min_rep' in info.control_parameters) || !('max_rep' in info.control_parameters)) {
    return 'plugin_info.control_parameters must be a dict with min_rep and max_rep';
  }
  if (!isObject(info.monitor_info)) return 'plugin_info.monitor_info must be a dict';
  if (typeof info.enable_visualizer !== 'boolean') return 'plugin_info.enable_visualizer must be a bool';
  return null;
}

/** `text.split('\n')[:-1]`: the part after the last newline (an unterminated line) is dropped. */
export function workloadLines(text: string): string[] {
  return text.split('\n').slice(0, -1);
}

function download(url: string, ca: AsperathosEmulatorOptions['workloadCa']): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const get = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const options = target.protocol === 'https:' && ca ? { ca: ca as string | Buffer | Array<string | Buffer>, agent: false as const } : { agent: false as const };
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

export async function startAsperathosEmulator(options: AsperathosEmulatorOptions): Promise<AsperathosEmulator> {
  const log = options.logger ?? createLogger({ component: 'asperathos-emulator' }, { level: 'warn' });
  const pollMs = options.pollMs ?? 200;
  const dbPool = [...(options.redisDbs ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])];
  const stateFile = options.stateDir ? join(options.stateDir, 'asperathos-jobs.json') : null;
  const jobs = new Map<string, JobRecord>();
  const runtimes = new Map<string, Runtime>();
  const control = new Redis({ host: options.redis.host, port: options.redis.port, db: 0, lazyConnect: true, maxRetriesPerRequest: 2 });
  await control.connect();
  let closing = false;

  if (stateFile) {
    try {
      const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { jobs: JobRecord[] };
      for (const job of saved.jobs ?? []) jobs.set(job.id, job);
    } catch {
      // no state yet
    }
  }
  const save = () => {
    if (!stateFile || !options.stateDir) return;
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${stateFile}.${randomUUID()}.tmp`;
    writeFileSync(tmp, JSON.stringify({ jobs: [...jobs.values()] }, null, 1), { mode: 0o600 });
    renameSync(tmp, stateFile);
  };

  const runtimeOf = (id: string): Runtime => {
    let rt = runtimes.get(id);
    if (!rt) {
      rt = { workers: [], exitCodes: [], exited: 0, tails: [] };
      runtimes.set(id, rt);
    }
    return rt;
  };

  const jobRedis = async (job: JobRecord): Promise<Redis> => {
    const rt = runtimeOf(job.id);
    if (!rt.redis) {
      rt.redis = new Redis({ host: options.redis.host, port: options.redis.port, db: job.db ?? 0, lazyConnect: true, maxRetriesPerRequest: 2 });
      await rt.redis.connect();
    }
    return rt.redis;
  };

  const claimDb = async (job: JobRecord): Promise<number | null> => {
    if (job.db !== null) {
      await control.set(`${CLAIM_PREFIX}${job.db}`, job.id, 'EX', CLAIM_TTL_SECS);
      return job.db;
    }
    for (const db of dbPool) {
      if ((await control.set(`${CLAIM_PREFIX}${db}`, job.id, 'EX', CLAIM_TTL_SECS, 'NX')) === 'OK') return db;
    }
    return null;
  };

  const releaseDb = async (job: JobRecord) => {
    if (job.db === null) return;
    const key = `${CLAIM_PREFIX}${job.db}`;
    if ((await control.get(key)) === job.id) await control.del(key);
  };

  const progressOf = async (job: JobRecord): Promise<number | null> => {
    if (job.processedSnapshot !== null) return job.processedSnapshot;
    if (job.items === null || job.db === null) return null;
    const redis = await jobRedis(job);
    const [main, inFlight] = await Promise.all([redis.llen('job'), redis.llen('job:processing')]);
    return Math.max(0, job.items - (main + inFlight));
  };

  const killWorkers = async (rt: Runtime) => {
    const alive = rt.workers.filter((w) => w.exitCode === null && w.signalCode === null);
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            const force = setTimeout(() => w.kill('SIGKILL'), 3000);
            w.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            w.kill('SIGTERM');
          }),
      ),
    );
  };

  const finish = async (job: JobRecord, status: Status) => {
    const rt = runtimeOf(job.id);
    if (rt.finishing) return;
    rt.finishing = true;
    if (rt.timer) clearInterval(rt.timer);
    rt.timer = undefined;
    if (job.items !== null && job.db !== null) {
      const redis = await jobRedis(job);
      job.processedSnapshot = await progressOf(job);
      job.errorsSnapshot = (await redis.lrangeBuffer('job:errors', 0, -1)).map((b) => pythonBytesRepr(b));
    } else {
      job.errorsSnapshot = [];
    }
    job.status = status;
    job.stopping = false;
    if (job.startedAtMs !== null) {
      job.report = {
        execution_time: (Date.now() - job.startedAtMs) / 1000,
        final_replicas: rt.workers.length,
        worker_exit_codes: rt.exitCodes,
      };
    }
    await releaseDb(job);
    rt.redis?.disconnect();
    rt.redis = undefined;
    save();
    log.info('job finished', { jobId: job.id, status });
  };

  const backoffLimit = options.backoffLimit ?? 6;
  const restartDelayMs = options.restartDelayMs ?? 500;

  const checkJob = async (job: JobRecord) => {
    const rt = runtimeOf(job.id);
    if (closing || rt.finishing || (TERMINAL.has(job.status) && !job.stopping)) return;
    await control.expire(`${CLAIM_PREFIX}${job.db}`, CLAIM_TTL_SECS);
    if (rt.exited < rt.workers.length) return;
    if (job.stopping) return finish(job, 'stopped');
    const redis = await jobRedis(job);
    const [main, inFlight] = await Promise.all([redis.llen('job'), redis.llen('job:processing')]);
    const ok = rt.exitCodes.every((c) => c === 0) && main === 0 && inFlight === 0;
    return finish(job, ok ? 'completed' : 'failed');
  };

  const startWorkers = async (job: JobRecord) => {
    const rt = runtimeOf(job.id);
    const initSize = job.pluginInfo.init_size as number;
    const envVars = Object.fromEntries(Object.entries(job.pluginInfo.env_vars as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k]) base[k] = process.env[k] as string;
    const logDir = options.stateDir ? join(options.stateDir, 'logs') : null;
    if (logDir) mkdirSync(logDir, { recursive: true });
    rt.workers = [];
    rt.exitCodes = [];
    rt.exited = 0;
    const restarts = new Array<number>(initSize).fill(0);
    const spawnWorker = (i: number) => {
      const command = (options.workerCommand ?? defaultWorkerCommand)({ id: job.id, pluginInfo: job.pluginInfo, workerIndex: i });
      const env = {
        ...base,
        ...(options.workerEnv ?? {}),
        ...envVars,
        REDIS_HOST: options.redis.host,
        REDIS_PORT: String(options.redis.port),
        REDIS_DB: String(job.db),
      };
      const child = spawn(command.cmd, command.args, { cwd: command.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      rt.workers[i] = child;
      rt.exitCodes[i] = null;
      const logFile = logDir ? join(logDir, `${job.id}-${i}.log`) : null;
      const onOutput = (chunk: Buffer) => {
        rt.tails[i] = ((rt.tails[i] ?? '') + chunk.toString('utf8')).slice(-2000);
        if (logFile) appendFileSync(logFile, chunk);
      };
      child.stdout?.on('data', onOutput);
      child.stderr?.on('data', onOutput);
      let counted = false;
      const onEnd = (code: number | null) => {
        if (counted) return;
        counted = true;
        if (closing) {
          rt.exitCodes[i] = code;
          rt.exited += 1;
          return;
        }
        if (code !== 0) log.warn('worker exited with failure', { jobId: job.id, worker: i, code: code ?? -1, tail: rt.tails[i] ?? '' });
        // A Kubernetes Job replaces a failed pod until its backoffLimit: so does the emulator.
        if (code !== 0 && !job.stopping && !TERMINAL.has(job.status) && restarts[i] < backoffLimit) {
          restarts[i] += 1;
          log.info('restarting a failed worker, as Kubernetes replaces a failed pod', { jobId: job.id, worker: i, restart: restarts[i] });
          setTimeout(() => {
            if (!closing && !TERMINAL.has(job.status)) spawnWorker(i);
          }, restartDelayMs);
          return;
        }
        rt.exitCodes[i] = code;
        rt.exited += 1;
        checkJob(job).catch((error: unknown) => log.error('job check failed', { jobId: job.id, error_message: String(error) }));
      };
      child.once('exit', (code, signal) => onEnd(code ?? (signal ? 128 : null)));
      child.once('error', () => onEnd(127));
    };
    for (let i = 0; i < initSize; i++) spawnWorker(i);
    rt.timer = setInterval(() => {
      checkJob(job).catch((error: unknown) => log.error('job check failed', { jobId: job.id, error_message: String(error) }));
    }, pollMs);
  };

  const setupAndRun = async (job: JobRecord) => {
    if (closing || TERMINAL.has(job.status)) return;
    const problem = backgroundValidationProblem(job.pluginInfo);
    if (problem) {
      job.status = 'error';
      job.setupError = problem;
      return finish(job, 'error');
    }
    const db = await claimDb(job);
    if (db === null) {
      job.setupError = 'no free Redis database for the job';
      return finish(job, 'error');
    }
    job.db = db;
    save();
    const redis = await jobRedis(job);
    if (!job.pushed) {
      let lines: string[];
      try {
        lines = workloadLines(await download(job.pluginInfo.redis_workload as string, options.workloadCa));
      } catch (error) {
        job.setupError = `workload download failed: ${error instanceof Error ? error.message : String(error)}`;
        return finish(job, 'error');
      }
      await redis.flushdb();
      for (let i = 0; i < lines.length; i += 1000) await redis.rpush('job', ...lines.slice(i, i + 1000));
      job.items = lines.length;
      job.pushed = true;
      save();
    }
    if (closing || TERMINAL.has(job.status)) return;
    if (job.startingTime === null) {
      const now = new Date();
      job.startingTime = formatStartingTime(now);
      job.startedAtMs = now.getTime();
    }
    job.status = 'ongoing';
    save();
    await startWorkers(job);
  };

  const launch = (job: JobRecord) => {
    setupAndRun(job).catch((error: unknown) => {
      log.error('job setup failed', { jobId: job.id, error_message: error instanceof Error ? error.message : String(error) });
      job.setupError = 'setup failed';
      finish(job, 'error').catch(() => undefined);
    });
  };

  const statusJson = async (job: JobRecord): Promise<Record<string, unknown>> => {
    const started = job.startingTime !== null;
    const out: Record<string, unknown> = {
      app_id: job.id,
      status: job.status,
      starting_time: job.startingTime ?? 'Job is not running yet!',
      visualizer_url: 'URL not generated!',
      redis_ip: started ? options.redis.host : null,
      redis_port: started ? options.redis.port : null,
    };
    const processed = await progressOf(job).catch(() => null);
    if (job.items !== null && processed !== null) {
      out.items = job.items;
      out.processed_items = processed;
    }
    if (job.report) Object.assign(out, job.report);
    return out;
  };

  // ---- HTTP ----

  const sendJson = (res: ServerResponse, status: number, value: unknown) => {
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    const body = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const sendError = (res: ServerResponse, status: number, message: string) =>
    sendJson(res, status, { error_code: status, error_message: message, error_name: ERROR_NAMES[status] ?? 'ERROR' });

  const readJson = (req: IncomingMessage, required: boolean): Promise<Record<string, unknown> | null> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== '' && type !== 'application/json') return reject(new ApiError(500, `Unsupported Content-Type: ${type}`));
        if (text.trim() === '') return required ? reject(new ApiError(500, 'Empty request body')) : resolve(null);
        try {
          const json = JSON.parse(text) as unknown;
          if (!isObject(json)) return reject(new ApiError(500, 'The request body must be a JSON object'));
          resolve(json);
        } catch {
          reject(new ApiError(500, 'Invalid JSON in request body'));
        }
      });
    });

  const checkAuth = (body: Record<string, unknown>) => {
    if (!('enable_auth' in body)) throw new ApiError(500, 'Missing field: enable_auth');
    if (body.enable_auth !== true) return;
    if (typeof body.username !== 'string' || typeof body.password !== 'string' || !body.username || !body.password) {
      throw new ApiError(400, 'Missing plugin fields in request');
    }
    if (options.users && options.users[body.username] !== body.password) throw new ApiError(401, 'Unauthorized');
  };

  const submit = (body: Record<string, unknown>): string => {
    checkAuth(body);
    if (!('plugin_info' in body)) throw new ApiError(500, 'Missing field: plugin_info');
    if (!isObject(body.plugin_info)) throw new ApiError(500, 'plugin_info must be a dict');
    const info = body.plugin_info;
    const named: Array<[keyof typeof KNOWN, unknown]> = [
      ['plugin', body.plugin],
      ['control_plugin', info.control_plugin],
      ['monitor_plugin', info.monitor_plugin],
      ['visualizer_plugin', info.visualizer_plugin],
    ];
    for (const [field, value] of named) {
      if (value === undefined || value === null) throw new ApiError(500, `Missing field: ${field}`);
      if (typeof value !== 'string' || !KNOWN[field].has(value)) throw new ApiError(500, `Unknown ${field}: ${String(value)}`);
    }
    const id = `kj-${randomUUID().slice(0, 7)}`;
    const job: JobRecord = {
      id,
      pluginInfo: info,
      status: 'created',
      startingTime: null,
      startedAtMs: null,
      db: null,
      pushed: false,
      items: null,
      processedSnapshot: null,
      errorsSnapshot: null,
      report: null,
    };
    jobs.set(id, job);
    save();
    setImmediate(() => launch(job));
    return id;
  };

  const jobOr400 = (id: string): JobRecord => {
    const job = jobs.get(id);
    if (!job) throw new ApiError(400, '');
    return job;
  };

  const stop = async (job: JobRecord) => {
    if (TERMINAL.has(job.status)) return;
    job.stopping = true;
    if (job.db !== null && job.pushed) {
      const redis = await jobRedis(job);
      await redis.del('job');
      await redis.rpush('stop', 'stop');
    }
    const rt = runtimeOf(job.id);
    if (rt.workers.length === 0) {
      await finish(job, 'stopped');
    } else {
      job.status = 'stopped';
      save();
    }
  };

  const terminate = async (job: JobRecord) => {
    if (TERMINAL.has(job.status) && !job.stopping) return;
    const rt = runtimeOf(job.id);
    job.stopping = false;
    job.status = 'terminated';
    await killWorkers(rt);
    await finish(job, 'terminated');
  };

  const remove = async (job: JobRecord) => {
    const rt = runtimeOf(job.id);
    job.status = 'terminated';
    if (rt.timer) clearInterval(rt.timer);
    await killWorkers(rt);
    await releaseDb(job);
    rt.redis?.disconnect();
    runtimes.delete(job.id);
    jobs.delete(job.id);
    save();
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://emulator.invalid').pathname.replace(/\/+$/, '').replace(/\.json$/, '');
    if (path === '/healthz') {
      if (method !== 'GET') throw new ApiError(405, 'Method not allowed');
      return sendJson(res, 200, 'OK');
    }
    if (path === '/submissions') {
      if (method === 'GET') {
        const all: Record<string, unknown> = {};
        for (const job of jobs.values()) all[job.id] = await statusJson(job);
        return sendJson(res, 200, all);
      }
      if (method === 'POST') {
        const body = (await readJson(req, true)) as Record<string, unknown>;
        return sendJson(res, 202, { job_id: submit(body) });
      }
      throw new ApiError(405, 'Method not allowed');
    }
    const m = /^\/submissions\/([^/]+)(?:\/(stop|terminate|errors|report|visualizer))?$/.exec(path);
    if (!m) throw new ApiError(404, 'Not found');
    const id = decodeURIComponent(m[1]);
    const action = m[2];
    if (action === undefined && method === 'GET') return sendJson(res, 200, await statusJson(jobOr400(id)));
    if (action === undefined && method === 'DELETE') {
      const body = await readJson(req, false);
      if (body) checkAuth(body);
      await remove(jobOr400(id));
      return sendJson(res, 204, null);
    }
    if ((action === 'stop' || action === 'terminate') && method === 'PUT') {
      const body = (await readJson(req, true)) as Record<string, unknown>;
      checkAuth(body);
      const job = jobOr400(id);
      await (action === 'stop' ? stop(job) : terminate(job));
      return sendJson(res, 204, null);
    }
    if (action === 'errors' && method === 'GET') {
      const job = jobOr400(id);
      if (job.errorsSnapshot) return sendJson(res, 200, job.errorsSnapshot);
      if (job.db === null || !job.pushed) return sendJson(res, 200, []);
      const redis = await jobRedis(job);
      return sendJson(res, 200, (await redis.lrangeBuffer('job:errors', 0, -1)).map((b) => pythonBytesRepr(b)));
    }
    if (action === 'report' && method === 'GET') {
      const job = jobOr400(id);
      const out: Record<string, unknown> = { ...(job.report ?? {}) };
      const processed = await progressOf(job).catch(() => null);
      if (job.items !== null && processed !== null) Object.assign(out, { items: job.items, processed_items: processed });
      if (job.setupError) out.error = job.setupError;
      return sendJson(res, 200, out);
    }
    if (action === 'visualizer' && method === 'GET') {
      jobOr400(id);
      return sendJson(res, 200, { visualizer_url: 'URL not generated!' });
    }
    throw new ApiError(405, 'Method not allowed');
  };

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof ApiError) return sendError(res, error.status, error.message);
      log.error('asperathos emulator failure', { error_message: error instanceof Error ? error.message : String(error) });
      sendError(res, 500, 'Internal server error');
    });
  });
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as AddressInfo).port));
  });

  for (const job of jobs.values()) {
    if (!TERMINAL.has(job.status)) launch(job);
    else if (job.stopping) finish(job, 'stopped').catch(() => undefined);
  }

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    submissionsUrl: `${url}/submissions`,
    port,
    close: async () => {
      closing = true;
      for (const rt of runtimes.values()) if (rt.timer) clearInterval(rt.timer);
      await Promise.all([...runtimes.values()].map((rt) => killWorkers(rt)));
      for (const rt of runtimes.values()) rt.redis?.disconnect();
      runtimes.clear();
      control.disconnect();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function defaultWorkerCommand(): WorkerCommand {
  return { cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'enclave', 'worker.ts')], cwd: REPO_ROOT };
}
