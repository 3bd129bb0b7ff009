/**
 * The real local services the tests and the local stack talk to, all on 127.0.0.1 with fixed non-default ports:
 * Swift All-In-One (see swift-saio.ts), memcached (Swift's TempAuth needs it: without it auth answers 503) and
 * redis-server (no persistence). The daemons run under local/daemon-supervisor.ts.
 *
 * - State lives under `<repo>/.local/`: configs, the Swift device, `run/*.pid`, `log/*.log`, `services.json`.
 * - `startServices` is idempotent: daemons whose pid file points at a live process of ours that answers its health
 *   check are kept; dead ones (stale pid files) and unhealthy ones are (re)started. It returns only once the proxy
 *   answers /healthcheck, TempAuth issues a token and the account answers with it.
 * - `stopServices` kills only the PIDs in our pid files, and only after checking /proc/PID/cmdline is ours.
 * - A healthy memcached or redis already listening on our port but not started by us (another checkout, a developer)
 *   is reused and reported as `external`; `stop` leaves it alone. Any other foreign listener on our ports is an error.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '#lib/errors.js';
import { DaemonSupervisor, httpOk, killPid, portInUse, tcpProbe, type Daemon } from './daemon-supervisor.js';
import { REPO_ROOT, type LocalServices } from './service-endpoints.js';
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

export { REPO_ROOT };

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
export const DEFAULT_PORTS: ServicePorts = {
  swift: shift(DEFAULT_SWIFT_PORTS),
  memcached: 11222 + PORT_OFFSET,
  redis: 16379 + PORT_OFFSET,
};

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

interface Service extends Daemon {
  swift?: SwiftServer;
}

interface Context {
  localDir: string;
  ports: ServicePorts;
  layout: SaioLayout;
  services: Service[];
  supervisor: DaemonSupervisor;
  log: (line: string) => void;
}

function context(options: ServicesOptions = {}): Context {
  const localDir = join(options.repoRoot ?? REPO_ROOT, '.local');
  const ports = options.ports ?? DEFAULT_PORTS;
  const layout = saioLayout(localDir, ports.swift, ports.memcached);
  return {
    localDir,
    ports,
    layout,
    services: serviceTable(localDir, ports, layout),
    supervisor: new DaemonSupervisor({ stateDir: localDir, lockName: 'services', readyTimeoutMs: options.readyTimeoutMs ?? 45_000 }),
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}

/** memcached, redis and the four Swift servers: their command lines, health checks and ownership tests. */
function serviceTable(localDir: string, ports: ServicePorts, layout: SaioLayout): Service[] {
  const memcachedArgs = ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', '-m', '64', '-c', '1024'];
  if (process.getuid?.() === 0) memcachedArgs.push('-u', 'root');
  const list: Service[] = [
    {
      name: 'memcached',
      port: ports.memcached,
      command: '/usr/bin/memcached',
      args: memcachedArgs,
      owns: (cmd) => cmd.includes('memcached') && cmd.includes(`-p\0${ports.memcached}\0`),
      healthy: () => tcpProbe(ports.memcached, 'version\r\n', 'VERSION'),
      adoptable: true,
      cmdlineNamesStateDir: false,
    },
    {
      name: 'redis',
      port: ports.redis,
      command: '/usr/bin/redis-server',
      args: [
        '--bind',
        '127.0.0.1',
        '--port',
        String(ports.redis),
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        join(localDir, 'redis'),
      ],
      // redis-server rewrites its process title to "redis-server 127.0.0.1:PORT".
      owns: (cmd) => cmd.includes('redis-server') && cmd.includes(`:${ports.redis}`),
      healthy: () => tcpProbe(ports.redis, 'PING\r\n', '+PONG'),
      adoptable: true,
      cmdlineNamesStateDir: false,
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
      // args[0] is our config file under `<repo>/.local/swift/`.
      owns: (cmd) => cmd.includes(args[0]),
      healthy: () => httpOk(healthUrl(layout, server)),
      adoptable: false,
      cmdlineNamesStateDir: true,
      swift: server,
    });
  }
  return list;
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
  writeFileSync(tmp, `${JSON.stringify(services, null, 2)}\n`);
  renameSync(tmp, file); // readers never see a half-written file
}

// ---------------------------------------------------------------- Swift usable

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
  const deadline = Date.now() + ctx.supervisor.readyTimeoutMs;
  for (;;) {
    const problem = await swiftAuthProblem(services);
    if (problem === null) return;
    if (Date.now() > deadline) throw new Error(`Swift is up but not usable: ${problem}`);
    await sleep(150);
  }
}

// ---------------------------------------------------------------- start

export interface StartResult {
  services: LocalServices;
  started: string[];
  kept: string[];
  external: string[];
  elapsedMs: number;
}

interface StartPlan {
  kept: string[];
  external: string[];
  toStart: Service[];
}

