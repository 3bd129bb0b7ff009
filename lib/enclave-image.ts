/**
 * Where the enclave image (enclave/Dockerfile) puts things, and what the job and the Palaemon session must say so
 * that the worker starts in it. test/unit/enclave-packaging.test.ts checks the Dockerfile, fspf.sh, entrypoint.sh and
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
