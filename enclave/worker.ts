/**
 * The enclave worker: run by Asperathos (kubejobs) inside a SCONE enclave, one process per pod.
 *
 *   node --import tsx enclave/worker.ts          (development)
 *   node /app/worker.mjs                         (the bundled image, see enclave/build.ts and enclave/README.md)
 *
 * Loop (protocols.md §6, queue in ./queue.ts): stop requested → exit 0. Lease an item (BRPOPLPUSH, SETEX);
 * none within QUEUE_POLL_SECS → move expired leases back, and exit 0 when the main and processing lists are both
 * empty. Otherwise process it, renewing its lease every ITEM_LEASE_SECS/3, and complete it.
 *
 * One item (a sealed clip's URL, TempURL or public):
 * 1. download it with fetch (only a 200 is content: a 403/404 is the item's failure `http_403`/`http_404`; 5xx,
 *    429 and network errors before the body are retried twice);
 * 2. decrypt it while it streams (AES-128-GCM, ENCRYPTION_KEY) into a private spool file (0600 in a fresh 0700
 *    directory under SPOOL_DIR, /dev/shm by default; in the SCONE image an encrypted FSPF region). The tag is only
 *    known at the end, so nothing is analysed before it verifies: a mismatch is `authentication_failed` and the
 *    unauthenticated plaintext is deleted unread;
 * 3. analyse it (enclave/analyze-clip.ts, anonymise on), zipping each anonymised frame as `<index>.png`;
 * 4. upload `<id>.zip`, then `<id>.json`, to `<JOB_NAME>-results` (enclave/results.ts), the container created if
 *    missing; Swift 5xx/network errors are retried SWIFT_ATTEMPTS times (with backoff) by the Swift client;
 * 5. complete the lease.
 *
 * A failed item is pushed to `<queue>:errors` (its bytes, as the original; Asperathos' `/errors` lists them), its
 * reason is set in the hash `<queue>:error_reasons` (item → reason), `<id>.error.json` is written to the results
 * container when possible, and the lease is completed. Reasons: `invalid_url`, `http_<status>`, `download_failed`,
 * `download_timeout`, `too_short`, `authentication_failed`, the DecodeError reasons (`empty`, `not_a_video`,
 * `no_frames`, `decode_failed`, `timeout`), `analysis_failed`, `upload_failed`.
 * Fatal (exit 1, the item stays leased and is re-leased after its lease expires): Redis unreachable, ffmpeg missing.
 * Config errors exit 2. SIGTERM/SIGINT: finish the current item, then exit 0.
 *
 * Logs: JSON lines with the item id (the sealed object's uuid name), never the URL (a TempURL's signature is a
 * secret), the key or Swift credentials.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { analyzeClip, type ClipAnalysis } from './analyze-clip.js';
import { DecodeError } from './decode.js';
import { LeaseQueue, queueKeys } from './queue.js';
import { analysisJson, FrameZip, ItemFailure, ResultsUploader } from './results.js';
import { DEFAULT_ENV_DIR, loadWorkerConfig, parseFileNames, type WorkerConfig } from './worker-config.js';
import { itemIdOfUrl } from '#lib/contract.js';
import { ConfigError, RadiomicsError, RejectedInput } from '#lib/errors.js';
import { createLogger, errorFields, shortHash, type Logger } from '#lib/log.js';
import { createUnsealStream, UnsealError } from '#lib/seal/cipher.js';
import { isSwiftFailure, SwiftClient, type SwiftStore } from '#lib/swift/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const USAGE = `usage: worker [-h|--help]
Leases sealed clip URLs from the Redis queue, decrypts, analyses and uploads results to Swift; exits 0 when the
queue and the processing list are empty (or on stop). Configured by environment, each variable falling back to the
file /env/<NAME> (directory: WORKER_ENV_DIR; only the names in WORKER_ENV_FILES=A,B if set):
  REDIS_HOST (required), REDIS_PORT=6379, REDIS_DB=0, REDIS_QUEUE=job, REDIS_STOP_KEY=stop,
  ITEM_LEASE_SECS=15, QUEUE_POLL_SECS=2, ENCRYPTION_KEY (required, base64 of 16 bytes),
  JOB_NAME (required; results container <JOB_NAME>-results), OS_* (Keystone v3) or ST_AUTH/ST_USER/ST_KEY,
  SPOOL_DIR=/dev/shm, DOWNLOAD_TIMEOUT_SECS=60, SWIFT_ATTEMPTS=5, LOG_LEVEL=info
Exit codes: 0 done or stopped, 1 fatal (Redis unreachable, ffmpeg missing), 2 configuration or usage.`;

export interface WorkerDeps {
  redis: Redis;
  swift: SwiftStore;
  log: Logger;
  fetch?: typeof globalThis.fetch;
  /** When aborted, the worker finishes the current item and returns (stopped: true). */
  signal?: AbortSignal;
  /** The lease value; default a random uuid4 (the original's session id). */
  session?: string;
  analyze?: typeof analyzeClip;
}