export async function startServices(options: ServicesOptions = {}): Promise<StartResult> {
  const t0 = Date.now();
  const ctx = context(options);
  const { supervisor } = ctx;
  for (const dir of [ctx.localDir, supervisor.runDir, supervisor.logDir, join(ctx.localDir, 'redis')]) mkdirSync(dir, { recursive: true });
  return supervisor.exclusive(async () => {
    if (ensureSwiftEtcConf().written) ctx.log('[services] wrote /etc/swift/swift.conf');
    const changedConfs = new Set(writeSaioConfigs(ctx.layout));
    const needRings = !ringsAreCurrent(ctx.layout);
    const { kept, external, toStart } = await planStart(ctx, (s) => s.swift !== undefined && (changedConfs.has(s.swift) || needRings));
    if (toStart.length > 0) await launch(ctx, toStart, needRings);
    const services = servicesDescription(ctx.ports);
    await waitSwiftReady(ctx, services);
    writeServicesFile(ctx, services);
    return { services, started: toStart.map((s) => s.name), kept, external, elapsedMs: Date.now() - t0 };
  });
}

/**
 * Sorts the services into kept (ours, healthy, config unchanged), external (a healthy foreign memcached or redis)
 * and to start; ours that are unhealthy or whose config changed are stopped first.
 */
async function planStart(ctx: Context, configChanged: (s: Service) => boolean): Promise<StartPlan> {
  const { supervisor } = ctx;
  const plan: StartPlan = { kept: [], external: [], toStart: [] };
  const checks = await Promise.all(
    ctx.services.map(async (s) => {
      let pid = supervisor.livePid(s);
      if (pid === null) {
        pid = supervisor.findOrphan(s);
        if (pid !== null) {
          ctx.log(`[services] ${s.name}: re-adopting pid ${pid} (its pid file was missing or stale)`);
          supervisor.recordPid(s, pid);
        }
      }
      const healthy = pid !== null && (await s.healthy());
      return { s, pid, healthy };
    }),
  );
  for (const { s, pid, healthy } of checks) {
    const changed = configChanged(s);
    if (pid !== null && healthy && !changed) {
      plan.kept.push(s.name);
      continue;
    }
    if (pid !== null) {
      ctx.log(`[services] restarting ${s.name} (pid ${pid}: ${healthy ? 'config changed' : 'unhealthy'})`);
      await killPid(pid);
    }
    supervisor.forgetPid(s);
    if (await portInUse(s.port)) {
      if (s.adoptable && (await s.healthy())) {
        plan.external.push(s.name);
        continue;
      }
      throw new ConfigError(
        `${s.name}: 127.0.0.1:${s.port} is in use by a process that is not ours (no matching pid file); stop it or free the port`,
      );
    }
    plan.toStart.push(s);
  }
  return plan;
}

/**
 * Everything but the proxy starts right away, while the rings are being built: only the proxy reads the rings at
 * start-up. Resolves once every started daemon is healthy.
 */
async function launch(ctx: Context, toStart: Service[], needRings: boolean): Promise<void> {
  const { supervisor } = ctx;
  const ringsReady = needRings ? buildRings(ctx.layout) : Promise.resolve();
  const waits: Promise<void>[] = [];
  for (const s of toStart.filter((x) => x.swift !== 'proxy')) waits.push(supervisor.waitHealthy(s, supervisor.spawn(s)));
  await ringsReady;
  for (const s of toStart.filter((x) => x.swift === 'proxy')) waits.push(supervisor.waitHealthy(s, supervisor.spawn(s)));
  await Promise.all(waits);
}

// ---------------------------------------------------------------- stop and status

export async function stopServices(options: ServicesOptions = {}): Promise<{ stopped: string[] }> {
  const ctx = context(options);
  const { supervisor } = ctx;
  if (!existsSync(ctx.localDir)) return { stopped: [] };
  return supervisor.exclusive(async () => {
    const stopped: string[] = [];
    // The proxy first, so nobody gets half a cluster; then the storage servers; then memcached and redis.
    const order = [...ctx.services].sort((a, b) => stopRank(a) - stopRank(b));
    rmSync(servicesFile(ctx), { force: true });
    for (const s of order) {
      const pid = supervisor.livePid(s);
      if (pid !== null) {
        await killPid(pid);
        stopped.push(s.name);
      }
      supervisor.forgetPid(s);
    }
    return { stopped };
  });
}

function stopRank(s: Service): number {
  if (s.swift === 'proxy') return 0;
  if (s.swift) return 1;
  return 2;
}

export async function servicesStatus(options: ServicesOptions = {}): Promise<{ daemons: DaemonStatus[]; swiftReady: string | null }> {
  const ctx = context(options);
  const daemons = await Promise.all(
    ctx.services.map(async (s): Promise<DaemonStatus> => {
      const pid = ctx.supervisor.livePid(s);
      const healthy = await s.healthy();
      let state: DaemonState;
      if (pid !== null) state = healthy ? 'running' : 'unhealthy';
      else state = healthy && s.adoptable ? 'external' : 'stopped';
      return { name: s.name, port: s.port, pid, state };
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
