/**
 * A loopback Orthanc, as the tests and `npm start` run it: Debian's Orthanc 1.10 with its DICOMweb plugin,
 * configured from ../shared/pacs/orthanc.json.in. Orthanc 1.10 always listens on 0.0.0.0, so it runs in a
 * network namespace of its own that has only `lo` (and a PID namespace, so it ends with whatever started it).
 * Its REST API is driven one connection per call (see `orthancRest`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, SHARED_DIR } from './service-endpoints.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const ORTHANC_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const ORTHANC_HTTP_PORT = 8042;
const ORTHANC_ADMIN = `Basic ${Buffer.from('pacsadmin:pacsadmin').toString('base64')}`;
const NAMESPACE_FLAGS = ['--net', '--pid', '--fork', '--kill-child'];

/** Why a loopback Orthanc cannot run on this machine, in a few words; undefined when it can. */
export function orthancUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (unshare --net needs it)';
  if (!existsSync(ORTHANC_BINARY) || !existsSync(ORTHANC_DICOMWEB_PLUGIN))
    return 'Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)';
  try {
    execFileSync('unshare', [...NAMESPACE_FLAGS, 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  } catch {
    return 'unshare --net is not permitted here';
  }
  return undefined;
}

/** `unshare` arguments that run `command` (a shell word list, `"$@"` for `args`) with only `lo`, up, and its own PIDs. */
export function loopbackNamespaceArgs(command: string, args: string[]): string[] {
  return [...NAMESPACE_FLAGS, 'sh', '-c', `ip link set lo up && exec ${command}`, 'namespace', ...args];
}

export interface OrthancAnswer {
  status: number;
  /** the parsed JSON, or the text when it is not JSON */
  body: unknown;
}

/** What POST /instances answers for an instance it stored. */
export interface OrthancStoredInstance {
  ID: string;
  ParentStudy: string;
  Status: string;
}

/** A job, as GET /jobs/{id} and each entry of GET /jobs?expand describe it. */
export interface OrthancJob {
  ID: string;
  Type: string;
  State: string;
  ErrorCode: number;
}

export type OrthancRest = (method: string, path: string, body?: unknown) => Promise<OrthancAnswer>;

/**
 * Orthanc's REST API as its admin, over a fresh connection per call (`agent: false`, `Connection: close`):
 * never a kept-alive socket Orthanc may already have closed. A call that fails says which call it was.
 * `at`: the TCP port inside Orthanc's namespace, or a Unix socket bridged to it from outside.
 */
export function orthancRest(
  at: { port: number } | { socketPath: string } = { port: ORTHANC_HTTP_PORT },
  options: { timeoutMs?: number } = {},
): OrthancRest {
  return async (method, path, body) => {
    const payload = body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    const where = 'socketPath' in at ? { socketPath: at.socketPath } : { host: '127.0.0.1', port: at.port };
    let answer: { status: number; text: string };
    try {
      answer = await new Promise((resolve, reject) => {
        const req = httpRequest({
          ...where,
          path,
          method,
          agent: false,
          timeout: options.timeoutMs ?? 120_000,
          headers: {
            authorization: ORTHANC_ADMIN,
            connection: 'close',
            ...(body instanceof Uint8Array ? { 'content-type': 'application/dicom' } : {}),
            ...(payload ? { 'content-length': payload.length } : {}),
          },
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('no answer in time')));
        req.on('error', reject);
        req.end(payload);
      });
    } catch (error) {
      throw new Error(`Orthanc ${method} ${path}: ${(error as Error).message}`, { cause: error });
    }
    let parsed: unknown = answer.text;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      // not JSON: the text as it is
    }
    return { status: answer.status, body: parsed };
  };
}

/**
 * Job threads. Orthanc's default is 2, and with it a synchronous job (`"Synchronous": true`, e.g. a STOW-RS or
 * peer store) fails at random: the DICOMweb plugin 1.7 polls its job after 100 ms and takes any state but
 * Running or Success for a failure, so a job still Pending (every thread busy, e.g. with the STOW jobs Lua's
 * OnStableStudy queues) raises an error whose code is Success, and Orthanc then drops the HTTP connection
 * without an answer ("socket hang up"). With more threads than jobs can ever run at once here, none waits.
 */
export const ORTHANC_CONCURRENT_JOBS = 16;

