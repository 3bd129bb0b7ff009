/**
 * The emulator's workers: local processes in place of kubejobs pods. A worker that fails (non-zero exit, killed)
 * is replaced, as a Kubernetes Job replaces a failed pod, up to `backoffLimit` times; only then does its failure
 * count against the job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '#lib/log.js';
import { REPO_ROOT } from '#local/service-endpoints.js';
import { TERMINAL, type JobRecord } from './state.js';

export { REPO_ROOT };

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

export interface WorkerSettings {
  redis: { host: string; port: number };
  workerCommand?: (job: EmulatedJobView) => WorkerCommand;
  /** Extra environment for every worker (below env_vars and REDIS_*). */
  workerEnv?: Record<string, string>;
  /** Worker logs go to `<stateDir>/logs/<job>-<n>.log`. */
  stateDir?: string;
  backoffLimit: number;
  restartDelayMs: number;
  log: Logger;
}

/** One job's worker processes. */
export interface WorkerGroup {
  workers: ChildProcess[];
  exitCodes: Array<number | null>;
  exited: number;
  tails: string[];
}

export const emptyGroup = (): WorkerGroup => ({ workers: [], exitCodes: [], exited: 0, tails: [] });

function defaultWorkerCommand(): WorkerCommand {
  return { cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'enclave', 'worker.ts')], cwd: REPO_ROOT };
}

/**
 * Starts `init_size` workers with env_vars plus REDIS_HOST, REDIS_PORT and REDIS_DB (the emulated per-job
 * Redis). `onSettled` runs each time a worker has exited for good.
 */
export function startWorkers(
  job: JobRecord,
  group: WorkerGroup,
  settings: WorkerSettings,
  isClosing: () => boolean,
  onSettled: () => void,
): void {
  const initSize = job.pluginInfo.init_size as number;
  const envVars = Object.fromEntries(Object.entries(job.pluginInfo.env_vars as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k]) base[k] = process.env[k] as string;
  const logDir = settings.stateDir ? join(settings.stateDir, 'logs') : null;
  if (logDir) mkdirSync(logDir, { recursive: true });
  Object.assign(group, emptyGroup());
  const restarts = new Array<number>(initSize).fill(0);
  const spawnWorker = (i: number) => {
    const command = (settings.workerCommand ?? defaultWorkerCommand)({ id: job.id, pluginInfo: job.pluginInfo, workerIndex: i });
    const env = {
      ...base,
      ...(settings.workerEnv ?? {}),
      ...envVars,
      REDIS_HOST: settings.redis.host,
      REDIS_PORT: String(settings.redis.port),
      REDIS_DB: String(job.db),
    };
    const child = spawn(command.cmd, command.args, { cwd: command.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    group.workers[i] = child;
    group.exitCodes[i] = null;
    const logFile = logDir ? join(logDir, `${job.id}-${i}.log`) : null;
    const onOutput = (chunk: Buffer) => {
      group.tails[i] = ((group.tails[i] ?? '') + chunk.toString('utf8')).slice(-2000);
      if (logFile) appendFileSync(logFile, chunk);
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    let counted = false;
    const onEnd = (code: number | null) => {
      if (counted) return;
      counted = true;
      if (!isClosing() && code !== 0)
        settings.log.warn('worker exited with failure', { jobId: job.id, worker: i, code: code ?? -1, tail: group.tails[i] ?? '' });
      if (!isClosing() && code !== 0 && !job.stopping && !TERMINAL.has(job.status) && restarts[i] < settings.backoffLimit) {
        restarts[i] += 1;
        settings.log.info('restarting a failed worker, as Kubernetes replaces a failed pod', {
          jobId: job.id,
          worker: i,
          restart: restarts[i],
        });
        setTimeout(() => {
          if (!isClosing() && !TERMINAL.has(job.status)) spawnWorker(i);
        }, settings.restartDelayMs);
        return;
      }
      group.exitCodes[i] = code;
      group.exited += 1;
      if (!isClosing()) onSettled();
    };
    child.once('exit', (code, signal) => onEnd(code ?? (signal ? 128 : null)));
    child.once('error', () => onEnd(127));
  };
  for (let i = 0; i < initSize; i++) spawnWorker(i);
}

/** SIGTERM, then SIGKILL after 3 s; resolves once every live worker exited. */
export async function killWorkers(group: WorkerGroup): Promise<void> {
  const alive = group.workers.filter((w) => w.exitCode === null && w.signalCode === null);
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
}
