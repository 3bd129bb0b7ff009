/**
 * The real local services the tests and the local stack talk to, all on 127.0.0.1 with fixed non-default ports:
 * Swift All-In-One (see swift-saio.ts), memcached (Swift's TempAuth needs it: without it auth answers 503) and
 * redis-server (no persistence).
 *
 * - State lives under `<repo>/.local/`: configs, the Swift device, `run/*.pid`, `log/*.log`, `services.json`.
 * - `startServices` is idempotent: daemons whose pid file points at a live process of ours that answers its health
 *   check are kept; dead ones (stale pid files) and unhealthy ones are (re)started. It returns only once the proxy
 *   answers /healthcheck, TempAuth issues a token and the account answers with it.
 * - `stopServices` kills only the PIDs in our pid files, and only after checking /proc/PID/cmdline is ours.
 * - A healthy memcached or redis already listening on our port but not started by us (another checkout, a developer)
 *   is reused and reported as `external`; `stop` leaves it alone. Any other foreign listener on our ports is an error.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '#lib/errors.js';
import type { LocalServices } from './service-endpoints.js';
import {
  DEFAULT_SWIFT_PORTS,
  SAIO_ACCOUNT,
  SAIO_KEY,
  SAIO_USER,
  SWIFT_SERVERS,
  buildRings,
  ensureSwiftEtcConf,
  healthUrl,
  ringsAreCurrent,
  saioLayout,
  serverCommand,
  systemPythonEnv,
  writeSaioConfigs,
  type SaioLayout,
  type SwiftPorts,
  type SwiftServer,
} from './swift-saio.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The local account's slot-2 TempURL key (X-Account-Meta-Temp-URL-Key-2). Every local writer of that slot (the
 * stack, the tests, the benches) sets this one value, because they share one account and run in parallel: a
 * different value would invalidate the links another run has just signed.
 */
export const LOCAL_TEMPURL_KEY = 'local-tempurl-key';

export interface ServicePorts {
  swift: SwiftPorts;
  memcached: number;
  redis: number;
}

/**
 * `RADIOMICS_PORT_OFFSET` shifts every port, so that two checkouts on one machine (a fresh clone beside a
 * working tree) can each run their own services.
 */
const PORT_OFFSET = Number.parseInt(process.env.RADIOMICS_PORT_OFFSET ?? '0', 10) || 0;
const shift = (ports: SwiftPorts): SwiftPorts => ({
  proxy: ports.proxy + PORT_OFFSET,
  object: ports.object + PORT_OFFSET,
  container: ports.container + PORT_OFFSET,
  account: ports.account + PORT_OFFSET,
});
export const DEFAULT_PORTS: ServicePorts = { swift: shift(DEFAULT_SWIFT_PORTS), memcached: 11222 + PORT_OFFSET, redis: 16379 + PORT_OFFSET };

export interface ServicesOptions {
  repoRoot?: string;
  ports?: ServicePorts;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** How long to wait for every daemon to become healthy. */
  readyTimeoutMs?: number;
}

export type DaemonState = 'running' | 'external' | 'stopped' | 'unhealthy';

export interface DaemonStatus {
  name: string;
  port: number;
  pid: number | null;
  state: DaemonState;
}

interface Daemon {
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
  swift?: SwiftServer;
}

interface Context {
  root: string;
  localDir: string;
  runDir: string;
  logDir: string;
  ports: ServicePorts;
  layout: SaioLayout;
  daemons: Daemon[];
  log: (line: string) => void;
  readyTimeoutMs: number;
}

function context(options: ServicesOptions = {}): Context {
  const root = options.repoRoot ?? REPO_ROOT;
  const localDir = join(root, '.local');
  const ports = options.ports ?? DEFAULT_PORTS;
  const layout = saioLayout(localDir, ports.swift, ports.memcached);
  const ctx: Context = {
    root,
    localDir,
    runDir: join(localDir, 'run'),
    logDir: join(localDir, 'log'),
    ports,
    layout,
    daemons: [],
    log: options.log ?? ((line) => process.stderr.write(line + '\n')),
    readyTimeoutMs: options.readyTimeoutMs ?? 45_000,
  };
  ctx.daemons = daemons(ctx);
  return ctx;
}

