/**
 * Asperathos manager emulator (kubejobs plugin), for tests and the local stack. A record of what the real
 * manager was measured to do (ufcg-lsd/asperathos-manager at b5e962e, on loopback with a fake Kubernetes API,
 * monitor and controller; protocols.md §5), not a guess. test/integration/asperathos.test.ts pins each answer.
 *
 * HTTP (api.ts):
 * - every route also with a `.json` suffix; GET 200, POST 202, PUT 204, DELETE 204; errors as
 *   `{"error_code", "error_message", "error_name"}`;
 * - a malformed `POST /submissions` (non-JSON content type, invalid JSON, empty body, missing `enable_auth` or
 *   `plugin_info`, missing or unknown plugin names) → 500 "Internal Server Error"; `enable_auth: true` without
 *   username/password → 400 "Missing plugin fields in request"; 202 `{"job_id": "kj-" + 7 chars of a uuid4}`;
 *   the other plugin_info checks run after the 202 and turn the job into `error`;
 * - `GET /submissions/<id>`: app_id, status, starting_time ("Job is not running yet!" before start),
 *   visualizer_url ("URL not generated!", the dashboard URL while the job's resources live, "Url is dead!" once
 *   they are deleted), redis_ip/redis_port (null until the job's Redis is provisioned, kept after an `error`
 *   that came later); no `items`/`processed_items`; once finished, the monitor's report keys
 *   scaling_strategy, heuristic_options, max_error, min_error, final_replicas, final_error, execution_time;
 * - `GET …/errors`: a list of Python bytes texts while the job's Redis lives; `{}` when the list is empty, for an
 *   unknown id, and after the Redis is deleted (job_resources_lifetime seconds after the end); 500 before the
 *   Redis exists and, after a restart (same stateDir), for every job of the earlier run;
 * - unknown id: 400 with an empty message on GET, stop, terminate, report, visualizer and log; DELETE answers 400
 *   "Specified submission does not exists in this Asperathos instance!"; `PUT …/stop` (and terminate) with a body
 *   lacking enable_auth → 400 with an empty message; `…/log` of a known job → 500;
 * - `GET /healthz` → "OK".
 *
 * kubejobs after the 202 (jobs.ts, workers.ts): validate plugin_info, download the workload and split it like
 * `text.split('\n')[:-1]`, provision the job's Redis, create the visualizer (enable_visualizer without a cluster
 * visualizer → `error`, "Creating InfluxDB Service... (404)"), `RPUSH job <line>`, start `init_size` workers with
 * env_vars plus REDIS_*; created → ongoing → completed (every worker exited 0, job and job:processing empty) or
 * failed. Stop does `DEL job` + `RPUSH stop stop` and lets the workers drain; terminate and delete kill them.
 *
 * Known differences from the real manager, and why:
 * - One redis-server for all jobs: each job gets a DATABASE NUMBER (default pool 1-15), claimed with
 *   `SET asperathos-emulator:db:<n> <job id> NX EX` in database 0. Workers get REDIS_HOST, REDIS_PORT and
 *   REDIS_DB (the real REDIS_HOST is `redis-<app_id>`, port 6379, database 0).
 * - The database is freed when the job ends and `job:errors` is frozen in memory, then served until
 *   job_resources_lifetime has passed: the workers are gone, so through the API this is indistinguishable from a
 *   Redis that lives until then, and the pool is not held for minutes.
 * - Workers are local processes (SIM mode); a failed one is replaced up to `backoffLimit` (6) times, as a
 *   Kubernetes Job replaces a failed pod. No images, no resource limits, no scaling: replicas stay init_size.
 * - A restarted emulator resumes unfinished jobs (restarting their workers) as Kubernetes keeps pods running
 *   across a manager restart; how the real manager then reports those jobs' statuses was not measured.
 * - The monitor's report values are emulated: scaling_strategy and heuristic_options come from
 *   control_parameters, the three errors are 0, final_replicas is init_size, execution_time is measured.
 * - `GET …/report` answers `{}`; the real one answers the monitor's detailed report or
 *   `{"message": "The detailed report is disabled to this job!"}`, not measured in detail.
 * - Without job_resources_lifetime in plugin_info the lifetime is 600 s (the kubejobs plugin's waiting_time).
 * - The authorization service accepts any credentials unless `users` is given. The `not found` status (ten failed
 *   syncs with Kubernetes) never happens here.
 */
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '#lib/log.js';
import { createManagerApi } from './api.js';
import { JobRunner } from './jobs.js';
import { JobBook } from './state.js';
import type { EmulatedJobView, WorkerCommand } from './workers.js';

export { backgroundValidationProblem, workloadLines, URL_IS_DEAD, URL_NOT_GENERATED } from './jobs.js';
export { REPO_ROOT, type EmulatedJobView, type WorkerCommand } from './workers.js';

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
  /** The cluster's Grafana base URL; without it, a job with enable_visualizer goes to `error`. */
  visualizerUrl?: string;
  logger?: Logger;
}

export interface AsperathosEmulator {
  url: string;
  submissionsUrl: string;
  port: number;
  close(): Promise<void>;
}

export async function startAsperathosEmulator(options: AsperathosEmulatorOptions): Promise<AsperathosEmulator> {
  const log = options.logger ?? createLogger({ component: 'asperathos-emulator' }, { level: 'warn' });
  const runner = new JobRunner(
    new JobBook(options.stateDir),
    {
      redis: options.redis,
      redisDbs: [...(options.redisDbs ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])],
      pollMs: options.pollMs ?? 200,
      workerCommand: options.workerCommand,
      workerEnv: options.workerEnv,
      stateDir: options.stateDir,
      backoffLimit: options.backoffLimit ?? 6,
      restartDelayMs: options.restartDelayMs ?? 500,
      workloadCa: options.workloadCa,
      visualizerUrl: options.visualizerUrl,
      log,
    },
    log,
  );
  await runner.open();
  const server = createManagerApi(runner, { users: options.users, log });
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as AddressInfo).port));
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    submissionsUrl: `${url}/submissions`,
    port,
    close: async () => {
      await runner.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
