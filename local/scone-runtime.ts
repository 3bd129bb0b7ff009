/**
 * LOCAL RUNS ONLY: what the SCONE runtime does to a program before its main runs, emulated from the documentation
 * (protocols.md §4; sconedocs SCONE_ENV, "Host Program Arguments and Environment Variables"):
 * - SCONE_MODE=HW: the enclave attests to the CAS at SCONE_CAS_ADDR for SCONE_CONFIG_ID, and the session service's
 *   command, pwd and environment REPLACE the process's. The program sees only the session's environment, after
 *   `$$SCONE::…$$` substitution (done by the emulated CAS) and `@@NAME` host-variable expansion (done here: the key
 *   `@@NAME` becomes NAME with the host's value; a `@@N` word of the command becomes the program's N-th host
 *   argument). Nothing else passes from the host: not REDIS_*, PATH or HOME.
 * - SIM (or AUTO without SGX, as here): the program runs with its own argv and environment.
 * Differences from the real runtime: attestation is emulated (local/emulated-attestation.ts) and proves nothing;
 * the FSPF is not applied; the image's paths are rooted (local/image-root.ts). Unknown, so refused here: an `@@NAME`
 * whose variable the host does not set (the docs' excerpt we read does not say what the session's value then does).
 */
import { attestWithEmulator, AttestationError } from './emulated-attestation.js';
import { rooted } from './image-root.js';

export type Env = Record<string, string | undefined>;

export interface RuntimeSettings {
  /** The image root (local/image-root.ts); the session's image paths are rooted under it. */
  root: string;
  /** The program as the image names it: `node` or an absolute path such as /usr/bin/ffmpeg. */
  program: string;
  /** PEM file of the emulated CAS's CA (HW). */
  caFile?: string;
  /** The MRENCLAVE the emulated enclave presents (HW). */
  mrenclave?: string;
  /** Properties of the emulated platform the session must tolerate, e.g. ['debug-mode'] (default none). */
  platform?: readonly string[];
}

export interface Launch {
  /** The real program to run: this node for `node`, else the host's binary of that path. */
  program: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

function defined(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const realProgram = (name: string) => (name === 'node' ? process.execPath : name);

/** `@@N` → the N-th host argument (documented: a missing one is fatal). */
function hostArgument(word: string, args: string[]): string {
  const position = /^@@([0-9]+)$/.exec(word);
  if (!position) return word;
  const value = args[Number(position[1]) - 1];
  if (value === undefined) throw new AttestationError(`the session's command takes host argument ${word}, which was not given`);
  return value;
}

export async function sconeLaunch(args: string[], hostEnv: Env, settings: RuntimeSettings): Promise<Launch> {
  if (hostEnv.SCONE_MODE !== 'HW') return { program: realProgram(settings.program), args, env: defined(hostEnv) };
  const configId = hostEnv.SCONE_CONFIG_ID;
  const casAddress = hostEnv.SCONE_CAS_ADDR;
  if (!configId || !casAddress) throw new AttestationError('SCONE_MODE=HW needs SCONE_CONFIG_ID and SCONE_CAS_ADDR');
  if (!settings.caFile || !settings.mrenclave) throw new AttestationError('the emulated runtime needs the CAS CA file and an MRENCLAVE');
  const service = await attestWithEmulator({
    configId,
    casAddress,
    caFile: settings.caFile,
    mrenclave: settings.mrenclave,
    platform: settings.platform,
  });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(service.environment)) {
    if (!name.startsWith('@@')) {
      env[name] = rooted(settings.root, value);
      continue;
    }
    const hostName = name.slice(2);
    const hostValue = hostEnv[hostName];
    if (hostValue === undefined) throw new AttestationError(`the session takes ${hostName} from the host, which does not set it`);
    env[hostName] = hostValue;
  }
  const [program, ...words] = service.command.split(/\s+/).filter(Boolean);
  if (program !== settings.program) throw new AttestationError(`the session's command runs ${program}, not ${settings.program}`);
  return {
    program: realProgram(program),
    args: words.map((word) => rooted(settings.root, hostArgument(word, args))),
    env,
    cwd: service.pwd === null ? undefined : rooted(settings.root, service.pwd),
  };
}