/** ../shared/pacs/orthanc.json.in for a working directory (`<workdir>/orthanc` holds its database), then `changes` on top. */
export function orthancConfig(workdir: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const template = readFileSync(join(SHARED_DIR, 'pacs', 'orthanc.json.in'), 'utf8')
    .replaceAll('@WORK@', join(workdir, 'orthanc'))
    .replaceAll('@HERE@', join(SHARED_DIR, 'pacs'));
  return { ...(JSON.parse(template) as Record<string, unknown>), ConcurrentJobs: ORTHANC_CONCURRENT_JOBS, ...changes };
}

export interface RunningOrthanc {
  child: ChildProcess;
  rest: OrthancRest;
  logPath: string;
  stop(): Promise<void>;
}

/**
 * Starts Orthanc (inside its namespace) with `config`, logging to `<workdir>/orthanc.log`, and resolves once its
 * REST API answers. Fails with the log's tail if Orthanc exits or does not answer within 30 s.
 */
export async function launchOrthanc(workdir: string, config: Record<string, unknown>): Promise<RunningOrthanc> {
  mkdirSync(join(workdir, 'orthanc'), { recursive: true });
  const configPath = join(workdir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const logPath = join(workdir, 'orthanc.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(ORTHANC_BINARY, [configPath], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited: string | undefined;
  const ended = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited (${signal ?? code})`;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await ended;
  };
  const rest = orthancRest({ port: Number(config.HttpPort ?? ORTHANC_HTTP_PORT) }, { timeoutMs: 5_000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await rest('GET', '/system').then(
      (answer) => answer.status === 200,
      () => false,
    );
    if (ready) break;
    if (exited || Date.now() > deadline) {
      await stop();
      const tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join(' | ');
      throw new Error(`Orthanc ${exited ?? 'did not answer within 30 s'}: ${tail}`);
    }
    await sleep(100);
  }
  return { child, rest: orthancRest({ port: Number(config.HttpPort ?? ORTHANC_HTTP_PORT) }), logPath, stop };
}

type Endpoint = { host: string; port: number } | { path: string };

/** Listens on `listen` and pipes every connection both ways to a fresh connection to `target`. */
export async function bridge(listen: Endpoint, target: Endpoint): Promise<Server> {
  const server = createServer((inbound) => {
    const outbound = connect(target);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  return server;
}

export interface LoopbackOrthanc {
  rest: OrthancRest;
  /** Orthanc's working directory: its configuration, log and database (PHI: removed by `close`). */
  workdir: string;
  logPath: string;
  close(): Promise<void>;
}

/**
 * Orthanc in a namespace of its own for a caller outside it (`npm start`): the namespace runs
 * local/orthanc-namespace.ts, which bridges the hook's port inside to `hook` outside, and Orthanc's REST API to a
 * Unix socket the returned `rest` talks to. `hookPortInside` is where `config` sends Orthanc's exports.
 */
export async function startLoopbackOrthanc(options: {
  workdir: string;
  config: Record<string, unknown>;
  hookPortInside: number;
  hook: { host: string; port: number };
}): Promise<LoopbackOrthanc> {
  const { workdir } = options;
  mkdirSync(workdir, { recursive: true, mode: 0o700 });
  writeFileSync(join(workdir, 'orthanc.json'), JSON.stringify(options.config, null, 2));
  const hookBridge = await bridge({ path: join(workdir, 'hook.sock') }, options.hook);
  const child = spawn(
    'unshare',
    loopbackNamespaceArgs('"$@"', [
      process.execPath,
      '--import',
      'tsx',
      join('local', 'orthanc-namespace.ts'),
      workdir,
      String(options.hookPortInside),
    ]),
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const close = async () => {
    child.kill('SIGKILL'); // unshare ignores SIGTERM while it waits; its child, the namespace's first process, then gets SIGKILL and takes Orthanc with it
    await exited;
    await new Promise<void>((resolve) => hookBridge.close(() => resolve()));
    rmSync(workdir, { recursive: true, force: true });
  };
  const first = await new Promise<Record<string, unknown>>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve({ error: 'no answer within 60 s' }), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as Record<string, unknown>);
      } catch {
        resolve({ error: out.trim().slice(0, 300) });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve({ error: `its namespace ended: ${stderr.trim().split('\n').pop() ?? ''}` });
    });
  });
  if (first.ready !== true) {
    await close();
    throw new Error(`Orthanc could not start: ${String(first.error)}`);
  }
  return { rest: orthancRest({ socketPath: join(workdir, 'orthanc.sock') }), workdir, logPath: join(workdir, 'orthanc.log'), close };
}
