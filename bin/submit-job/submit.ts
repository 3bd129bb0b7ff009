/**
 * What `submit-job` does once its inputs are checked (bin/submit-job/inputs.ts), in this order:
 *   1. pre-flight: the CAS answers its liveness probe (HW), Asperathos answers /healthz (--submissions-url);
 *   2. a new batch: key (`generateBatchKey`), id = container name = uuid4 hex;
 *   3. links: public-read containers (--public) or the account TempURL key (slot 2);
 *   4. every video sealed into `<container>/<uuid4 hex>.mp4` (`uploadSealed`, SLO segments in `<container>_segments`);
 *   5. `workload.txt`: one link per line, each ending with \n;
 *   6. HW: the Palaemon session holding the key (`ensureSession`);
 *   7. the job (`buildBatchJob`) written to a file or submitted.
 * A failure before anything is submitted removes the new containers (best effort), so a failed run leaves
 * nothing behind but, in HW mode, the session (harmless without the data). The key is never reported.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, constants, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WORKLOAD_OBJECT } from '#lib/contract.js';
import { JOB_WORKER_CMD } from '#lib/enclave-image/layout.js';
import { AsperathosError, type JobManager, type KubejobsJob } from '#lib/asperathos/index.js';
import { buildBatchJob, buildBatchSession, type SubmissionSettings } from '#lib/batch/job-spec.js';
import { MediaCheck } from '#lib/intake/media-check.js';
import { ensureSession, type SessionAuthority } from '#lib/palaemon/index.js';
import { generateBatchKey } from '#lib/seal/cipher.js';
import { segmentsContainerOf, uploadSealed } from '#lib/seal/sealed-upload.js';
import type { SwiftClient } from '#lib/swift/index.js';
import type { SubmitJobArgs } from './args.js';
import { MAX_VIDEO_BYTES, SubmitJobError, fsReason, type LocalVideo } from './inputs.js';

/** TempURLs are signed with the account's second key slot, like the batch function (lib/batch/wiring.ts). */
export const TEMPURL_KEY_SLOT = 2;
/** The job's cmd for the enclave image (lib/enclave-image/layout.ts); the batch function's default WORKER_CMD too. */
export const WORKER_CMD: readonly string[] = JOB_WORKER_CMD;

export interface SubmitJobDeps {
  swift: SwiftClient;
  /** HW mode. */
  sessions?: SessionAuthority;
  /** --submissions-url. */
  jobs?: JobManager;
  /** The HTTP status of the last answer the manager gave (0: none); tells a 5xx refusal from a lost request. */
  jobsLastStatus?: () => number;
  /** TEMPURL_KEY, when set. */
  tempUrlKey?: string;
  /** Progress lines (stderr). Never given the key. */
  report: (line: string) => void;
  now?: () => Date;
}

export interface SubmitJobPlan {
  args: SubmitJobArgs;
  videos: readonly LocalVideo[];
  settings: SubmissionSettings;
}

export interface SubmitJobResult {
  batchId: string;
  container: string;
  workloadUrl: string;
  items: number;
  /** --submissions-url */
  jobId?: string;
  jobUrl?: string;
  /** --generate-json-only */
  jsonPath?: string;
}

/** A failure after the containers were made; says whether they were removed. */
export class SubmitJobFailure extends SubmitJobError {}

/** Asperathos answered the submission with an error: no job was created. */
export class JobRefused extends SubmitJobError {}

/**
 * A 4xx (AsperathosError) or a 5xx answer (the client reports it as retryable; `lastStatus` is what the
 * manager answered) is a refusal carrying the manager's error_message. Anything else is not.
 */
function asRefusal(error: unknown, lastStatus: number): JobRefused | null {
  if (error instanceof AsperathosError) {
    const said = error.managerMessage ? `: ${error.managerMessage}` : '';
    return new JobRefused(`Asperathos refused the job: ${error.status}${error.errorName ? ` ${error.errorName}` : ''}${said}`);
  }
  if (lastStatus >= 500 && error instanceof Error) {
    const said = error.message.replace(/^Asperathos failed to submit job: \d{3}(?:: )?/, '');
    return new JobRefused(`Asperathos refused the job: ${lastStatus}${said ? `: ${said}` : ''}`);
  }
  return null;
}

/** Checks the output file's directory is writable before anything is uploaded. */
export async function checkJsonOutput(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new SubmitJobError(`cannot write ${path}: ${fsReason(error)}`);
  }
}