export interface WorkerReport {
  session: string;
  done: number;
  failed: number;
  /** true when a stop (stop list or signal) ended the loop rather than an empty queue */
  stopped: boolean;
}

/** A worker-level failure: the process must exit non-zero, leaving the item leased. */
export class FatalWorkerError extends RadiomicsError {
  override readonly name = 'FatalWorkerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(500, 'worker_failed', message, options);
  }
}

const DOWNLOAD_ATTEMPTS = 3;

/** An AbortController that fires when `touch()` was not called for `ms`. */
class IdleTimeout {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  fired = false;
  constructor(private readonly ms: number) {
    this.touch();
  }
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error('idle timeout'));
    }, this.ms);
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * Streams the sealed object at `url` through the unseal transform into `outFile` (0600). Resolves only once the
 * GCM tag verified; otherwise rejects (UnsealError or ItemFailure) and the caller deletes the file unread.
 */
export async function downloadAndUnseal(
  url: string,
  key: Uint8Array,
  outFile: string,
  options: { fetch: typeof globalThis.fetch; idleTimeoutMs: number; retryDelayMs?: number },
): Promise<{ sealedBytes: number }> {
  let response: Response | undefined;
  let idle: IdleTimeout | undefined;
  for (let attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
    idle = new IdleTimeout(options.idleTimeoutMs);
    const last = attempt === DOWNLOAD_ATTEMPTS;
    let res: Response;
    try {
      res = await options.fetch(url, { signal: idle.controller.signal, redirect: 'follow', headers: { 'Accept-Encoding': 'identity' } });
    } catch {
      idle.clear();
      if (last) throw new ItemFailure(idle.fired ? 'download_timeout' : 'download_failed', 'the item could not be downloaded');
      await sleep((options.retryDelayMs ?? 500) * attempt);
      continue;
    }
    if (res.status === 200 && res.body) {
      response = res;
      break;
    }
    idle.clear();
    await res.body?.cancel().catch(() => undefined);
    const transient = res.status >= 500 || res.status === 429;
    if (!transient || last) throw new ItemFailure(`http_${res.status}`, `the item download answered ${res.status}`);
    await sleep((options.retryDelayMs ?? 500) * attempt);
  }
  if (!response?.body || !idle) throw new ItemFailure('download_failed', 'the item could not be downloaded');
  const timer = idle;
  let sealedBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      timer.touch();
      sealedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      counter,
      createUnsealStream(key),
      createWriteStream(outFile, { flags: 'wx', mode: 0o600 }),
    );
  } catch (error) {
    if (error instanceof UnsealError) throw error;
    if (timer.fired) throw new ItemFailure('download_timeout', 'the item download stalled');
    throw new ItemFailure('download_failed', 'the item download failed mid-way');
  } finally {
    timer.clear();
  }
  return { sealedBytes };
}

type ItemOutcome =
  | { ok: true; itemId: string; analysis: ClipAnalysis; zipBytes: number }
  | { ok: false; itemId: string | null; reason: string };

/** The reason an item failed, or a FatalWorkerError to rethrow. */
function failureReason(error: unknown, phase: 'download' | 'analysis' | 'upload'): string | FatalWorkerError {
  if (error instanceof DecodeError && error.reason === 'ffmpeg_unavailable')
    return new FatalWorkerError(`ffmpeg is unavailable: ${error.message}`);
  if (error instanceof RejectedInput) return error.reason;
  if (phase === 'upload' || isSwiftFailure(error)) return 'upload_failed';
  return phase === 'download' ? 'download_failed' : 'analysis_failed';
}

