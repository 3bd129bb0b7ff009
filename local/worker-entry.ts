/**
 * LOCAL RUNS ONLY: the enclave worker as the local stack's Asperathos emulator starts it
 * (`node --import tsx local/worker-entry.ts`), with what the image's start-up path would do played in process:
 * 1. /entrypoint.sh: the pod-provided names (REDIS_HOST, ...) are written to `<root>/env/<NAME>`;
 * 2. the SCONE runtime (local/scone-runtime.ts): in HW mode, emulated attestation, and the session's environment
 *    replaces the process's (image paths rooted under a fresh temporary image root);
 * 3. the worker's `main(argv, env)` (enclave/worker.ts) with that environment.
 * The emulated runtime's inputs come from LOCAL_CAS_CA_FILE and LOCAL_EMULATED_MRENCLAVE. The worker's code still
 * shares this process with its host environment (process.env); test/integration/enclave-startup.test.ts runs the
 * bundle in its own process instead. The session's command is not run: this runs the TypeScript worker.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '#enclave/worker.js';
import { IMAGE_ENV_DIR, IMAGE_SPOOL_DIR, POD_ENV_NAMES } from '#lib/enclave-image/layout.js';
import { rooted } from './image-root.js';
import { sconeLaunch } from './scone-runtime.js';

const root = await mkdtemp(join(tmpdir(), 'worker-image-'));
let code = 1;
try {
  await mkdir(rooted(root, IMAGE_ENV_DIR), { recursive: true, mode: 0o700 });
  await mkdir(rooted(root, IMAGE_SPOOL_DIR), { recursive: true, mode: 0o700 });
  for (const name of POD_ENV_NAMES) {
    const value = process.env[name];
    if (value) await writeFile(join(rooted(root, IMAGE_ENV_DIR), name), `${value}\n`);
  }
  const launch = await sconeLaunch(process.argv.slice(2), process.env, {
    root,
    program: 'node',
    caFile: process.env.LOCAL_CAS_CA_FILE,
    mrenclave: process.env.LOCAL_EMULATED_MRENCLAVE,
  });
  code = await main(process.env.SCONE_MODE === 'HW' ? [] : launch.args, launch.env);
} catch (error) {
  process.stderr.write(`worker-entry: ${(error as Error).message}\n`);
} finally {
  await rm(root, { recursive: true, force: true });
}
process.exit(code);
