/**
 * LOCAL RUNS ONLY: the enclave image's file system, laid out under a temporary directory (the "image root") as the
 * Dockerfile's `base` and `image` stages build it, because there is no Docker here.
 *
 * One documented rule maps the image's paths into it: an absolute path in one of the image's own locations
 * (IMAGE_PATHS: /app, /env, /spool, /fspf.pb, /entrypoint.sh) is read as `<root><path>`. It is applied to the
 * copied entry point, to the image's ENV values, and by the emulated SCONE runtime (local/scone-runtime.ts) to the
 * session's command, pwd and environment. Every other path is the host's: /dev/shm, /tmp.
 *
 * Not laid out: the FSPF (`/fspf.pb`, `/keytag`: no SCONE here, so no file-system protection is emulated). The
 * sconified programs are shims that run the emulated SCONE runtime before the real program (local/scone-program.ts):
 * `node` on the image's PATH (the curated image's node), and `/usr/bin/ffmpeg` (the host's ffmpeg stands in).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildWorkerBundle } from '#enclave/build.js';
import { REPO_ROOT } from './services.js';

export const IMAGE_PATHS: readonly string[] = ['/app', '/env', '/spool', '/fspf.pb', '/entrypoint.sh', '/usr/bin/ffmpeg'];
/** Where the shim `node` lies in the root; the image's PATH puts it first. */
export const SHIM_DIR = '/usr/local/bin';
const NODE_SHIM = `${SHIM_DIR}/node`;

const IMAGE_PATH = new RegExp(`(^|[\\s"'=])(${IMAGE_PATHS.map((p) => p.replace(/[.]/g, '\\.')).join('|')})(?=$|[\\s"'/;])`, 'g');

/** Rewrites every image path in `text` (a path, a command line, a shell script) to lie under `root`. */
export function rooted(root: string, text: string): string {
  return text.replace(IMAGE_PATH, (_m, before: string, path: string) => `${before}${root}${path}`);
}

export interface ImageLayout {
  root: string;
  /** The image stage's ENV, image paths rooted. */
  env: Record<string, string>;
  /** The image stage's WORKDIR, rooted. */
  workdir: string;
  /** PATH inside the "container": the shim first, then the host's system directories. */
  path: string;
}

interface Stage {
  name: string;
  lines: string[];
}

function stagesOf(dockerfile: string): Stage[] {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+\s+AS\s+(\S+)$/.exec(line);
    if (from) stages.push({ name: from[1], lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

function stage(stages: Stage[], name: string): Stage {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile has no stage ${name}`);
  return found;
}

/** `ENV A=1 B=2` → {A: '1', B: '2'} (values without spaces or quotes, as the Dockerfile writes them). */
function envOf(lines: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines.filter((l) => l.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`unsupported ENV form: ${line}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

export interface LayoutOptions {
  /** The emulated runtime's own settings for each sconified program (local/scone-program.ts arguments). */
  nodeRuntimeArgs?: string[];
  ffmpegRuntimeArgs?: string[];
}

async function writeShim(root: string, imagePath: string, program: string, runtimeArgs: string[]): Promise<void> {
  const shim = join(root, imagePath);
  await mkdir(dirname(shim), { recursive: true });
  const script = join(REPO_ROOT, 'local', 'scone-program.ts');
  const words = [
    process.execPath,
    '--import',
    import.meta.resolve('tsx'),
    script,
    '--image-root',
    root,
    '--program',
    program,
    ...runtimeArgs,
    '--',
  ];
  const quoted = words.map((word) => `'${word}'`).join(' ');
  await writeFile(shim, `#!/bin/sh\n# the sconified ${program} of the image, emulated (local/scone-program.ts)\nexec ${quoted} "$@"\n`, {
    mode: 0o555,
  });
}

/** Lays out the image under `root` following the Dockerfile's `base` and `image` stages. */
export async function layOutImage(root: string, options: LayoutOptions = {}): Promise<ImageLayout> {
  const stages = stagesOf(await readFile(join(REPO_ROOT, 'enclave', 'Dockerfile'), 'utf8'));
  for (const line of [...stage(stages, 'base').lines, ...stage(stages, 'image').lines]) {
    const copy = /^COPY\s+(--from=(\S+)\s+)?(\S+)\s+(\S+)$/.exec(line);
    if (copy) await copyLine(root, copy[2], copy[3], copy[4], options);
    const mkdirs = /\bmkdir -p ((?:\/\S+\s*)+)/.exec(line);
    if (line.startsWith('RUN ') && mkdirs) {
      for (const dir of mkdirs[1].trim().split(/\s+/))
        if (rooted(root, dir) !== dir) await mkdir(rooted(root, dir), { recursive: true, mode: 0o700 });
    }
  }
  await writeShim(root, NODE_SHIM, 'node', options.nodeRuntimeArgs ?? []);
  const image = stage(stages, 'image');
  const env = Object.fromEntries(Object.entries(envOf(image.lines)).map(([k, v]) => [k, rooted(root, v)]));
  const workdir = /^WORKDIR\s+(\S+)$/.exec(image.lines.find((l) => l.startsWith('WORKDIR ')) ?? '')?.[1] ?? '/';
  return { root, env, workdir: rooted(root, workdir), path: `${join(root, SHIM_DIR)}:/usr/bin:/bin` };
}

async function copyLine(root: string, from: string | undefined, source: string, target: string, options: LayoutOptions): Promise<void> {
  if (from === 'ffmpeg' && source === '/usr/bin/ffmpeg' && target === '/usr/bin/ffmpeg') {
    await writeShim(root, target, target, options.ffmpegRuntimeArgs ?? []);
    return;
  }
  if (from === 'fspf') return; // no FSPF here
  if (from === undefined && source === 'dist/enclave/' && target === '/app/') {
    await buildWorkerBundle({ outDir: rooted(root, '/app') });
    return;
  }
  if (from === undefined && source === 'enclave/entrypoint.sh' && target === '/entrypoint.sh') {
    const path = rooted(root, target);
    await writeFile(path, rooted(root, await readFile(join(REPO_ROOT, source), 'utf8')));
    await chmod(path, 0o555);
    return;
  }
  throw new Error(`layOutImage does not know how to lay out: COPY ${from ? `--from=${from} ` : ''}${source} ${target}`);
}