async function processItem(
  item: Buffer,
  config: WorkerConfig,
  deps: Required<Pick<WorkerDeps, 'fetch' | 'analyze'>> & { uploader: ResultsUploader; log: Logger },
): Promise<ItemOutcome> {
  const url = item.toString('utf8').trim();
  let itemId: string;
  try {
    itemId = itemIdOfUrl(url);
  } catch (error) {
    return { ok: false, itemId: null, reason: error instanceof RejectedInput ? error.reason : 'invalid_url' };
  }
  const dir = await mkdtemp(join(config.spoolDir, 'radiomics-item-'));
  let phase: 'download' | 'analysis' | 'upload' = 'download';
  try {
    const clip = join(dir, 'clip');
    await downloadAndUnseal(url, config.encryptionKey, clip, { fetch: deps.fetch, idleTimeoutMs: config.downloadTimeoutMs });
    phase = 'analysis';
    const zip = new FrameZip();
    const analysis = await deps.analyze(clip, {
      anonymise: true,
      onFrame: (frame) => {
        if (frame.png) zip.addFrame(frame.index, frame.png);
      },
      decode: { spoolDir: config.spoolDir, ...(config.ffmpegScone ? { attested: { env: config.ffmpegScone } } : {}) },
    });
    const zipBytes = await zip.finish();
    await rm(dir, { recursive: true, force: true });
    phase = 'upload';
    await deps.uploader.upload(itemId, zipBytes, analysisJson(itemId, analysis));
    return { ok: true, itemId, analysis, zipBytes: zipBytes.length };
  } catch (error) {
    const reason = failureReason(error, phase);
    if (reason instanceof FatalWorkerError) throw reason;
    deps.log.debug('item error detail', { item_id: itemId, phase, ...errorFields(error) });
    return { ok: false, itemId, reason };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lease loop. Resolves when the queue is drained or a stop was requested; rejects on a fatal error. */
export async function runWorker(config: WorkerConfig, deps: WorkerDeps): Promise<WorkerReport> {
  const session = deps.session ?? randomUUID();
  const log = deps.log.child({ session });
  const queue = new LeaseQueue(deps.redis, queueKeys(config.redis.queue, config.redis.stopKey), session);
  const uploader = new ResultsUploader(deps.swift, config.resultsContainer);
  const itemDeps = { fetch: deps.fetch ?? globalThis.fetch, analyze: deps.analyze ?? analyzeClip, uploader, log };
  const report: WorkerReport = { session, done: 0, failed: 0, stopped: false };
  const renewEveryMs = Math.max(200, (config.itemLeaseSecs * 1000) / 3);
  const cpuAtStart = process.cpuUsage();
  log.info('worker started', { queue: config.redis.queue, lease_secs: config.itemLeaseSecs });

  for (;;) {
    if (deps.signal?.aborted || (await queue.stopRequested())) {
      report.stopped = true;
      log.info('stop requested: not leasing more items');
      break;
    }
    const item = await queue.lease(config.itemLeaseSecs, config.queuePollSecs);
    if (item === null) {
      const moved = await queue.requeueExpired();
      if (moved > 0) log.info('expired leases returned to the queue', { items: moved });
      if (await queue.isEmpty()) break;
      continue;
    }

    const started = performance.now();
    let leaseLost = false;
    let renewal: Promise<unknown> = Promise.resolve();
    const renewTimer = setInterval(() => {
      renewal = queue.renew(item, config.itemLeaseSecs).then(
        (held) => {
          if (!held && !leaseLost) {
            leaseLost = true;
            log.warn('lease lost while processing (expired or taken over); results will be overwritten harmlessly', {
              item_hash: shortHash(item.toString('utf8')),
            });
          }
        },
        (error: unknown) => log.warn('lease renewal failed', errorFields(error)),
      );
    }, renewEveryMs);
    let outcome: ItemOutcome;
    try {
      outcome = await processItem(item, config, itemDeps);
    } finally {
      clearInterval(renewTimer);
      await renewal;
    }
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    if (outcome.ok) {
      await queue.complete(item);
      report.done++;
      const { analysis } = outcome;
      log.info('item done', {
        item_id: outcome.itemId,
        result: analysis.result,
        frames: analysis.frames,
        zip_bytes: outcome.zipBytes,
        seconds,
      });
    } else {
      const { itemId, reason } = outcome;
      if (itemId !== null) await uploader.uploadError(itemId, reason).catch(() => undefined);
      await queue.fail(item, reason);
      report.failed++;
      log.warn('item failed', {
        item_id: itemId,
        item_hash: itemId === null ? shortHash(item.toString('utf8')) : undefined,
        reason,
        seconds,
      });
    }
  }
  const cpu = process.cpuUsage(cpuAtStart);
  log.info('worker finished', {
    done: report.done,
    failed: report.failed,
    stopped: report.stopped,
    cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  });
  return report;
}

/** The process entry: parses argv and the environment, wires Redis and Swift, maps the outcome to an exit code. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`worker: unexpected arguments\n${USAGE}\n`);
    return 2;
  }
  const bootLog = createLogger({ component: 'enclave-worker' });
  let config: Readonly<WorkerConfig>;
  try {
    config = loadWorkerConfig(env, { envDir: env.WORKER_ENV_DIR || DEFAULT_ENV_DIR, fileNames: parseFileNames(env.WORKER_ENV_FILES) });
  } catch (error) {
    if (error instanceof ConfigError) {
      bootLog.error('invalid configuration', { error_message: error.message });
      return 2;
    }
    throw error;
  }
  const log = createLogger({ component: 'enclave-worker', job: config.jobName }, { level: config.logLevel });
  const redis = new Redis({
    host: config.redis.host,
    port: config.redis.port,
    db: config.redis.db,
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 3,
    // give up after ~10 s of failed reconnects: the worker then exits 1 and Kubernetes restarts it
    retryStrategy: (times) => (times > 10 ? null : Math.min(times * 200, 2000)),
  });
  let lastRedisError = '';
  redis.on('error', (error: Error) => {
    if (error.message !== lastRedisError) log.warn('redis connection error', errorFields(error));
    lastRedisError = error.message;
  });
  const swift = new SwiftClient({ auth: config.swiftAuth, retry: { attempts: config.swiftAttempts }, logger: log });
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    log.info('signal received: finishing the current item', { signal });
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    await redis.connect();
    await runWorker(config, { redis, swift, log, signal: stop.signal });
    await redis.quit().catch(() => undefined);
    return 0;
  } catch (error) {
    log.error('worker failed', errorFields(error));
    redis.disconnect();
    return 1;
  }
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) {
  const code = await main(process.argv.slice(2), process.env);
  process.exit(code);
}