function daemons(ctx: Context): Daemon[] {
  const { ports, layout } = ctx;
  const memcachedArgs = ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', '-m', '64', '-c', '1024'];
  if (process.getuid?.() === 0) memcachedArgs.push('-u', 'root');
  const list: Daemon[] = [
    {
      name: 'memcached',
      port: ports.memcached,
      command: '/usr/bin/memcached',
      args: memcachedArgs,
      owns: (cmd) => cmd.includes('memcached') && cmd.includes(`-p\0${ports.memcached}\0`),
      healthy: () => tcpProbe(ports.memcached, 'version\r\n', 'VERSION'),
      adoptable: true,
    },
    {
      name: 'redis',
      port: ports.redis,
      command: '/usr/bin/redis-server',
      args: [
        '--bind', '127.0.0.1', '--port', String(ports.redis), '--save', '', '--appendonly', 'no',
        '--daemonize', 'no', '--dir', join(ctx.localDir, 'redis'),
      ],
      // redis-server rewrites its process title to "redis-server 127.0.0.1:PORT".
      owns: (cmd) => cmd.includes('redis-server') && cmd.includes(`:${ports.redis}`),
      healthy: () => tcpProbe(ports.redis, 'PING\r\n', '+PONG'),
      adoptable: true,
    },
  ];
  for (const server of SWIFT_SERVERS) {
    const { command, args } = serverCommand(layout, server);
    list.push({
      name: `swift-${server}`,
      port: ports.swift[server],
      command,
      args,
      env: systemPythonEnv(),
      owns: (cmd) => cmd.includes(args[0]),
      healthy: () => httpOk(healthUrl(layout, server)),
      adoptable: false,
      swift: server,
    });
  }
  return list;
}

// ---------------------------------------------------------------- probes

