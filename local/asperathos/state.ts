/** The emulator's job records and their persistence (`<stateDir>/asperathos-jobs.json`). */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Status = 'created' | 'ongoing' | 'completed' | 'failed' | 'error' | 'stopped' | 'terminated';
export const TERMINAL: ReadonlySet<Status> = new Set(['completed', 'failed', 'error', 'stopped', 'terminated']);

export interface JobRecord {
  id: string;
  pluginInfo: Record<string, unknown>;
  status: Status;
  /** `%Y-%m-%dT%H:%M:%S.%fGMT` once workers started. */
  startingTime: string | null;
  startedAtMs: number | null;
  /** The emulated per-job Redis: a database number on the shared redis-server, once provisioned. */
  db: number | null;
  /** The job's Redis was provisioned (the real manager reports redis_ip/redis_port from then on). */
  redisProvisioned: boolean;
  pushed: boolean;
  items: number | null;
  /** Frozen at the end: `job:errors` as Python bytes text, served until the job's resources are deleted. */
  errorsSnapshot: string[] | null;
  /** The monitor's report keys, once the job ended. */
  report: Record<string, unknown> | null;
  /** Epoch ms at which the job's resources (Redis, dashboard) are deleted: end + job_resources_lifetime. */
  resourcesDeleteAtMs: number | null;
  resourcesDeleted: boolean;
  /** Loaded from the state file by a restarted emulator: like the real manager, it has no Redis client for it. */
  restored?: boolean;
  /** Why setup failed (status error); in the emulator's log only, as the real manager logs it. */
  setupError?: string;
  /** Stop requested: the job ends as stopped whatever the workers do. */
  stopping?: boolean;
}

export class JobBook {
  readonly jobs = new Map<string, JobRecord>();
  private readonly file: string | null;

  constructor(private readonly stateDir: string | undefined) {
    this.file = stateDir ? join(stateDir, 'asperathos-jobs.json') : null;
  }

  /** Reads the jobs of an earlier run; each is marked `restored`. */
  load(): void {
    if (!this.file) return;
    let saved: { jobs?: JobRecord[] };
    try {
      saved = JSON.parse(readFileSync(this.file, 'utf8')) as { jobs?: JobRecord[] };
    } catch {
      return; // no state yet
    }
    for (const job of saved.jobs ?? []) this.jobs.set(job.id, { ...job, restored: true });
  }

  save(): void {
    if (!this.file || !this.stateDir) return;
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${randomUUID()}.tmp`;
    writeFileSync(tmp, JSON.stringify({ jobs: [...this.jobs.values()] }, null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

export function newJob(id: string, pluginInfo: Record<string, unknown>): JobRecord {
  return {
    id,
    pluginInfo,
    status: 'created',
    startingTime: null,
    startedAtMs: null,
    db: null,
    redisProvisioned: false,
    pushed: false,
    items: null,
    errorsSnapshot: null,
    report: null,
    resourcesDeleteAtMs: null,
    resourcesDeleted: false,
  };
}