/** Writes the job JSON beside `path` and renames it into place; mode 0600 (in SIM mode it holds the key). */
async function writeJobJson(path: string, job: KubejobsJob): Promise<void> {
  const tmp = join(dirname(resolve(path)), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify(job, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new SubmitJobError(`cannot write ${path}: ${fsReason(error)}`);
  }
}

/** The account's slot-2 TempURL key, if one is set (a HEAD of the account). */
async function accountTempUrlKey(swift: SwiftClient): Promise<string | undefined> {
  const session = await swift.currentSession();
  const res = await fetch(session.storageUrl, {
    method: 'HEAD',
    headers: { 'X-Auth-Token': session.token },
    signal: AbortSignal.timeout(30_000),
  });
  await res.body?.cancel();
  if (res.status < 200 || res.status >= 300) return undefined;
  return res.headers.get('x-account-meta-temp-url-key-2') || undefined;
}

/**
 * The key to sign links with: TEMPURL_KEY (set into slot 2), else the account's existing slot-2 key (reused:
 * replacing it would break the links of jobs submitted earlier), else a new random one set into slot 2.
 */
async function tempUrlKey(deps: SubmitJobDeps): Promise<string> {
  if (deps.tempUrlKey) {
    await deps.swift.setAccountTempUrlKey(deps.tempUrlKey, { slot: TEMPURL_KEY_SLOT });
    return deps.tempUrlKey;
  }
  const existing = await accountTempUrlKey(deps.swift);
  if (existing) return existing;
  const fresh = randomBytes(32).toString('hex');
  await deps.swift.setAccountTempUrlKey(fresh, { slot: TEMPURL_KEY_SLOT });
  return fresh;
}

/** Deletes every object of the two containers, then the containers. Best effort: returns false if anything stayed. */
async function discardContainers(swift: SwiftClient, container: string): Promise<boolean> {
  let clean = true;
  for (const name of [container, segmentsContainerOf(container)]) {
    try {
      const objects: string[] = [];
      for await (const entry of swift.listAllObjects(name)) objects.push(entry.name);
      for (const object of objects) await swift.deleteObject(name, object, { ignoreMissing: true });
      await swift.deleteContainer(name, { ignoreMissing: true });
    } catch {
      clean = false;
    }
  }
  return clean;
}

async function preflight(plan: SubmitJobPlan, deps: SubmitJobDeps): Promise<void> {
  if (plan.args.mode.kind === 'HW') {
    deps.report('[INFO] Checking the CAS status...');
    await deps.sessions!.check();
  }
  if (plan.args.output.kind === 'submit') {
    deps.report('[INFO] Checking Asperathos...');
    if (!(await deps.jobs!.health())) {
      throw new SubmitJobError(
        `Asperathos at ${plan.args.output.submissionsUrl} is unreachable or unhealthy (GET /healthz did not answer "OK")`,
      );
    }
  }
}

export async function submitJob(plan: SubmitJobPlan, deps: SubmitJobDeps): Promise<SubmitJobResult> {
  const { args, videos, settings } = plan;
  const now = deps.now ?? (() => new Date());
  await preflight(plan, deps);

  const batchId = randomUUID().replace(/-/g, '');
  const container = batchId;
  const segments = segmentsContainerOf(container);
  const key = generateBatchKey();
  let containersMade = false;
  try {
    let linkKey: string | undefined;
    if (args.links.kind === 'tempurl') linkKey = await tempUrlKey(deps);
    deps.report(`[INFO] Creating container on Swift named '${container}'`);
    const publicRead = args.links.kind === 'public';
    containersMade = true;
    await deps.swift.createContainer(container, { publicRead });
    await deps.swift.createContainer(segments, { publicRead });

    const expiresAtSec = Math.floor(now().getTime() / 1000) + (args.links.kind === 'tempurl' ? args.links.ttlSecs : 0);
    const linkTo = (object: string) =>
      linkKey === undefined
        ? deps.swift.objectUrl(container, object)
        : deps.swift.tempUrl({ method: 'GET', container, object, expiresAtSec, key: linkKey, digest: 'sha256' });

    const lines: string[] = [];
    for (const video of videos) {
      const objectName = `${randomUUID().replace(/-/g, '')}.mp4`;
      deps.report(`[INFO] Encrypting and publishing '${video.name}' (as '${objectName}') on Swift`);
      try {
        await uploadSealed(
          deps.swift,
          { container, objectName },
          key,
          createReadStream(video.path),
          new MediaCheck(MAX_VIDEO_BYTES, ['mp4']),
          video.bytes,
        );
      } catch (error) {
        const why = (error as NodeJS.ErrnoException)?.syscall ? fsReason(error) : error instanceof Error ? error.message : String(error);
        throw new SubmitJobError(`sealing ${video.name} failed: ${why}`);
      }
      lines.push(`${await linkTo(objectName)}\n`);
    }
    await deps.swift.putObject(container, WORKLOAD_OBJECT, Buffer.from(lines.join('')), { contentType: 'text/plain' });
    const workloadUrl = await linkTo(WORKLOAD_OBJECT);
    deps.report(`[INFO] Workload: ${lines.length} video${lines.length === 1 ? '' : 's'} in ${WORKLOAD_OBJECT} of container '${container}'`);

    if (args.mode.kind === 'HW') {
      deps.report(`[INFO] Creating the Palaemon session '${batchId}'`);
      await ensureSession(deps.sessions!, buildBatchSession(batchId, key, settings));
    }
    const job = buildBatchJob(batchId, workloadUrl, key, settings);
    const result: SubmitJobResult = { batchId, container, workloadUrl, items: lines.length };
    if (args.output.kind === 'json') {
      await writeJobJson(args.output.path, job);
      deps.report(`[INFO] '${args.output.path}' generated successfully.`);
      return { ...result, jsonPath: args.output.path };
    }
    deps.report('[INFO] Submitting the job to Asperathos');
    let jobId: string;
    try {
      ({ jobId } = await deps.jobs!.submit(job));
    } catch (error) {
      const refusal = asRefusal(error, deps.jobsLastStatus?.() ?? 0);
      if (refusal) throw refusal; // the manager answered with an error: no job exists; the containers go below
      // Unreachable or timed out: the job may exist, so its data stays.
      containersMade = false;
      const message = error instanceof Error ? error.message : String(error);
      throw new SubmitJobFailure(
        `${message}; the job may or may not exist: check ${args.output.submissionsUrl} before resubmitting (the sealed videos stay in container '${container}')`,
      );
    }
    return { ...result, jobId, jobUrl: `${args.output.submissionsUrl.replace(/\/+$/, '')}/${jobId}` };
  } catch (error) {
    if (!containersMade) throw error;
    const removed = await discardContainers(deps.swift, container);
    const message = error instanceof Error ? error.message : String(error);
    throw new SubmitJobFailure(
      `${message}; nothing was submitted${removed ? ` and container '${container}' was removed` : `; remove the containers '${container}' and '${segments}' by hand`}`,
    );
  } finally {
    key.fill(0);
  }
}
