/**
 * Runs local daemons as detached processes that outlive the command which started them, and finds them again later:
 * `<stateDir>/run/<name>.pid` holds each daemon's PID, `<stateDir>/log/<name>.log` its stdout and stderr.
 *
 * - A PID counts as our daemon only while /proc/PID/cmdline still shows the daemon's command (not a recycled PID)
 *   and the process is not a zombie; only such PIDs are ever signalled.
 * - One command at a time: `exclusive` holds `<stateDir>/<lockName>.lock` (a lock left by a dead process is taken over).
 * - The probes say whether a daemon answers on its loopback port.
 *
 * Which daemons run, on which ports and with which configs is the caller's (local/services.ts).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Daemon {
  name: string;
  port: number;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Does /proc/PID/cmdline show this is our process (not a recycled PID)? */
  owns(cmdline: string): boolean;
  healthy(): Promise<boolean>;
  /** A healthy foreign listener on the port may be reused. */
  adoptable: boolean;
  /**
   * The command line names a file of this state directory, so a running process it matches is ours even without
   * a pid file. (Not so for memcached or redis, whose command lines do not say which checkout started them.)
   */
  cmdlineNamesStateDir: boolean;
}

/** How a spawned daemon ended, once it has (null while it runs). */
export type ExitWatch = () => string | null;

export interface SupervisorOptions {
  stateDir: string;
  /** The lock file is `<stateDir>/<lockName>.lock`; the name also says who holds it. */
  lockName: string;
  /** How long `waitHealthy` waits. */
  readyTimeoutMs: number;
}

export class DaemonSupervisor {
  readonly stateDir: string;
  readonly runDir: string;
  readonly logDir: string;
  readonly readyTimeoutMs: number;
  private readonly lockName: string;

  constructor(options: SupervisorOptions) {
    this.stateDir = options.stateDir;
    this.runDir = join(options.stateDir, 'run');
    this.logDir = join(options.stateDir, 'log');
    this.readyTimeoutMs = options.readyTimeoutMs;
    this.lockName = options.lockName;
  }

  pidFile(d: Daemon): string {
    return join(this.runDir, `${d.name}.pid`);
  }

  /** The live PID of our daemon, or null (no pid file, dead process, or a PID now used by someone else). */
  livePid(d: Daemon): number | null {
    const pid = readPid(this.pidFile(d));
    if (pid === null) return null;
    const cmd = cmdlineOf(pid);
    if (cmd === null || isZombie(pid) || !d.owns(cmd)) return null;
    return pid;
  }

  /** A running daemon of ours whose pid file was lost or corrupted (only for `cmdlineNamesStateDir` daemons). */
  findOrphan(d: Daemon): number | null {
    if (!d.cmdlineNamesStateDir) return null;
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return null;
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const cmd = cmdlineOf(pid);
      if (cmd !== null && d.owns(cmd) && !isZombie(pid)) return pid;
    }
    return null;
  }

  recordPid(d: Daemon, pid: number): void {
    writeFileSync(this.pidFile(d), `${pid}\n`);
  }

  forgetPid(d: Daemon): void {
    rmSync(this.pidFile(d), { force: true });
  }

  /** Starts the daemon detached, its output appended to its log, and records its PID. */
  spawn(d: Daemon): ExitWatch {
    const fd = openSync(this.logFile(d), 'a');
    let exit: string | null = null;
    const child = spawn(d.command, d.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: d.env ?? process.env,
      cwd: this.stateDir,
    });
    closeSync(fd);
    child.on('error', (e) => (exit = `spawn failed: ${e.message}`));
    child.on('exit', (code, signal) => (exit = `exited with ${signal ?? `code ${code}`}`));
    child.unref();
    if (child.pid === undefined) throw new Error(`${d.name}: could not spawn ${d.command}`);
    this.recordPid(d, child.pid);
    return () => exit;
  }

  /** Resolves once the daemon answers its health check; throws with its last log lines if it exits or times out. */
  async waitHealthy(d: Daemon, exited: ExitWatch): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (await d.healthy()) return;
      const gone = exited();
      if (gone) throw new Error(`${d.name} ${gone}; last log lines:\n${this.logTail(d)}`);
      if (Date.now() > deadline)
        throw new Error(`${d.name} not healthy on port ${d.port} after ${this.readyTimeoutMs} ms; last log lines:\n${this.logTail(d)}`);
      await sleep(100);
    }
  }

  /** Runs `fn` while holding the lock, waiting up to 2 minutes for another holder. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(this.stateDir, `${this.lockName}.lock`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const fd = openSync(lock, 'wx');
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = readPid(lock);
        if (holder === null || cmdlineOf(holder) === null) {
          rmSync(lock, { force: true }); // stale lock of a dead process
          continue;
        }
        if (Date.now() > deadline) throw new Error(`another ${this.lockName} command (pid ${holder}) holds ${lock}`);
        await sleep(200);
      }
    }
    try {
      return await fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  private logFile(d: Daemon): string {
    return join(this.logDir, `${d.name}.log`);
  }

  private logTail(d: Daemon, lines = 15): string {
    try {
      return readFileSync(this.logFile(d), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (or after 2 s more). */
export async function killPid(pid: number, graceMs = 5000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (cmdlineOf(pid) === null || isZombie(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  for (let i = 0; i < 40 && cmdlineOf(pid) !== null && !isZombie(pid); i++) await sleep(50);
}

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function cmdlineOf(pid: number): string | null {
  try {
    return `${readFileSync(`/proc/${pid}/cmdline`, 'latin1')}\0`;
  } catch {
    return null;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------- probes

/** Sends `send` to 127.0.0.1:port; true when the first line of the answer starts with `expect`. */
export function tcpProbe(port: number, send: string, expect: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(send));
    socket.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) done(buf.startsWith(expect));
    });
  });
}

/** Does anything accept (or hold without refusing) a connection on 127.0.0.1:port? */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function httpOk(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
