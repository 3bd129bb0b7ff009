/**
 * Where the enclave image (enclave/Dockerfile) puts things, and what the job and the Palaemon session must say so
 * that the worker starts in it. test/unit/enclave/packaging.test.ts checks the Dockerfile, fspf.sh, entrypoint.sh and
 * the session template against these values; test/integration/enclave-startup.test.ts starts the real start-up path.
 *
 * Start-up, as kubejobs and SCONE run it:
 * 1. kubejobs creates the pod with `command = plugin_info.cmd`, which REPLACES the image's ENTRYPOINT, and the
 *    environment `env_vars` plus `REDIS_HOST=redis-<app_id>` (plus the image's ENV).
 * 2. So the job's cmd is the entry point itself: it runs natively, writes the pod-provided names to /env/<NAME>,
 *    then execs `node /app/worker.mjs`.
 * 3. SIM: node runs with that environment. HW: the SCONE runtime in node attests to the CAS (SCONE_CONFIG_ID) and
 *    the session's command and environment REPLACE the process's; REDIS_HOST (known only after submission, so not in
 *    the session) is read from /env/REDIS_HOST, which the session's WORKER_ENV_FILES explicitly allows.
 */

export const IMAGE_ENTRYPOINT = '/entrypoint.sh';
export const IMAGE_APP_DIR = '/app';
export const IMAGE_WORKER_BUNDLE = '/app/worker.mjs';
export const IMAGE_ENV_DIR = '/env';
export const IMAGE_SPOOL_DIR = '/spool';
export const IMAGE_FSPF_PATH = '/fspf.pb';
/** The sconified ffmpeg the Dockerfile copies in. */
export const IMAGE_FFMPEG = '/usr/bin/ffmpeg';

/** The job's `cmd` (plugin_info.cmd): the entry point, because kubejobs' command overrides ENTRYPOINT. */
export const JOB_WORKER_CMD: readonly string[] = Object.freeze([IMAGE_ENTRYPOINT]);

/** The session's `command` (HW): the program SCONE attests, as the entry point execs it. */
export const SESSION_WORKER_COMMAND = `node ${IMAGE_WORKER_BUNDLE}`;

/** The non-secret names the pod provides and the entry point copies to /env: the only names the worker may read
 *  from files (/env lies outside the protected FSPF regions, so anything there may have been planted by the host). */
export const POD_ENV_NAMES: readonly string[] = Object.freeze(['REDIS_HOST', 'REDIS_PORT', 'REDIS_DB', 'REDIS_QUEUE']);

/**
 * What the session's environment carries besides the worker's own settings:
 * - SCONE_ALLOW_DLOPEN and SCONE_FORK: the runtime of an attested program takes these from the policy (sconedocs
 *   SCONE_ENV; fork/exec of the ffmpeg child needs SCONE_FORK, see enclave/README.md);
 * - the file fallback, explicit: directory and allow-list (default "any" would let host files fill any gap);
 * - the spool in the encrypted FSPF region.
 * SCONE_HEAP/SCONE_STACK are NOT here: they size the enclave before attestation, so they belong to the host
 * environment (the job's env_vars), and must equal the values MRENCLAVE was computed with.
 */
export const SESSION_WORKER_ENV: Readonly<Record<string, string>> = Object.freeze({
  SCONE_ALLOW_DLOPEN: '1',
  SCONE_FORK: '1',
  WORKER_ENV_DIR: IMAGE_ENV_DIR,
  WORKER_ENV_FILES: POD_ENV_NAMES.join(','),
  SPOOL_DIR: IMAGE_SPOOL_DIR,
});

/**
 * HW, when config.json gives two MRENCLAVEs (node, then the sconified ffmpeg): ffmpeg is its own session service.
 * The worker execs it with the input file as its only argument; SCONE replaces the argv with this command, taking
 * the file from host argument @@1 (sconedocs "Host Program Arguments"), so the host chooses no flag. It must equal
 * enclave/decode.ts ffmpegArgs('@@1') (test/unit/enclave/packaging.test.ts).
 */
export const FFMPEG_SERVICE_NAME = 'ffmpeg';
export const FFMPEG_SESSION_COMMAND = `${IMAGE_FFMPEG} -v info -nostats -hide_banner -nostdin -i @@1 -map 0:v:0 -f rawvideo -pix_fmt bgr24 -`;
/** The ffmpeg service's own environment (policy settings: its shared libraries are loaded at run time). */
export const FFMPEG_SESSION_ENV: Readonly<Record<string, string>> = Object.freeze({ SCONE_ALLOW_DLOPEN: '1' });

export interface FfmpegChildInput {
  sessionName: string;
  /** SCONE_CAS_ADDR: the CAS's attestation address. */
  casAttestationAddress: string;
  lasAddress: string;
  /** Host settings the ffmpeg MRENCLAVE was computed with (build-image.sh). */
  heap: string;
  stack: string;
}

/** What the worker gives the ffmpeg child as host environment (enclave/worker-config.ts FFMPEG_SCONE_*): in HW the
 *  worker sees only the session's environment, so the child's config id, addresses and heap must be in it. */
export function ffmpegChildEnvironment(input: FfmpegChildInput): Record<string, string> {
  return {
    FFMPEG_PATH: IMAGE_FFMPEG,
    FFMPEG_SCONE_CONFIG_ID: `${input.sessionName}/${FFMPEG_SERVICE_NAME}`,
    FFMPEG_SCONE_CAS_ADDR: input.casAttestationAddress,
    FFMPEG_SCONE_LAS_ADDR: input.lasAddress,
    FFMPEG_SCONE_MODE: 'HW',
    FFMPEG_SCONE_HEAP: input.heap,
    FFMPEG_SCONE_STACK: input.stack,
  };
}