function tcpProbe(port: number, send: string, expect: string, timeoutMs = 1000): Promise<boolean> {
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

function portInUse(port: number): Promise<boolean> {
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

async function httpOk(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- pid files

function pidFile(ctx: Context, d: Daemon): string {
  return join(ctx.runDir, `${d.name}.pid`);
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
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1') + '\0';
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

/** The live PID of our daemon, or null (no pid file, dead process, or a PID now used by someone else). */
function ourPid(ctx: Context, d: Daemon): number | null {
  const pid = readPid(pidFile(ctx, d));
  if (pid === null) return null;
  const cmd = cmdlineOf(pid);
  if (cmd === null || isZombie(pid) || !d.owns(cmd)) return null;
  return pid;
}

/**
 * A Swift daemon of this checkout whose pid file was lost or corrupted: its command line names our own config file
 * under `<repo>/.local/swift/`, so it is unambiguously ours. (Never used for memcached or redis, whose command lines
 * do not say which checkout started them.)
 */
function findOrphanSwiftDaemon(d: Daemon): number | null {
  if (!d.swift) return null;
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

async function killPid(pid: number, graceMs = 5000): Promise<void> {
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------- lock

async function withLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  const lock = join(ctx.localDir, 'services.lock');
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
      if (Date.now() > deadline) throw new Error(`another services command (pid ${holder}) holds ${lock}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------- services.json

export function servicesDescription(ports: ServicePorts = DEFAULT_PORTS): LocalServices {
  const proxyUrl = `http://127.0.0.1:${ports.swift.proxy}`;
  return {
    swift: {
      proxyUrl,
      authUrl: `${proxyUrl}/auth/v1.0`,
      user: SAIO_USER,
      key: SAIO_KEY,
      account: SAIO_ACCOUNT,
      storageUrl: `${proxyUrl}/v1/${SAIO_ACCOUNT}`,
      s3Endpoint: proxyUrl,
      s3AccessKey: SAIO_USER,
      s3SecretKey: SAIO_KEY,
    },
    memcached: { host: '127.0.0.1', port: ports.memcached },
    redis: { host: '127.0.0.1', port: ports.redis },
  };
}

function servicesFile(ctx: Context): string {
  return join(ctx.localDir, 'services.json');
}

function writeServicesFile(ctx: Context, services: LocalServices): void {
  const file = servicesFile(ctx);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(services, null, 2) + '\n');
  renameSync(tmp, file); // readers never see a half-written file
}

// ---------------------------------------------------------------- start

function logTail(ctx: Context, d: Daemon, lines = 15): string {
  try {
    return readFileSync(join(ctx.logDir, `${d.name}.log`), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function spawnDaemon(ctx: Context, d: Daemon): { pid: number; exited: () => string | null } {
  const logPath = join(ctx.logDir, `${d.name}.log`);
  const fd = openSync(logPath, 'a');
  let exit: string | null = null;
  const child = spawn(d.command, d.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: d.env ?? process.env,
    cwd: ctx.localDir,
  });
  closeSync(fd);
  child.on('error', (e) => (exit = `spawn failed: ${e.message}`));
  child.on('exit', (code, signal) => (exit = `exited with ${signal ?? `code ${code}`}`));
  child.unref();
  if (child.pid === undefined) throw new Error(`${d.name}: could not spawn ${d.command}`);
  writeFileSync(pidFile(ctx, d), `${child.pid}\n`);
  return { pid: child.pid, exited: () => exit };
}

async function waitHealthy(ctx: Context, d: Daemon, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + ctx.readyTimeoutMs;
  for (;;) {
    if (await d.healthy()) return;
    const gone = exited();
    if (gone) throw new Error(`${d.name} ${gone}; last log lines:\n${logTail(ctx, d)}`);
    if (Date.now() > deadline) throw new Error(`${d.name} not healthy on port ${d.port} after ${ctx.readyTimeoutMs} ms; last log lines:\n${logTail(ctx, d)}`);
    await sleep(100);
  }
}

/** Fetches a TempAuth token and checks the account answers with it. Returns null when Swift is ready. */
/** Why Swift is not usable yet (null: usable). Usable includes the account's TempURL key 2 being LOCAL_TEMPURL_KEY, set here. */
async function swiftAuthProblem(services: LocalServices): Promise<string | null> {
  try {
    const auth = await fetch(services.swift.authUrl, {
      headers: { 'X-Auth-User': services.swift.user, 'X-Auth-Key': services.swift.key },
      signal: AbortSignal.timeout(5000),
    });
    await auth.arrayBuffer();
    const token = auth.headers.get('x-auth-token');
    const storageUrl = auth.headers.get('x-storage-url');
    if (auth.status !== 200 || !token || !storageUrl) return `auth answered ${auth.status}`;
    const head = await fetch(storageUrl, { method: 'HEAD', headers: { 'X-Auth-Token': token }, signal: AbortSignal.timeout(5000) });
    if (head.status !== 204 && head.status !== 200) return `account HEAD answered ${head.status}`;
    if (head.headers.get('x-account-meta-temp-url-key-2') === LOCAL_TEMPURL_KEY) return null;
    const set = await fetch(storageUrl, {
      method: 'POST',
      headers: { 'X-Auth-Token': token, 'X-Account-Meta-Temp-URL-Key-2': LOCAL_TEMPURL_KEY },
      signal: AbortSignal.timeout(5000),
    });
    await set.arrayBuffer();
    return set.status === 204 ? null : `setting the account TempURL key answered ${set.status}`;
  } catch (error) {
    return `auth failed: ${(error as Error).message}`;
  }
}

async function waitSwiftReady(ctx: Context, services: LocalServices): Promise<void> {
  const deadline = Date.now() + ctx.readyTimeoutMs;
  let problem: string | null = 'not checked';
  while ((problem = await swiftAuthProblem(services)) !== null) {
    if (Date.now() > deadline) throw new Error(`Swift is up but not usable: ${problem}`);
    await sleep(150);
  }
}

export interface StartResult {
  services: LocalServices;
  started: string[];
  kept: string[];
  external: string[];
  elapsedMs: number;
}

export async function startServices(options: ServicesOptions = {}): Promise<StartResult> {
  const t0 = Date.now();
  const ctx = context(options);
  for (const dir of [ctx.localDir, ctx.runDir, ctx.logDir, join(ctx.localDir, 'redis')]) mkdirSync(dir, { recursive: true });
  return withLock(ctx, async () => {
    if (ensureSwiftEtcConf().written) ctx.log('[services] wrote /etc/swift/swift.conf');
    const changedConfs = new Set(writeSaioConfigs(ctx.layout));
    const needRings = !ringsAreCurrent(ctx.layout);

    const started: string[] = [];
    const kept: string[] = [];
    const external: string[] = [];
    const toStart: Daemon[] = [];

    const checks = await Promise.all(
      ctx.daemons.map(async (d) => {
        let pid = ourPid(ctx, d);
        if (pid === null) {
          pid = findOrphanSwiftDaemon(d);
          if (pid !== null) {
            ctx.log(`[services] ${d.name}: re-adopting pid ${pid} (its pid file was missing or stale)`);
            writeFileSync(pidFile(ctx, d), `${pid}\n`);
          }
        }
        const healthy = pid !== null && (await d.healthy());
        return { d, pid, healthy };
      }),
    );
    for (const { d, pid, healthy } of checks) {
      const configChanged = d.swift !== undefined && (changedConfs.has(d.swift) || needRings);
      if (pid !== null && healthy && !configChanged) {
        kept.push(d.name);
        continue;
      }
      if (pid !== null) {
        ctx.log(`[services] restarting ${d.name} (pid ${pid}: ${healthy ? 'config changed' : 'unhealthy'})`);
        await killPid(pid);
      }
      rmSync(pidFile(ctx, d), { force: true });
      if (await portInUse(d.port)) {
        if (d.adoptable && (await d.healthy())) {
          external.push(d.name);
          continue;
        }
        throw new ConfigError(
          `${d.name}: 127.0.0.1:${d.port} is in use by a process that is not ours (no matching pid file); stop it or free the port`,
        );
      }
      toStart.push(d);
    }

    const services = servicesDescription(ctx.ports);
    if (toStart.length > 0) {
      const ringsReady = needRings ? buildRings(ctx.layout) : Promise.resolve();
      const waits: Promise<void>[] = [];
      // Everything but the proxy starts right away, while the rings are being built: only the proxy reads the
      // rings at start-up.
      for (const d of toStart.filter((x) => x.swift !== 'proxy')) {
        const { exited } = spawnDaemon(ctx, d);
        waits.push(waitHealthy(ctx, d, exited));
      }
      await ringsReady;
      for (const d of toStart.filter((x) => x.swift === 'proxy')) {
        const { exited } = spawnDaemon(ctx, d);
        waits.push(waitHealthy(ctx, d, exited));
      }
      await Promise.all(waits);
      started.push(...toStart.map((d) => d.name));
    }
    await waitSwiftReady(ctx, services);
    writeServicesFile(ctx, services);
    return { services, started, kept, external, elapsedMs: Date.now() - t0 };
  });
}

// ---------------------------------------------------------------- stop and status

export async function stopServices(options: ServicesOptions = {}): Promise<{ stopped: string[] }> {
  const ctx = context(options);
  if (!existsSync(ctx.localDir)) return { stopped: [] };
  return withLock(ctx, async () => {
    const stopped: string[] = [];
    // The proxy first, so nobody gets half a cluster; then the storage servers; then memcached and redis.
    const order = [...ctx.daemons].sort((a, b) => rank(a) - rank(b));
    rmSync(servicesFile(ctx), { force: true });
    for (const d of order) {
      const pid = ourPid(ctx, d);
      if (pid !== null) {
        await killPid(pid);
        stopped.push(d.name);
      }
      rmSync(pidFile(ctx, d), { force: true });
    }
    return { stopped };
  });
}

function rank(d: Daemon): number {
  if (d.swift === 'proxy') return 0;
  if (d.swift) return 1;
  return 2;
}

export async function servicesStatus(options: ServicesOptions = {}): Promise<{ daemons: DaemonStatus[]; swiftReady: string | null }> {
  const ctx = context(options);
  const daemons = await Promise.all(
    ctx.daemons.map(async (d): Promise<DaemonStatus> => {
      const pid = ourPid(ctx, d);
      const healthy = await d.healthy();
      let state: DaemonState;
      if (pid !== null) state = healthy ? 'running' : 'unhealthy';
      else state = healthy && d.adoptable ? 'external' : 'stopped';
      return { name: d.name, port: d.port, pid, state };
    }),
  );
  const allUp = daemons.every((d) => d.state === 'running' || d.state === 'external');
  const swiftReady = allUp ? await swiftAuthProblem(servicesDescription(ctx.ports)) : 'daemons not all running';
  return { daemons, swiftReady };
}

export function servicesSummary(services: LocalServices): string {
  const s = services.swift;
  return [
    `swift proxy   ${s.proxyUrl}   (auth ${s.authUrl}, user ${s.user}, key ${s.key}, account ${s.account})`,
    `swift storage ${s.storageUrl}`,
    `swift s3api   ${s.s3Endpoint}   (access key ${s.s3AccessKey}, secret ${s.s3SecretKey})`,
    `memcached     ${services.memcached.host}:${services.memcached.port}`,
    `redis         ${services.redis.host}:${services.redis.port}`,
  ].join('\n');
}
